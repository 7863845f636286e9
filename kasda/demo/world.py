"""The objects of the plan (SKPD, lines, vendors), the times of day, the scheduled actions, the
simulated clock and the report of a build; number formats shared with the reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from kasda.demo.chart import Rekening
from kasda.demo.pemda import HOLIDAYS, PEMDA, YEAR, SkpdSpec
from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.errors import DomainError
from ledger.roles import Actor
from ledger.vendor import VendorKind

if TYPE_CHECKING:
    from kasda.demo.lifecycle import Lifecycle
    from kasda.demo.redflags import FlagReport


class Slot:
    """Times of day at which the ledger's commands arrive, in order. One batch per day and slot."""

    ADMIN, REQUEST, VERIFY, SPM, SP2D, SEND, BANK = range(7)
    TIMES = ((8, 0), (9, 0), (10, 30), (13, 0), (14, 0), (15, 0), (16, 30))


def working_days(year: int) -> list[date]:
    day, out = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5 and day not in HOLIDAYS:
            out.append(day)
        day += timedelta(days=1)
    return out


def million_up(amount: int) -> int:
    return -(-amount // 1_000_000) * 1_000_000


def million_down(amount: int) -> int:
    return amount // 1_000_000 * 1_000_000


def rupiah(amount: int) -> str:
    """Rp 1.234.567 (Indonesian thousands separator)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp {abs(amount):,}".replace(",", ".")


def count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


# -- the plan --------------------------------------------------------------------------------------
@dataclass(eq=False)
class Skpd:
    spec: SkpdSpec
    pptk: list[Actor]
    bendahara: Actor
    ppk: list[Actor]
    pa: list[Actor]
    spp_seq: int = 0
    spm_seq: int = 0
    contract_seq: int = 0

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def short(self) -> str:
        return self.spec.short


@dataclass(eq=False)
class Line:
    skpd: Skpd
    sub_kegiatan: str | None
    sub_kegiatan_name: str
    code: str  # kode rekening
    uraian: str
    rekening: Rekening | None  # None: an income line
    pptk: Actor
    pagu: int = 0  # as adopted (or as added by the APBD-P)
    planned: list[Lifecycle] = field(default_factory=list)
    special: str = ""  # blocked, shift_from, shift_to, raised, cut, new

    @property
    def ref(self) -> c.LineRef:
        return c.LineRef(skpd=self.skpd.code, sub_kegiatan=self.sub_kegiatan, rekening=self.code)

    @property
    def id(self) -> UUID:
        return ids.budget_line_id(PEMDA, YEAR, self.skpd.code, self.sub_kegiatan, self.code)

    @property
    def category(self) -> str:
        assert self.rekening is not None, "an income line pays no vendor"
        return self.rekening.category

    def spec(self, pagu: int) -> c.LineSpec:
        return c.LineSpec(
            skpd=self.skpd.code,
            sub_kegiatan=self.sub_kegiatan,
            rekening=self.code,
            uraian=self.uraian,
            pagu=pagu,
        )

    @property
    def planned_gross(self) -> int:
        return sum(lc.gross for lc in self.planned)

    @property
    def slack(self) -> int:
        """Pagu that no planned payment will ever use."""
        return self.pagu - self.planned_gross


@dataclass(eq=False)
class Vendor:
    name: str
    category: str
    npwp: str
    bank_code: str
    account: str

    @property
    def kind(self) -> str:
        return VendorKind.MEDIA.value if self.category == "media" else VendorKind.COMPANY.value


Build = Callable[[Ledger, str], c.Command]
Expect = type[DomainError] | str | None  # None: accepted; "replay": an idempotent retry


@dataclass
class Action:
    day: int
    slot: int
    seq: int
    key: str
    build: Build
    expect: Expect = None
    at: datetime | None = (
        None  # a moment off the timetable (a night, a Sunday), after the slot's batch
    )


class SimulatedClock:
    """The ledger's clock: whatever time the demo has walked to."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class BuildReport:
    commands: int = 0
    batches: int = 0
    replays: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    payouts: Counter[str] = field(default_factory=Counter)  # outcome at the gateway -> count
    blocked: int = 0  # payouts the payout service refused to send, as planned
    receipts: int = 0  # income billed, paid and collected at the gateway simulator
    files: list[Path] = field(default_factory=list)  # the gateway's and the bank's daily files
    redflags: FlagReport | None = None  # the red-flag run recorded at the end of the year
    year_end: str = ""  # what the close of the year did (``yearend``)
    kkpd: str = ""  # what the KKPD statement's reconciliation found (``kkpd``)


class DemoError(RuntimeError):
    """The ledger answered a demo command differently from the plan: a bug here or in the ledger."""
