"""Tutup tahun: closing one fiscal year and opening the next (Permendagri 77/2020).

One command (``CloseYear``, by the PPKD), all or nothing:

    1. every precondition in ``PRECONDITIONS`` holds (a tuple of small checks, so that one more
       rule of year end is one more function);
    2. every open commitment (an SPP requested, verified or approved, without its SP2D) lapses:
       the line's commitment and the SPD charge are released, the disbursement is ``lapsed``;
    3. the commitments named for carry-over (LS under a contract, see ``carry_over_problem``) lapse
       too, so the closed year's LRA holds only what was paid, and their amount joins the same line
       of the next APBD (created if that APBD lacks it) as a DPAL carry-over;
    4. SiLPA = (pendapatan + penerimaan pembiayaan) - (belanja + pengeluaran pembiayaan), each as
       realised on the year's lines, is recorded on the closed Budget with the final totals, and
       (when positive) received by the next year on its penggunaan SiLPA line (6.1.01);
    5. the Budget, every line and every SPD register of the year are closed, so that each of them
       refuses any later change itself (``YearClosed``): a command racing the close on a line
       conflicts with it on that line's version, and is then refused when it is retried.

docs/penatausahaan.md ("Tutup tahun") gives each rule and its source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ledger import commands as c
from ledger import ids, roles
from ledger.advance import Advance
from ledger.budget import Budget, BudgetLine
from ledger.cashplan import CashPlan
from ledger.codes import (
    AKUN_BELANJA,
    AKUN_PENDAPATAN,
    PENERIMAAN_PEMBIAYAAN,
    PENGELUARAN_PEMBIAYAAN,
    SILPA_JENIS,
)
from ledger.disbursement import Disbursement
from ledger.errors import (
    AdvanceRule,
    BudgetNotOpen,
    InvalidInput,
    LimitExceeded,
    NotFound,
    YearClosed,
)
from ledger.fields import document_number, fiscal_year
from ledger.handlers import Loaded, Result, handles, line_id_of
from ledger.money import MAX_TOTAL
from ledger.stamp import Stamp
from ledger.unit_of_work import UnitOfWork

MAX_CARRY_OVER = 1_000
# Supporting documents that show an LS payment is made under a contract (kontrak / SPK).
CONTRACT_DOCUMENTS = frozenset({"kontrak", "contract", "spk"})


@dataclass
class YearEnd:
    """What the close of one year reads: its APBD and lines, the payments still committed on them,
    its SKPDs' SPD registers, and the next year's APBD (with the lines it will receive)."""

    pemda: str
    year: int
    budget: Budget
    lines: list[BudgetLine]
    commitments: dict[str, Disbursement]
    plans: list[CashPlan]
    next_budget: Budget | None
    carry: list[UUID]
    silpa_line: BudgetLine | None
    silpa_named: bool
    next_lines: dict[UUID, BudgetLine] = field(default_factory=dict)
    advances: list[Advance] = field(default_factory=list)


@dataclass(frozen=True)
class Figures:
    """The closed year's realisation by akun, and its SiLPA (negative: SiKPA)."""

    pendapatan: int
    penerimaan_pembiayaan: int
    belanja: int
    pengeluaran_pembiayaan: int

    @property
    def silpa(self) -> int:
        return (self.pendapatan + self.penerimaan_pembiayaan) - (
            self.belanja + self.pengeluaran_pembiayaan
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "pendapatan": self.pendapatan,
            "penerimaan_pembiayaan": self.penerimaan_pembiayaan,
            "belanja": self.belanja,
            "pengeluaran_pembiayaan": self.pengeluaran_pembiayaan,
            "silpa": self.silpa,
        }


def figures_of(lines: Iterable[BudgetLine]) -> Figures:
    """Realisation by akun: income as received (gross, less reversals, with the SiLPA received from
    the year before), spending as realised at SP2D."""
    totals = dict.fromkeys(("4", "6.1", "5", "6.2"), 0)
    for line in lines:
        if line.rekening.startswith(AKUN_PENDAPATAN):
            totals["4"] += line.income
        elif line.rekening.startswith(PENERIMAAN_PEMBIAYAAN):
            totals["6.1"] += line.income + line.silpa_received
        elif line.rekening.startswith(AKUN_BELANJA):
            totals["5"] += line.realised
        elif line.rekening.startswith(PENGELUARAN_PEMBIAYAAN):
            totals["6.2"] += line.realised
    return Figures(totals["4"], totals["6.1"], totals["5"], totals["6.2"])


def carry_over_problem(d: Disbursement) -> str | None:
    """Why the commitment ``d`` may not continue next year, or None. Permendagri 77/2020 lets work
    under a contract that is not finished by year end continue through a DPAL: so only an LS payment
    to a vendor that names its contract (kontrak / SPK) and is still awaiting its SP2D."""
    if not d.commitment_open:
        return f"SPP {d.spp_number} is {d.status}: only a payment awaiting its SP2D carries over"
    if not CONTRACT_DOCUMENTS & {kind.lower() for kind in d.documents}:
        return f"SPP {d.spp_number} names no contract (kontrak / SPK): it lapses, it cannot carry"
    return None


# -- preconditions: each raises a DomainError, or lets the close go on --------------------------
Precondition = Callable[[YearEnd, Figures], None]


def _year_open(state: YearEnd, _: Figures) -> None:
    state.budget.check_open("close")


def _next_year_adopted(state: YearEnd, _: Figures) -> None:
    """The next APBD is adopted before the year closes (Perda APBD by 31 December, PP 12/2019)."""
    nxt = state.next_budget
    if nxt is None:
        raise BudgetNotOpen(
            f"APBD {state.year + 1} is not adopted: adopt it before closing {state.year}"
        )
    nxt.check_open("open")
    if nxt.opened_from is not None:
        raise YearClosed(f"APBD {nxt.year} was already opened from {nxt.opened_from}")


def _advances_settled(state: YearEnd, _: Figures) -> None:
    """Every bendahara's advance is settled by 31 December (Permendagri 77/2020): what is left of
    the UP/TU returned to the RKUD (setoran), the last SPJ accounted for by GU nihil, every card
    bill paid and every advance order through its SP2D."""
    for advance in state.advances:
        if advance.outstanding:
            raise AdvanceRule(
                f"SKPD {advance.skpd}: its advance is not settled (cash {advance.cash}, SPJ awaiting "
                f"GU {advance.accounted}, owed on cards {advance.owed_on_cards}, GU or UP under way "
                f"{advance.replenishing + advance.up_requested}); return it and account for the "
                "last SPJ (GU nihil) before closing the year"
            )


def _commitments_are_payments(state: YearEnd, _: Figures) -> None:
    for line in state.lines:
        for commitment in line.open_commitments:
            if commitment not in state.commitments:
                raise InvalidInput(
                    f"line {line.key}: commitment {commitment} is not an SPP; settle it first"
                )


def _carry_overs_allowed(state: YearEnd, _: Figures) -> None:
    for disbursement_id in state.carry:
        d = state.commitments.get(str(disbursement_id))
        if d is None:
            raise InvalidInput(
                f"disbursement {disbursement_id} holds no open commitment of {state.year}"
            )
        problem = carry_over_problem(d)
        if problem is not None:
            raise InvalidInput(problem)
    carried = sum(state.commitments[str(i)].gross for i in state.carry)
    if state.next_budget is not None and state.next_budget.total_pagu + carried > MAX_TOTAL:
        raise LimitExceeded(f"APBD {state.year + 1} with carry-over would exceed {MAX_TOTAL}")


def _silpa_line_ready(state: YearEnd, figures: Figures) -> None:
    if figures.silpa <= 0:
        return  # SiKPA or nil: nothing is received; the next APBD covers a deficit itself
    line = state.silpa_line
    if line is None and state.silpa_named:
        raise NotFound(f"APBD {state.year + 1} has no such SiLPA line ({SILPA_JENIS}.x)")
    if line is None:
        raise InvalidInput(
            f"SiLPA {figures.silpa}: name the APBD {state.year + 1} line ({SILPA_JENIS}.x) that "
            "receives it (penggunaan SiLPA)"
        )
    line.check_income()
    if not line.rekening.startswith(SILPA_JENIS):
        raise InvalidInput(f"line {line.key} is not a SiLPA line ({SILPA_JENIS}.x)")


PRECONDITIONS: tuple[Precondition, ...] = (
    _year_open,
    _next_year_adopted,
    _advances_settled,
    _commitments_are_payments,
    _carry_overs_allowed,
    _silpa_line_ready,
)


# -- reading -----------------------------------------------------------------------------------
def _years(cmd: c.CloseYear) -> tuple[int, int]:
    year = fiscal_year(cmd.year)
    return year, fiscal_year(year + 1)


def _silpa_line_id(cmd: c.CloseYear) -> UUID | None:
    return None if cmd.silpa_line is None else line_id_of(cmd.pemda, _years(cmd)[1], cmd.silpa_line)


def _budgets(cmd: c.CloseYear, _: Loaded) -> list[UUID]:
    year, nxt = _years(cmd)
    silpa = _silpa_line_id(cmd)
    found = [ids.budget_id(cmd.pemda, year), ids.budget_id(cmd.pemda, nxt)]
    return found if silpa is None else [*found, silpa]


def _lines(cmd: c.CloseYear, loaded: Loaded) -> list[UUID]:
    budget = loaded(ids.budget_id(cmd.pemda, _years(cmd)[0]))
    return [UUID(i) for i in budget.line_ids] if isinstance(budget, Budget) else []


def _commitments_and_plans(cmd: c.CloseYear, loaded: Loaded) -> list[UUID]:
    year = _years(cmd)[0]
    lines = [line for i in _lines(cmd, loaded) if isinstance(line := loaded(i), BudgetLine)]
    found = [UUID(d) for line in lines for d in line.open_commitments]
    skpds = sorted({line.skpd for line in lines})
    return [
        *found,
        *(ids.cash_plan_id(cmd.pemda, year, skpd) for skpd in skpds),
        *(ids.advance_id(cmd.pemda, year, skpd) for skpd in skpds),
    ]


def _next_lines(cmd: c.CloseYear, loaded: Loaded) -> list[UUID]:
    nxt = _years(cmd)[1]
    found = []
    for i in cmd.carry_over if isinstance(cmd.carry_over, tuple) else ():
        d = loaded(i) if isinstance(i, UUID) else None
        line = loaded(UUID(d.line_id)) if isinstance(d, Disbursement) else None
        if isinstance(line, BudgetLine):
            found.append(_next_line_id(cmd.pemda, nxt, line))
    return found


def _next_line_id(pemda: str, year: int, line: BudgetLine) -> UUID:
    return ids.budget_line_id(pemda, year, line.skpd, line.sub_kegiatan, line.rekening)


def _carry_ids(raw: Any) -> list[UUID]:
    if not isinstance(raw, tuple) or not all(isinstance(i, UUID) for i in raw):
        raise InvalidInput("carry_over names disbursements by their ids (UUIDs)")
    if len(raw) > MAX_CARRY_OVER:
        raise LimitExceeded(f"at most {MAX_CARRY_OVER} carry-overs per close, got {len(raw)}")
    if len(set(raw)) != len(raw):
        raise InvalidInput("a disbursement is named twice for carry-over")
    return list(raw)


def read_year_end(cmd: c.CloseYear, uow: UnitOfWork) -> YearEnd:
    year, nxt = _years(cmd)
    carry = _carry_ids(cmd.carry_over)
    budget = uow.find(ids.budget_id(cmd.pemda, year), Budget)
    if budget is None:
        raise BudgetNotOpen(f"no APBD {year} has been adopted for pemda {cmd.pemda}")
    lines = [uow.get(UUID(i), BudgetLine) for i in budget.line_ids]
    commitments: dict[str, Disbursement] = {}
    for line in lines:
        for d in line.open_commitments:
            found = uow.find(UUID(d), Disbursement)
            if found is not None:
                commitments[d] = found
    plans = [
        plan
        for skpd in sorted({line.skpd for line in lines})
        if (plan := uow.find(ids.cash_plan_id(cmd.pemda, year, skpd), CashPlan)) is not None
    ]
    advances = [
        advance
        for skpd in sorted({line.skpd for line in lines})
        if (advance := uow.find(ids.advance_id(cmd.pemda, year, skpd), Advance)) is not None
    ]
    silpa_id = _silpa_line_id(cmd)
    silpa_line = None if silpa_id is None else uow.find(silpa_id, BudgetLine)
    state = YearEnd(
        cmd.pemda, year, budget, lines, commitments, plans, uow.find(ids.budget_id(cmd.pemda, nxt), Budget),
        carry, silpa_line, silpa_id is not None, advances=advances,
    )  # fmt: skip
    for i in carry:
        carried = commitments.get(str(i))
        if carried is not None:
            source = uow.get(UUID(carried.line_id), BudgetLine)
            line_id = _next_line_id(cmd.pemda, nxt, source)
            found_line = uow.find(line_id, BudgetLine)
            if found_line is not None:
                state.next_lines[line_id] = found_line
    return state


# -- the close ---------------------------------------------------------------------------------
def _lapse_all(state: YearEnd, document: str, by: Stamp) -> tuple[int, int]:
    lines = {str(line.id): line for line in state.lines}
    plans = {plan.skpd: plan for plan in state.plans}
    carried = {str(i) for i in state.carry}
    amount = 0
    for d in sorted(state.commitments.values(), key=lambda d: d.spp_number):
        line = lines[d.line_id]
        line.release(d.id, by)
        plan = plans.get(line.skpd)
        if plan is not None and plan.holds(d.id):
            plan.release(d.id, by)
        d.lapse(document, state.year + 1 if str(d.id) in carried else None, by)
        amount += d.gross
    return len(state.commitments), amount


def _carry_over(
    state: YearEnd, document: str, uow: UnitOfWork, by: Stamp
) -> tuple[list[dict[str, str | int]], list[str]]:
    """The carried commitments join the next APBD's lines of the same key (DPAL)."""
    assert state.next_budget is not None  # a precondition
    lines = {str(line.id): line for line in state.lines}
    carried: list[dict[str, str | int]] = []
    new_line_ids: list[str] = []
    for i in state.carry:
        d = state.commitments[str(i)]
        source = lines[d.line_id]
        target_id = _next_line_id(state.pemda, state.year + 1, source)
        target = state.next_lines.get(target_id)
        if target is None:
            target = BudgetLine.allocate(
                state.pemda, state.year + 1, source.key, source.uraian, d.gross, document, by
            )
            uow.add(target)
            state.next_lines[target_id] = target
            new_line_ids.append(str(target_id))
        else:
            target.carry_in(d.gross, source.id, d.id, document, by)
        carried.append(
            {"disbursement_id": str(d.id), "spp_number": d.spp_number,
             "line_id": str(target_id), "amount": d.gross}
        )  # fmt: skip
    return carried, new_line_ids


@handles(c.CloseYear, _budgets, _lines, _commitments_and_plans, _next_lines)
def close_year(cmd: c.CloseYear, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "close the fiscal year (tutup tahun)")
    document = document_number(cmd.document, "tutup tahun decision number")
    state = read_year_end(cmd, uow)
    # The closed year's LRA holds only what was paid: lapsing releases commitments, never
    # realisation, so the figures are those of the lines as they are now.
    figures = figures_of(state.lines)
    for precondition in PRECONDITIONS:
        precondition(state, figures)
    assert state.next_budget is not None  # a precondition
    by = Stamp(cmd.actor, uow.at)
    lapsed, lapsed_amount = _lapse_all(state, document, by)
    carried, new_line_ids = _carry_over(state, document, uow, by)
    silpa = max(figures.silpa, 0)
    if silpa and state.silpa_line is not None:
        state.silpa_line.receive_silpa(silpa, state.year, document, by)
    state.next_budget.open_from(document, state.year, silpa, carried, new_line_ids, by)
    for line in state.lines:
        line.close(document, by)
    for plan in state.plans:
        plan.close(document, by)
    carried_amount = sum(int(item["amount"]) for item in carried)
    state.budget.close(
        document,
        {**figures.as_dict(), "lapsed": lapsed, "lapsed_amount": lapsed_amount,
         "carried": len(carried), "carried_amount": carried_amount},
        state.year + 1,
        by,
    )  # fmt: skip
    return {
        "id": str(state.budget.id),
        "year": state.year,
        **figures.as_dict(),
        "lapsed": lapsed,
        "lapsed_amount": lapsed_amount,
        "carried": carried,
        "carried_amount": carried_amount,
        "silpa_received": silpa,
        "lines_closed": len(state.lines),
    }
