"""What the public may read (projections/public.py): the masking of private digits in free text
and of a person's name. The final-only rule and the rest are tested through the portal and its
downloads (tests/test_publik_*.py)."""

from __future__ import annotations

import re

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from projections.public import MASK, PaymentFilter, masked, payee

DIGITS = st.text(alphabet="0123456789", min_size=10, max_size=20)
WORDS = st.text(alphabet="abcdefghij ,:/-", max_size=20)


def _mask(text: str) -> str:
    return str(pl.select(masked(pl.lit(text))).item())


@given(before=WORDS, number=DIGITS, after=WORDS)
def test_no_run_of_ten_digits_survives(before: str, number: str, after: str) -> None:
    shown = _mask(f"{before}{number}{after}")
    assert re.search(r"[0-9]{10,}", shown) is None
    assert MASK in shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("NPWP 01.234.567.8-901.000 lunas", f"NPWP {MASK} lunas"),
        ("ke rek 1234567890 a.n. CV X", f"ke rek {MASK} a.n. CV X"),
        ("NIK 3273012345678901", f"NIK {MASK}"),
        ("Belanja Rp 1.250.000.000 tahap 2", "Belanja Rp 1.250.000.000 tahap 2"),
        ("SPP 000123/2026 tanggal 2026-03-15", "SPP 000123/2026 tanggal 2026-03-15"),
    ],
)
def test_private_digits_are_masked_and_amounts_kept(text: str, shown: str) -> None:
    assert _mask(text) == shown


def test_a_person_is_named_by_initials_and_a_company_in_full() -> None:
    frame = pl.DataFrame(
        {
            "name": ["Budi  Santoso", "PT Maju Jaya", "siti", None],
            "kind": ["individual", "company", "individual", "media"],
        }
    )
    assert frame.select(payee()).to_series().to_list() == ["B. S.", "PT Maju Jaya", "S.", ""]


@pytest.mark.parametrize(
    "bad",
    [{"month": 13}, {"month": 0}, {"jenis": "bank"}, {"status": "requested"}, {"cari": "x" * 101}],
)
def test_a_bad_filter_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        PaymentFilter(**bad)  # type: ignore[arg-type]
