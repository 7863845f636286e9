"""Tutup tahun: close a fiscal year (or preview the close), and read a year's status.

``POST /pemda/{pemda}/years/{year}/close`` closes the year (the PPKD, ``bpkad_admin``): open SPPs
lapse, the contracts named carry over into the next APBD, SiLPA is computed and received by the
next year (``ledger.yearend``). With ``?dry_run=true`` nothing is recorded: the answer is what the
close would do now, by the same rules (or the problem it would be refused with)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query, Response
from fastapi.concurrency import run_in_threadpool

from api import auth
from api.auth import Principal
from api.deps import REPLAYED_HEADER, IdempotencyKey, LedgerDep, WriterDep
from api.models import CloseYearIn, LapsingOut, YearCloseOut, YearStatusOut
from api.problems import responses
from api.routes.budgets import YearPath, line_ref
from api.routing import AreaRouter
from ledger import commands as c
from ledger.application import Ledger
from ledger.errors import DomainError, NotFound
from ledger.yearend import carry_over_problem

router = AreaRouter(
    prefix="/pemda/{pemda}/years", tags=["budgets"], responses=responses(401, 403, 404, 422)
)
Admin = Annotated[Principal, Depends(auth.BUDGET_ADMIN)]
Reader = Annotated[Principal, Depends(auth.READ_BOOKS)]
MAX_LISTED = 1_000  # lapsing SPPs listed in one answer (the totals count them all)


def lapsing(ledger: Ledger, pemda: str, year: int, carry: set[UUID]) -> list[LapsingOut]:
    """The SPPs of ``year`` still awaiting their SP2D: what a close would lapse (or carry)."""
    found = []
    for line in ledger.budget_lines(pemda, year):
        for commitment in line.open_commitments:
            try:
                d = ledger.disbursement(UUID(commitment))
            except NotFound:
                continue  # not an SPP: the close says why it cannot go on
            found.append(
                LapsingOut(
                    disbursement_id=d.id, spp_number=d.spp_number, status=str(d.status),
                    gross=d.gross, skpd=line.skpd, rekening=line.rekening,
                    carried=d.id in carry, carry_problem=carry_over_problem(d),
                )
            )  # fmt: skip
            if len(found) >= MAX_LISTED:
                return found
    return sorted(found, key=lambda item: item.spp_number)


def _command(year: int, body: CloseYearIn, who: Principal, key: str) -> c.CloseYear:
    return c.CloseYear(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=year,
        document=body.document,
        carry_over=tuple(body.carry_over),
        silpa_line=None if body.silpa_line is None else line_ref(body.silpa_line),
    )


def _preview(ledger: Ledger, command: c.CloseYear) -> YearCloseOut:
    outcome = ledger.dry_run(command)
    if isinstance(outcome, DomainError):
        raise outcome
    data = outcome.data
    listed = lapsing(ledger, command.pemda, command.year, set(command.carry_over))
    return YearCloseOut(**_figures(data), year=command.year, dry_run=True, lapsing=listed)


def _figures(data: dict[str, int | object]) -> dict[str, int]:
    names = ("pendapatan", "penerimaan_pembiayaan", "belanja", "pengeluaran_pembiayaan", "silpa",
             "lapsed", "lapsed_amount", "carried_amount")  # fmt: skip
    return {name: int(str(data[name])) for name in names}


@router.post(
    "/{year}/close",
    summary="Tutup tahun: close the fiscal year (dry_run: preview what it would do)",
    openapi_extra=auth.BUDGET_ADMIN.doc,
    responses=responses(409),
)
async def close_year(
    year: YearPath,
    body: CloseYearIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    ledger: LedgerDep,
    response: Response,
    dry_run: Annotated[bool, Query(description="preview only: record nothing")] = False,
) -> YearCloseOut:
    command = _command(year, body, who, key)
    if dry_run:
        return await run_in_threadpool(_preview, ledger, command)
    # What lapses is read before the close (the close empties it); the close decides all the same.
    listed = await run_in_threadpool(lapsing, ledger, who.pemda, year, set(body.carry_over))
    written = await writer.execute(command)
    if written.result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    data = written.result.data
    return YearCloseOut(
        **_figures(data), year=year, dry_run=False, position=written.position,
        lapsing=listed,
    )  # fmt: skip


@router.get(
    "/{year}",
    summary="A fiscal year's status: adopted, closed (its LRA final, with SiLPA), opened from",
    openapi_extra=auth.READ_BOOKS.doc,
)
def year_status(year: YearPath, who: Reader, ledger: LedgerDep) -> YearStatusOut:
    try:
        budget = ledger.budget(who.pemda, year)
    except NotFound:
        return YearStatusOut(
            year=year, adopted=False, closed=False, closed_at=None, opened_from=None, final={}
        )
    return YearStatusOut(
        year=year, adopted=True, closed=budget.closed, closed_at=budget.closed_at,
        opened_from=budget.opened_from, final=dict(budget.final),
    )  # fmt: skip
