"""Anggaran kas and SPD of one SKPD (``/anggaran-kas``): the plan, the SPD released and the
realisation month by month, with what the SPD still makes available (the "Sisa SPD"); the SPD
register; and for the Kuasa BUD the form that issues an SPD (the API's ``POST .../spd``).

Read like the API's ``GET .../cash-plans/{skpd}``: every official and the auditor, an official of
one SKPD their own SKPD only; the plan now or per tanggal (as of the end of a day)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import auth
from ledger import commands as c
from ledger import roles
from ledger.cashplan import fiscal_month
from ledger.codes import normalise_skpd
from ledger.errors import DomainError, InvalidInput
from projections import spd as s
from projections.db import ReadDatabase
from web import format as fmt
from web.deps import CheckedForm, Need, fetch, perform
from web.messages import Refusal
from web.nav import NavItem
from web.pages.payment import key_of, required, text_of
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)
READ = Need.like(auth.READ_BOOKS)
ISSUE = Need.like(auth.AUTHORISE)
Reader = Annotated[Session, Depends(READ)]
Issuer = Annotated[Session, Depends(ISSUE)]

NAV = [NavItem("Anggaran Kas & SPD", "/anggaran-kas", frozenset(auth.OFFICIALS))]
PAGES = {role: ["/anggaran-kas"] for role in auth.OFFICIALS}
NOTICES = {"spd": "SPD diterbitkan."}
Year = Annotated[int | None, Query(ge=2000, le=2100)]
Code = Annotated[str, Query(max_length=40)]
Day = Annotated[str, Query(max_length=10)]
Notice = Annotated[str | None, Query(alias="pesan", max_length=16)]


def _year(tahun: int | None) -> int:
    return tahun if tahun is not None else datetime.now(fmt.WIB).year


@dataclass(frozen=True, slots=True)
class Shown:
    skpds: list[dict[str, Any]]  # every SKPD with an anggaran kas the user may see
    skpd: str | None  # the one shown
    plan: s.CashPlanView | None
    month: int  # this month of the year (0 before it begins)


def _chosen(session: Session, skpd: str) -> str | None:
    """The SKPD to show: an SKPD official's own; another's asked by code is refused by the ledger's
    rule (``skpd_scope``), as the API refuses it."""
    who = session.principal
    if who.skpd is not None:
        if skpd and normalise_skpd(skpd) != who.skpd:
            who.require_skpd(normalise_skpd(skpd), "the anggaran kas asked for")
        return who.skpd
    return normalise_skpd(skpd) if skpd else None


def _shown(session: Session, year: int, skpd: str | None, as_of: date | None) -> Any:
    who = session.principal

    def query(db: ReadDatabase) -> Shown:
        skpds = s.cash_plans(db, who.pemda, year, skpd=who.skpd)
        chosen = skpd or (skpds[0]["skpd"] if skpds else None)
        plan = None if chosen is None else s.cash_plan(db, who.pemda, year, chosen, as_of)
        return Shown(skpds, chosen, plan, fiscal_month(datetime.now(fmt.WIB), year))

    return query


async def _show(
    request: Request,
    session: Session,
    year: int,
    skpd: str,
    as_of: date | None = None,
    *,
    refusal: Refusal | None = None,
    kept: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    shown: Shown = await fetch(request, _shown(session, year, _chosen(session, skpd), as_of))
    context = {
        "year": year,
        "shown": shown,
        "plan": shown.plan,
        "as_of": as_of,
        "months": [(m, fmt.bulan(m)) for m in range(1, 13)],
        "may_issue": session.principal.role in roles.AUTHORISE and as_of is None,
        "refusal": refusal,
        "kept": kept or {},
        "notice": NOTICES.get(notice or ""),
    }
    return page(request, "anggaran_kas.html", context, session=session,
                status=refusal.status if refusal is not None else 200)  # fmt: skip


@router.get("/anggaran-kas")
async def cash_plan_page(
    request: Request,
    session: Reader,
    tahun: Year = None,
    skpd: Code = "",
    per: Day = "",
    notice: Notice = None,
) -> Response:
    as_of = fmt.parse_tanggal(per, "Per tanggal")
    return await _show(request, session, _year(tahun), skpd, as_of, notice=notice)


def _month(form: Any, name: str, what: str) -> int:
    text = required(form, name, what)
    if not text.isdigit() or not 1 <= int(text) <= 12:
        raise InvalidInput(f"{what} harus bulan 1..12, bukan {text!r}")
    return int(text)


@router.post("/anggaran-kas/spd")
async def issue_spd(request: Request, session: Issuer, form: CheckedForm) -> Response:
    """The Kuasa BUD issues an SPD: ``POST .../cash-plans/{skpd}/spd`` (the same command)."""
    year_text = text_of(form, "year")
    year = int(year_text) if year_text.isdigit() and len(year_text) == 4 else _year(None)
    skpd = text_of(form, "skpd")
    kept = {k: text_of(form, k) for k in ("spd_number", "first_month", "last_month", "amount")}
    who = session.principal
    try:
        command = c.IssueSpd(
            idempotency_key=key_of(form),
            actor=who.actor,
            pemda=who.pemda,
            year=year,
            skpd=required(form, "skpd", "SKPD"),
            spd_number=required(form, "spd_number", "Nomor SPD"),
            first_month=_month(form, "first_month", "Bulan awal"),
            last_month=_month(form, "last_month", "Bulan akhir"),
            amount=fmt.parse_rupiah(required(form, "amount", "Jumlah")),
        )
        await perform(request, command)
    except DomainError as error:
        return await _show(request, session, year, skpd, refusal=Refusal.of(error), kept=kept)
    return RedirectResponse(
        f"/anggaran-kas?tahun={year}&skpd={normalise_skpd(skpd)}&pesan=spd", status_code=303
    )
