"""Midtrans signatures, computed and checked on the exact strings and bytes received."""

from __future__ import annotations

import hashlib
import hmac


def payment_signature(order_id: str, status_code: str, gross_amount: str, server_key: str) -> str:
    """``sha512(order_id + status_code + gross_amount + server_key)``, hex."""
    raw = f"{order_id}{status_code}{gross_amount}{server_key}".encode()
    return hashlib.sha512(raw).hexdigest()


def iris_signature(raw_body: bytes, merchant_key: str) -> str:
    """``Iris-Signature = sha512(raw_body + merchant_key)``, hex, over the bytes before parsing."""
    return hashlib.sha512(raw_body + merchant_key.encode()).hexdigest()


def same(expected: str, given: str) -> bool:
    """Constant-time comparison (lower-case hex)."""
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())
