"""Payout references derived from the disbursement, so that a retry can never create a second payout.

``ksd`` (Iris) or ``ksb`` (the BPD's bulk-transfer file) + base32 of the disbursement id (26
characters) + the two-digit transfer attempt (1 for the first transfer, 2 after a failed one was
re-sent, ...): 31 lower-case letters and digits, within Iris's reference format. The same
disbursement, channel and attempt always give the same reference, and a reference names its
disbursement, so a notification can be traced without any lookup table.
"""

from __future__ import annotations

import base64
import binascii
import re
from uuid import UUID

PREFIXES = {"iris": "ksd", "bank": "ksb"}
_CHANNELS = {prefix: channel for channel, prefix in PREFIXES.items()}
_PATTERN = re.compile(r"^(ksd|ksb)([a-z2-7]{26})([0-9]{2})$")
MAX_ATTEMPT = 99


def payout_reference(disbursement_id: UUID, attempt: int, channel: str = "iris") -> str:
    if not 1 <= attempt <= MAX_ATTEMPT:
        raise ValueError(f"transfer attempt must be 1..{MAX_ATTEMPT}, got {attempt}")
    encoded = base64.b32encode(disbursement_id.bytes).decode().rstrip("=").lower()
    return f"{PREFIXES[channel]}{encoded}{attempt:02d}"


def parse_reference(reference: str) -> tuple[UUID, int] | None:
    """The disbursement id and attempt a kasda reference names, or None for any other text."""
    match = _PATTERN.match(reference)
    if match is None:
        return None
    try:
        raw = base64.b32decode(match.group(2).upper() + "======")
    except binascii.Error:
        return None
    attempt = int(match.group(3))
    if len(raw) != 16 or attempt < 1:
        return None
    return UUID(bytes=raw), attempt


def reference_channel(reference: str) -> str | None:
    """``iris`` or ``bank`` for a kasda reference, None for any other text."""
    if parse_reference(reference) is None:
        return None
    return _CHANNELS[reference[:3]]


def beneficiary_alias(vendor_id: UUID) -> str:
    """The Iris beneficiary alias of a vendor (alphanumeric, 20 characters)."""
    return f"kasda{vendor_id.hex[:15]}"


# Kode bank (Bank Indonesia) -> Iris bank code, for the banks pemda vendors use most.
IRIS_BANKS: dict[str, str] = {
    "002": "bri",
    "008": "mandiri",
    "009": "bni",
    "011": "danamon",
    "013": "permata",
    "014": "bca",
    "016": "maybank",
    "022": "cimb",
    "110": "bjb",  # BPD Jawa Barat dan Banten
    "111": "dki",  # Bank DKI
    "112": "bpd_diy",
    "113": "jateng",
    "114": "jatim",
    "200": "btn",
    "213": "btpn",
    "427": "bni_syr",
    "451": "bsm",  # Bank Syariah Indonesia
}
# Iris bank code -> kode bank (BI): what a bank statement and the ledger write for a beneficiary.
BI_CODES: dict[str, str] = {iris: bi for bi, iris in IRIS_BANKS.items()}
