"""Validation of the plain-text fields that commands carry (explicit limits on every string)."""

from __future__ import annotations

import re
from typing import Any

from ledger.errors import InvalidInput

MAX_TEXT = 1_000
MAX_NAME = 200
MAX_NUMBER = 64
_PEMDA = re.compile(r"^[0-9]{2}(\.[0-9]{2}){0,1}$")
_DOC_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_\- ]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MIN_YEAR, MAX_YEAR = 2000, 2100


def text(value: Any, what: str, *, max_length: int = MAX_TEXT, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, got {type(value).__name__}")
    stripped: str = value.strip()
    if required and not stripped:
        raise InvalidInput(f"{what} must not be empty")
    if len(stripped) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters")
    if _CONTROL.search(stripped):
        raise InvalidInput(f"{what} contains control characters")
    return stripped


def pemda_code(value: Any) -> str:
    """Kemendagri region code: ``32`` (provinsi Jawa Barat) or ``32.73`` (Kota Bandung)."""
    if not isinstance(value, str) or not _PEMDA.fullmatch(value):
        raise InvalidInput(
            f"pemda must be a Kemendagri region code like '32' or '32.73', got {value!r}"
        )
    return value


def fiscal_year(value: Any) -> int:
    if type(value) is not int or not MIN_YEAR <= value <= MAX_YEAR:
        raise InvalidInput(
            f"fiscal year must be an integer in {MIN_YEAR}..{MAX_YEAR}, got {value!r}"
        )
    return value


def document_number(value: Any, what: str) -> str:
    number = text(value, what, max_length=MAX_NUMBER)
    if not _DOC_NUMBER.match(number):
        raise InvalidInput(
            f"{what} {number!r} may hold letters, digits, '.', '/', '_', '-' and spaces"
        )
    return number


def idempotency_key(value: Any) -> str:
    return text(value, "idempotency key", max_length=MAX_NUMBER * 2)
