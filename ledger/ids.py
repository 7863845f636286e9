"""Deterministic identities. A natural key always maps to the same aggregate id, so a second attempt
to create the same thing collides on the event store's unique (id, version) constraint instead of
creating a twin."""

from __future__ import annotations

from functools import lru_cache
from hashlib import sha1
from uuid import UUID, SafeUUID

KASDA_NAMESPACE = UUID("6f1c2b8e-3a5d-5c4e-9b7a-0d2e4f6a8c10")
_NAMESPACE_BYTES = KASDA_NAMESPACE.bytes
# uuid5 sets these bits of the SHA-1 (RFC 4122): the variant (10xx) and the version (0101).
_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_SET = (0x8000 << 48) | (5 << 76)
_new = object.__new__
_set = object.__setattr__


def key_id(*parts: object) -> UUID:
    """The id of the natural key ``parts``: ``uuid5`` of their text, joined by a unit separator."""
    return _uuid5("\x1f".join([str(p) for p in parts]))


@lru_cache(maxsize=65_536)
def _uuid5(name: str) -> UUID:
    """``uuid.uuid5(KASDA_NAMESPACE, name)``, the same value (tests/test_ids.py), about 3x faster
    (``UUID.__init__`` checks and converts what is known valid here), and remembered: a batch
    derives the same line, vendor and disbursement ids again and again (its reads, its handlers)."""
    digest = sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()  # noqa: S324 - RFC 4122 v5
    uuid = _new(UUID)
    _set(uuid, "int", (int.from_bytes(digest[:16]) & _CLEAR) | _SET)
    _set(uuid, "is_safe", SafeUUID.unknown)
    return uuid


def budget_id(pemda: str, year: int) -> UUID:
    return key_id("budget", pemda, year)


def budget_line_id(
    pemda: str, year: int, skpd: str, sub_kegiatan: str | None, rekening: str
) -> UUID:
    return key_id("line", pemda, year, skpd, sub_kegiatan or "-", rekening)


def cash_plan_id(pemda: str, year: int, skpd: str) -> UUID:
    return key_id("cash-plan", pemda, year, skpd)


def advance_id(pemda: str, year: int, skpd: str) -> UUID:
    return key_id("advance", pemda, year, skpd)


def advance_order_id(pemda: str, year: int, spp_number: str) -> UUID:
    return key_id("advance-order", pemda, year, spp_number)


def spj_id(pemda: str, year: int, skpd: str, spj_number: str) -> UUID:
    """The commitment an SPJ entry holds on its line and its SKPD's SPD."""
    return key_id("spj", pemda, year, skpd, spj_number)


def vendor_id(pemda: str, npwp: str) -> UUID:
    return key_id("vendor", pemda, npwp)


def disbursement_id(pemda: str, year: int, spp_number: str) -> UUID:
    return key_id("disbursement", pemda, year, spp_number)


def receipt_id(pemda: str, idempotency_key: str) -> UUID:
    return key_id("receipt", pemda, idempotency_key)


def document_number_id(pemda: str, year: int, kind: str, number: str) -> UUID:
    return key_id("document", pemda, year, kind, number)


def revenue_id(pemda: str, year: int, channel: str, reference: str) -> UUID:
    return key_id("revenue", pemda, year, channel, reference)


def reconciliation_run_id(pemda: str, business_date: str, inputs_digest: str) -> UUID:
    return key_id("reconciliation", pemda, business_date, inputs_digest)


def red_flag_run_id(
    pemda: str, position: int, as_of: str | None, thresholds_digest: str, rules: list[str]
) -> UUID:
    return key_id("redflag-run", pemda, position, as_of or "-", thresholds_digest, ",".join(rules))


def red_flag_id(pemda: str, flag_id: str) -> UUID:
    return key_id("redflag", pemda, flag_id)


def feed_subscription_id(pemda: str, name: str) -> UUID:
    """A system's subscription to the event feed (``ledger.feed``), by its name."""
    return key_id("feed-subscription", pemda, name)
