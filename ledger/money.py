"""Money is an integer number of rupiah. Nothing here accepts a float, a Decimal or a bool.

Explicit limits (TigerBeetle style): an amount a command names lies in 1..MAX_AMOUNT, and every total of
one APBD (its total pagu, a line's pagu grown by pergeseran, one movement of pagu) in 0..MAX_TOTAL. The
largest APBD in Indonesia (DKI Jakarta) is below Rp 100 trillion; MAX_AMOUNT leaves two orders of
magnitude of head-room, and MAX_TOTAL keeps every sum of a fiscal year far below 2**63, so totals are safe
in PostgreSQL BIGINT and Polars Int64. ``ledger.invariants`` asserts both on every write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.errors import InvalidAmount, InvalidInput, LimitExceeded

Rupiah = int

MAX_AMOUNT: Rupiah = 10**16  # Rp 10 quadrillion
MAX_TOTAL: Rupiah = 10**18  # 100 x MAX_AMOUNT; 2**63 is about 9.2 x 10**18
MAX_DEDUCTIONS = 16
BASIS_POINTS = 10_000


def require_rupiah(value: Any, what: str = "amount") -> Rupiah:
    """Return ``value`` if it is a whole, positive number of rupiah within limits, else raise."""
    # bool is a subclass of int: True must never pass as Rp 1.
    if type(value) is not int:
        raise InvalidAmount(
            f"{what} must be an integer number of rupiah, got {type(value).__name__} {value!r}"
        )
    if value <= 0:
        raise InvalidAmount(f"{what} must be greater than zero, got {value}")
    if value > MAX_AMOUNT:
        raise InvalidAmount(f"{what} {value} exceeds the limit of {MAX_AMOUNT}")
    return value


def require_non_negative_rupiah(value: Any, what: str = "amount") -> Rupiah:
    if type(value) is not int:
        raise InvalidAmount(
            f"{what} must be an integer number of rupiah, got {type(value).__name__} {value!r}"
        )
    if value < 0 or value > MAX_AMOUNT:
        raise InvalidAmount(f"{what} must lie in 0..{MAX_AMOUNT}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class Deduction:
    """A tax withheld from a gross payment (PPN, PPh 22, PPh 23, ...), owed to the state treasury."""

    code: str
    amount: Rupiah

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "amount": self.amount}


@dataclass(frozen=True, slots=True)
class TaxRate:
    """A withholding rate as data, in basis points (1.5% = 150), so a rate change is configuration."""

    code: str
    basis_points: int
    description: str = ""

    def withhold(self, base: Rupiah) -> Rupiah:
        """Tax on ``base``, rounded down to the whole rupiah (the taxpayer's favour, as DJP forms do)."""
        require_rupiah(base, f"{self.code} base")
        return base * self.basis_points // BASIS_POINTS


# Rates in force at the time of writing (primer): PPN 11%, PPh 22 1.5% (goods), PPh 23 2% (services).
DEFAULT_TAX_RATES: dict[str, TaxRate] = {
    "PPN": TaxRate("PPN", 1_100, "Pajak Pertambahan Nilai"),
    "PPH22": TaxRate("PPH22", 150, "PPh Pasal 22 (pengadaan barang)"),
    "PPH23": TaxRate("PPH23", 200, "PPh Pasal 23 (jasa, termasuk iklan/publikasi)"),
}

_DEDUCTION_CODE_MAX = 16


def parse_deductions(raw: Any, gross: Rupiah) -> tuple[Deduction, ...]:
    """Validate a list of deductions against a gross amount; net (gross - sum) must stay positive."""
    if raw is None:
        return ()
    if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__"):
        raise InvalidInput("deductions must be a list")
    items: list[Deduction] = []
    for item in raw:
        code: Any
        amount: Any
        if isinstance(item, Deduction):
            code, amount = item.code, item.amount
        elif isinstance(item, dict):
            code, amount = item.get("code"), item.get("amount")
        else:
            raise InvalidInput(f"a deduction must have a code and an amount, got {item!r}")
        if (
            not isinstance(code, str)
            or not code
            or len(code) > _DEDUCTION_CODE_MAX
            or not code.isascii()
            or not code.replace("_", "").isalnum()
            or not code.isupper()
        ):
            raise InvalidInput(f"deduction code must be an upper-case tax code, got {code!r}")
        items.append(Deduction(code, require_rupiah(amount, f"deduction {code}")))
    if len(items) > MAX_DEDUCTIONS:
        raise LimitExceeded(f"at most {MAX_DEDUCTIONS} deductions per payment, got {len(items)}")
    if len({d.code for d in items}) != len(items):
        raise InvalidInput("each tax code may be withheld once per payment")
    if sum(d.amount for d in items) >= gross:
        raise InvalidAmount("deductions must leave a net transfer greater than zero")
    return tuple(items)


def withholdings(
    gross: Rupiah, codes: list[str], rates: dict[str, TaxRate] | None = None
) -> tuple[Deduction, ...]:
    """Compute deductions on ``gross`` for the given tax codes from a rate table (data, not code)."""
    table = DEFAULT_TAX_RATES if rates is None else rates
    out = []
    for code in codes:
        if code not in table:
            raise InvalidInput(f"unknown tax code {code!r}")
        amount = table[code].withhold(gross)
        if amount > 0:
            out.append(Deduction(code, amount))
    return tuple(out)


def withholdings_on_gross(
    gross: Rupiah, codes: list[str], rates: dict[str, TaxRate] | None = None
) -> tuple[Deduction, ...]:
    """Deductions on a gross that includes PPN when PPN is among ``codes`` (a contract's price):
    every tax is levied on the tax base (DPP) = gross x 100 / (100 + PPN rate)."""
    table = DEFAULT_TAX_RATES if rates is None else rates
    base = gross
    if "PPN" in codes and "PPN" in table:
        base = tax_base(gross, table["PPN"].basis_points)
    return withholdings(base, codes, table)


def tax_base(gross: Rupiah, ppn_basis_points: int) -> Rupiah:
    """The tax base (DPP) of a gross that includes PPN at ``ppn_basis_points``: gross x 100 /
    (100 + rate), rounded down. ``withholdings_on_gross`` levies every tax on it, and the tax
    reports (``projections.tax``) recover it from a payment's recorded gross and PPN."""
    return gross * BASIS_POINTS // (BASIS_POINTS + ppn_basis_points)
