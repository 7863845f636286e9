"""Secrets, pull tokens and signatures of the event feed.

Nothing secret is stored: a subscriber's secret is ``HMAC-SHA256(feed key, "secret|<id>|<rotation>")``
and its pull token ``<id>.`` + ``HMAC-SHA256(feed key, "pull|<id>|<rotation>")`` (hex), computed
again whenever needed from the server's feed key (``KASDA_FEED_KEY``) and the subscription's id and
rotation counter (a ledger fact). Rotating bumps the counter: the old secret and token stop working
at once. Changing the feed key changes every subscriber's.

A delivery is signed over ``<timestamp>.<body>`` (the body's exact bytes) with the subscriber's
secret: ``X-Kasda-Signature: sha256=<hex>``, the timestamp (Unix seconds) in ``X-Kasda-Timestamp``.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Kasda-Timestamp"
SIGNATURE_HEADER = "X-Kasda-Signature"


def _mac(key: str | bytes, message: bytes) -> str:
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, message, hashlib.sha256).hexdigest()


def secret(feed_key: str, subscription_id: str, rotation: int) -> str:
    """The subscriber's signing secret (64 hex digits)."""
    return _mac(feed_key, f"secret|{subscription_id}|{rotation}".encode())


def pull_token(feed_key: str, subscription_id: str, rotation: int) -> str:
    """The subscriber's bearer token for pulling the feed: its id, a dot, 64 hex digits."""
    return f"{subscription_id}.{_mac(feed_key, f'pull|{subscription_id}|{rotation}'.encode())}"


def token_subscription(token: str) -> str | None:
    """The subscription a pull token names (not yet checked), or None if it is not one."""
    head, dot, mac = token.partition(".")
    if not dot or len(mac) != 64 or len(head) != 36:
        return None
    return head


def token_valid(feed_key: str, token: str, rotation: int) -> bool:
    subscription_id = token_subscription(token)
    if subscription_id is None:
        return False
    return hmac.compare_digest(token, pull_token(feed_key, subscription_id, rotation))


def signature(secret_: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``."""
    return "sha256=" + _mac(secret_, timestamp.encode() + b"." + body)


def signature_valid(secret_: str, timestamp: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret_, timestamp, body), header)
