"""The event feed's settings; ``kasda/settings.py`` builds them from the environment."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from ledger.errors import InvalidInput

DEFAULT_TIMEOUT = 5.0  # seconds for each delivery (connect, send, each read)
DEFAULT_MAX_ATTEMPTS = 8  # then the event is a dead letter
DEFAULT_BACKOFF = 1.0  # seconds before the second attempt; doubles each time, jittered
DEFAULT_BACKOFF_MAX = 300.0  # the longest wait between two attempts
DEFAULT_INTERVAL = 1.0  # seconds between the dispatcher's looks at the feed
BATCH = 20  # events one subscriber is sent in one go (one after the other)
MIN_KEY_BYTES = 32


@dataclass(frozen=True, kw_only=True)
class FeedSettings:
    key: str  # the server's feed key: every subscriber's secret and pull token derive from it
    timeout: float = DEFAULT_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF
    backoff_max: float = DEFAULT_BACKOFF_MAX
    interval: float = DEFAULT_INTERVAL
    dispatch: bool = True  # the API process runs the dispatcher (one per store, by lease)
    batch: int = BATCH

    def __post_init__(self) -> None:
        if len(self.key.encode()) < MIN_KEY_BYTES:
            raise InvalidInput(f"KASDA_FEED_KEY must have at least {MIN_KEY_BYTES} bytes")
        if not 0 < self.timeout <= 60:
            raise InvalidInput(f"KASDA_FEED_TIMEOUT must be in (0, 60] seconds, got {self.timeout}")
        if not 1 <= self.max_attempts <= 100:
            raise InvalidInput(f"KASDA_FEED_MAX_ATTEMPTS must be 1..100, got {self.max_attempts}")
        if not 0 < self.backoff <= self.backoff_max <= 86_400:
            raise InvalidInput(
                "KASDA_FEED_BACKOFF must be positive and at most KASDA_FEED_BACKOFF_MAX "
                f"(at most a day), got {self.backoff} and {self.backoff_max}"
            )
        if not 0 < self.interval <= 60:
            raise InvalidInput(f"the dispatcher's interval must be in (0, 60], got {self.interval}")


def derived_feed_key(jwt_secret: str) -> str:
    """A feed key of its own, derived from the local JWT secret (when ``KASDA_FEED_KEY`` is unset):
    no subscriber's secret or pull token is ever a valid API token, nor the other way round."""
    return hmac.new(jwt_secret.encode(), b"kasda event feed", hashlib.sha256).hexdigest()
