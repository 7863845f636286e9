"""Validation of the plain-text fields that commands carry (explicit limits on every string).

This is the one home of the text rules; the API and the CLI rely on it (a refusal here is an
``InvalidInput``, which the API answers 422 and the CLI prints with a non-zero exit):

* every text is a ``str`` without lone surrogates (they cannot be encoded, so they could never be
  stored) and without control characters, bidirectional embeddings, overrides or isolates (which
  make a text read differently from what it is);
* names, numbers and references (``name``, ``document_number``, ``idempotency_key``) are stricter:
  no invisible "format" character at all (zero-width spaces and joiners, the byte-order mark, soft
  hyphens, bidi marks), no private-use or line and paragraph separators: two names that look the
  same are the same;
* every text is kept in Unicode normal form NFC, so "é" typed precomposed or as "e" + accent is one
  name.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from ledger.errors import InvalidInput

MAX_TEXT = 1_000
MAX_NAME = 200
MAX_NUMBER = 64
_PEMDA = re.compile(r"[0-9]{2}(\.[0-9]{2})?")
_DOC_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9./_\- ]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MIN_YEAR, MAX_YEAR = 2000, 2100

# Characters no text may hold (outside ASCII): C1 controls, lone surrogates, bidi embeddings,
# overrides and isolates (the "Trojan Source" characters).
_NEVER = re.compile(r"[\x80-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# Unicode categories no name, number or reference may hold: controls, format characters (zero
# width, bidi marks, BOM, soft hyphen), surrogates, private use, line and paragraph separators.
_NOT_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def _checked(value: Any, what: str, max_length: int, required: bool, strict: bool) -> str:
    if value is None and not required:
        return ""
    stripped = _stripped(value, what, max_length, required)
    if stripped.isascii():
        return stripped
    return _unicode(stripped, what, max_length, strict)


def _stripped(value: Any, what: str, max_length: int, required: bool) -> str:
    """``value`` stripped: text, not empty if required, bounded, without control characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, got {type(value).__name__}")
    stripped: str = value.strip()
    if required and not stripped:
        raise InvalidInput(f"{what} must not be empty")
    # Bounded before any per-character work: a huge text costs nothing more than its length check.
    if len(stripped) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters")
    if _CONTROL.search(stripped):
        raise InvalidInput(f"{what} contains control characters")
    return stripped


def _unicode(stripped: str, what: str, max_length: int, strict: bool) -> str:
    """A text beyond ASCII: none of the characters no text may hold (and, ``strict``, nothing
    invisible), in NFC."""
    found = _NEVER.search(stripped)
    if found:
        raise InvalidInput(f"{what} contains the character U+{ord(found.group()):04X}")
    if strict:
        for char in stripped:
            if unicodedata.category(char) in _NOT_IN_NAMES:
                raise InvalidInput(f"{what} contains the invisible character U+{ord(char):04X}")
    normal = unicodedata.normalize("NFC", stripped)
    if len(normal) > max_length:  # NFC composes, so this is rare; checked all the same
        raise InvalidInput(f"{what} is longer than {max_length} characters")
    return normal


def text(value: Any, what: str, *, max_length: int = MAX_TEXT, required: bool = True) -> str:
    """Free text (a reason, a description): stripped, NFC, without control or bidi characters."""
    return _checked(value, what, max_length, required, strict=False)


def name(value: Any, what: str, *, max_length: int = MAX_NAME, required: bool = True) -> str:
    """A name, code or reference people compare by eye: ``text`` without invisible characters."""
    return _checked(value, what, max_length, required, strict=True)


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
    number = name(value, what, max_length=MAX_NUMBER)
    if not _DOC_NUMBER.fullmatch(number):
        raise InvalidInput(
            f"{what} {number!r} may hold letters, digits, '.', '/', '_', '-' and spaces"
        )
    return number


def idempotency_key(value: Any) -> str:
    return name(value, "idempotency key", max_length=MAX_NUMBER * 2)


def iso_date(value: Any, what: str) -> date:
    """A calendar day written as an ISO date (YYYY-MM-DD), nothing else."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(f"{what} must be an ISO date (YYYY-MM-DD), got {value!r}")
