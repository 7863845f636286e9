"""The taxes withheld from payments, per vendor, month and tax: what the Kuasa BUD reports to the
tax office (e-Bupot Unifikasi for PPh 22, 23, 4(2) and 15; PPN in the SPT Masa PPN) and deposits
by the 10th of the next month.

A payment is recorded gross, with the taxes withheld from it (``deduction_detail`` of
``proj_payment``: each ``code`` and ``amount``, integer rupiah, ``ledger.money.Deduction``), and
the vendor is paid the net. A withholding counts once the SP2D is authorised: that is when
``Disbursement.Authorised`` posts the taxes to ``taxes_payable`` (``ledger.postings``), and it
counts in the month of its SP2D (in the pemda's time zone, the read models' own). It stays counted
whatever the transfer does afterwards (``WITHHELD``): a failed or returned transfer moves only
the vendor's net, the SP2D stands and is paid again; only a cancelled SP2D (``Cancelled``
reverses ``Authorised``) takes its taxes back out, and a request never authorised (requested,
verified, approved, rejected, lapsed) withheld nothing.

The ledger records each tax's amount, not its base or rate: both are recovered from the recorded
figures by the rule every withholding was computed with (``ledger.money.withholdings_on_gross``):
with PPN withheld, the base (DPP) is ``tax_base(gross, PPN rate)`` and the PPN rate is the one that
gives the recorded PPN on it; without PPN the base is the gross. A tax's rate is the whole number
of basis points that gives its recorded amount on that base (``implied_rate``); an amount no rate
gives (typed by hand through the API, say) has no rate (``None``), and the reports say so.

NPWP and names are shown in full: this is for the tax office, behind sign-in (BPKAD, Kuasa BUD,
auditor), never public (``projections.public`` has no NPWP at all).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ledger.errors import InvalidInput
from ledger.fields import MAX_YEAR, MIN_YEAR
from ledger.money import BASIS_POINTS, tax_base
from ledger.steps import Status
from projections import queries as q
from projections.db import ReadDatabase
from projections.runner import DEFAULT_TIMEZONE
from projections.runner import NAME as PROJECTION

# The statuses in which a payment's SP2D stands, so its taxes are withheld and owed.
WITHHELD = (
    Status.AUTHORISED.value,
    Status.SENT.value,
    Status.SETTLED.value,
    Status.FAILED.value,
    Status.RETURNED.value,
)
# How the taxes are called on screen and in files (the ledger keeps the codes, ``ledger.money``).
TAX_NAMES = {"PPN": "PPN", "PPH21": "PPh 21", "PPH22": "PPh 22", "PPH23": "PPh 23",
             "PPH4_2": "PPh Pasal 4 ayat (2)", "PPH15": "PPh 15"}  # fmt: skip

_ROW = (
    "p.disbursement_id", "p.spp_number", "p.sp2d_number", "p.status", "p.authorised_at",
    "p.gross", "p.deduction_detail", "p.vendor_id", "v.npwp_sealed", "v.name", "v.kind",
    "l.skpd", "l.rekening",
)  # fmt: skip
_NAMES = tuple(c.rsplit(".", 1)[-1] for c in _ROW)


def tax_name(code: str) -> str:
    return TAX_NAMES.get(code, code)


def implied_rate(amount: int, base: int) -> int | None:
    """The rate in basis points at which ``base`` gives ``amount`` rounded down (as
    ``TaxRate.withhold`` computes it): the smallest such, or None if no whole rate does."""
    if base <= 0 or amount <= 0:
        return None
    rate = -(-amount * BASIS_POINTS // base)  # the smallest rate reaching the amount
    return rate if base * rate // BASIS_POINTS == amount else None


def base_of(gross: int, ppn: int | None) -> int:
    """The tax base (DPP) of a payment: its gross, or without the PPN it includes (the base
    ``ledger.money.tax_base`` gives at the PPN rate that yields the recorded PPN on it; the gross
    less the PPN if no rate does)."""
    if ppn is None:
        return gross
    if ppn >= gross:
        return 0
    # The rate to within a basis point or two for any base above Rp 100.000 (the PPN rounded
    # down makes the guess low by at most 2 x 10^4 / base basis points).
    guess = ppn * BASIS_POINTS // (gross - ppn)
    for rate in range(max(guess - 3, 1), guess + 4):
        base = tax_base(gross, rate)
        if base * rate // BASIS_POINTS == ppn:
            return base
    return gross - ppn


@dataclass(frozen=True, slots=True)
class Withholding:
    """One tax withheld from one payment."""

    disbursement_id: str
    spp_number: str
    sp2d_number: str
    sp2d_day: date  # the SP2D's day in the pemda's time zone
    status: str
    vendor_id: str
    npwp: str
    vendor_name: str
    vendor_kind: str
    skpd: str
    rekening: str
    code: str
    gross: int
    base: int  # DPP
    rate_bp: int | None
    amount: int


@dataclass(frozen=True, slots=True)
class VendorTax:
    """The month's withholdings of one tax (at one rate) from one vendor."""

    npwp: str
    vendor_name: str
    vendor_kind: str
    code: str
    rate_bp: int | None
    base: int
    amount: int
    payments: tuple[Withholding, ...]

    @property
    def last_day(self) -> date:
        return max(w.sp2d_day for w in self.payments)


@dataclass(frozen=True)
class TaxMonth:
    """The taxes withheld in one month of a pemda, and the log position they were read at."""

    pemda: str
    year: int
    month: int
    position: int
    timezone: str
    withholdings: list[Withholding] = field(default_factory=list)

    def by_vendor(self) -> list[VendorTax]:
        """Per vendor, tax and rate: the base, the amount and the payments, by vendor and tax."""
        groups: dict[tuple[str, str, str, int | None], list[Withholding]] = defaultdict(list)
        for w in self.withholdings:
            groups[(w.npwp, w.vendor_id, w.code, w.rate_bp)].append(w)
        found = [
            VendorTax(
                npwp=npwp,
                vendor_name=items[0].vendor_name,
                vendor_kind=items[0].vendor_kind,
                code=code,
                rate_bp=rate,
                base=sum(w.base for w in items),
                amount=sum(w.amount for w in items),
                payments=tuple(items),
            )
            for (npwp, _, code, rate), items in groups.items()
        ]
        return sorted(found, key=lambda t: (t.vendor_name, t.npwp, t.code, t.rate_bp or 0))

    def totals(self) -> dict[str, int]:
        """The amount withheld per tax code."""
        sums: dict[str, int] = defaultdict(int)
        for w in self.withholdings:
            sums[w.code] += w.amount
        return dict(sorted(sums.items()))


def check_period(year: int, month: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"year must lie in {MIN_YEAR}..{MAX_YEAR}, got {year}")
    if not 1 <= month <= 12:
        raise InvalidInput(f"month must lie in 1..12, got {month}")


def _bounds(year: int, month: int, zone: str) -> tuple[str, str]:
    """The month as the UTC texts the read models stamp moments with: [first, next first)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(date(year, month, 1), time(), tz)
    following = date(year + month // 12, month % 12 + 1, 1)
    end = datetime.combine(following, time(), tz)
    return q.stamp(start), q.stamp(end)


def withheld(db: ReadDatabase, pemda: str, year: int, month: int) -> TaxMonth:
    """Every tax withheld from the payments of ``pemda`` whose SP2D was authorised in ``month`` of
    ``year`` (in the pemda's time zone) and stands (``WITHHELD``), in SP2D order, with the log
    position read in the same transaction. ``InvalidInput`` for a year or month out of range."""
    check_period(year, month)
    marks = ", ".join("?" * len(WITHHELD))
    with db.transaction(write=False) as cursor:
        found = cursor.fetchone("SELECT timezone FROM proj_position WHERE name = ?", (PROJECTION,))
        zone = DEFAULT_TIMEZONE if found is None else str(found[0])
        start, end = _bounds(year, month, zone)
        rows = cursor.fetchall(
            f"SELECT {', '.join(_ROW)} FROM proj_payment p"  # noqa: S608
            " LEFT JOIN proj_vendor v ON v.vendor_id = p.vendor_id"
            " LEFT JOIN proj_lra_line l ON l.line_id = p.line_id"
            f" WHERE p.pemda = ? AND p.status IN ({marks})"
            " AND p.authorised_at >= ? AND p.authorised_at < ?"
            " ORDER BY p.authorised_at, p.position",
            (pemda, *WITHHELD, start, end),
        )
        at = q.position_in(cursor)
    tz = ZoneInfo(zone)
    taxes: list[Withholding] = []
    for row in db.sealer.opened(_NAMES, rows):
        taxes.extend(_withholdings(row, tz))
    return TaxMonth(pemda, year, month, at, zone, taxes)


def _withholdings(row: dict[str, Any], tz: ZoneInfo) -> list[Withholding]:
    deductions = {d["code"]: int(d["amount"]) for d in json.loads(row["deduction_detail"])}
    gross = int(row["gross"])
    base = base_of(gross, deductions.get("PPN"))
    day = datetime.fromisoformat(row["authorised_at"]).astimezone(tz).date()
    return [
        Withholding(
            disbursement_id=row["disbursement_id"],
            spp_number=row["spp_number"],
            sp2d_number=row["sp2d_number"] or "",
            sp2d_day=day,
            status=row["status"],
            vendor_id=row["vendor_id"],
            npwp=row["npwp_sealed"] or "",
            vendor_name=row["name"] or "",
            vendor_kind=row["kind"] or "",
            skpd=row["skpd"] or "",
            rekening=row["rekening"] or "",
            code=code,
            gross=gross,
            base=base,
            rate_bp=implied_rate(amount, base),
            amount=amount,
        )
        for code, amount in sorted(deductions.items())
    ]
