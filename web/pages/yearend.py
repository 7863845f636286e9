"""Tutup Tahun Anggaran: the PPKD (BPKAD admin) previews the close of a fiscal year (what lapses,
which contracts carry over into the next APBD, the SiLPA in rupiah), chooses the carry-overs and
confirms. The same command, role and rules as ``POST /pemda/{p}/years/{year}/close``: the preview
is the ledger's dry run of that command (``Ledger.dry_run``), so it shows exactly what the close
would do now, or the refusal it would meet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api import auth
from api.routes.years import lapsing
from ledger import commands as c
from ledger.application import Ledger
from ledger.codes import SILPA_REKENING
from ledger.errors import DomainError, NotFound
from ledger.fields import MAX_YEAR, MIN_YEAR
from ledger.roles import Role
from web.deps import CheckedForm, Need, PageRefused, perform, tenant
from web.messages import Refusal
from web.nav import NavItem
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)
Admin = Annotated[Session, Depends(Need.like(auth.BUDGET_ADMIN))]
NAV = [NavItem("Tutup Tahun", "/tutup-tahun", frozenset({Role.BPKAD_ADMIN}))]
PAGES = {Role.BPKAD_ADMIN: ["/tutup-tahun"]}
PREVIEW_DOCUMENT = "PRATINJAU"  # the preview's stand-in for the decision number, never recorded
FIGURES = (
    ("Pendapatan", "pendapatan"),
    ("Penerimaan pembiayaan", "penerimaan_pembiayaan"),
    ("Belanja", "belanja"),
    ("Pengeluaran pembiayaan", "pengeluaran_pembiayaan"),
)

YearText = Annotated[str | None, Query(max_length=8)]


def _year(text: str | None, default: int) -> int:
    text = (text or "").strip()
    if not text:
        return default
    if not text.isdigit() or not MIN_YEAR <= int(text) <= MAX_YEAR:
        raise PageRefused(Refusal("invalid_input", f"tahun anggaran tidak valid: {text!r}", 422))
    return int(text)


def _carry(values: list[str]) -> tuple[UUID, ...]:
    try:
        return tuple(dict.fromkeys(UUID(v) for v in values if v))
    except ValueError:
        raise PageRefused(Refusal("invalid_input", "pilihan luncuran tidak valid", 422)) from None


def _command(
    session: Session, year: int, document: str, carry: tuple[UUID, ...], silpa_skpd: str, key: str
) -> c.CloseYear:
    who = session.principal
    silpa = (
        c.LineRef(skpd=silpa_skpd, sub_kegiatan=None, rekening=SILPA_REKENING)
        if silpa_skpd
        else None
    )
    return c.CloseYear(
        idempotency_key=key, actor=who.actor, pemda=who.pemda, year=year, document=document,
        carry_over=carry, silpa_line=silpa,
    )  # fmt: skip


def _silpa_skpd(ledger: Ledger, pemda: str, year: int) -> str:
    """The SKPD of the next APBD's penggunaan SiLPA line, if it has exactly one."""
    try:
        lines = ledger.budget_lines(pemda, year + 1)
    except NotFound:
        return ""
    found = {line.skpd for line in lines if line.rekening == SILPA_REKENING}
    return found.pop() if len(found) == 1 else ""


def preview(ledger: Ledger, command: c.CloseYear, kept: dict[str, Any]) -> dict[str, Any]:
    """Everything the page shows: the year's status, or the dry run of its close."""
    try:
        budget = ledger.budget(command.pemda, command.year)
    except NotFound:
        return {"adopted": False, "closed": False}
    if budget.closed:
        return {"adopted": True, "closed": True, "final": dict(budget.final),
                "closed_at": budget.closed_at}  # fmt: skip
    outcome = ledger.dry_run(command)
    listed = lapsing(ledger, command.pemda, command.year, set(command.carry_over))
    return {
        "adopted": True, "closed": False, "lapsing": listed,
        "result": None if isinstance(outcome, DomainError) else outcome.data,
        "refusal": Refusal.of(outcome) if isinstance(outcome, DomainError) else None,
    }  # fmt: skip


def _page(request: Request, year: int, shown: dict[str, Any], kept: dict[str, Any]) -> Response:
    refusal = shown.get("refusal") or kept.get("refusal")
    status = 200 if kept.get("refusal") is None else kept["refusal"].status
    context = {"year": year, "shown": shown, "kept": kept, "figures": FIGURES,
               "refusal": refusal}  # fmt: skip
    return page(request, "tutup_tahun.html", context, status=status)


@router.get("/tutup-tahun")
async def year_end_page(
    request: Request,
    session: Admin,
    tahun: YearText = None,
    bawa: Annotated[list[str] | None, Query(max_length=1_000)] = None,
    dokumen: Annotated[str | None, Query(max_length=64)] = None,
    pesan: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    ledger = (await tenant(request)).ledger
    carry = _carry(bawa or [])

    def build() -> tuple[int, dict[str, Any], dict[str, Any]]:
        year = _year(tahun, _default_year(ledger, session.principal.pemda))
        skpd = _silpa_skpd(ledger, session.principal.pemda, year)
        command = _command(session, year, PREVIEW_DOCUMENT, carry, skpd, "preview")
        kept = {"dokumen": dokumen or "", "carry": {str(i) for i in carry}, "silpa_skpd": skpd,
                "closed_notice": pesan == "tutup"}  # fmt: skip
        return year, preview(ledger, command, kept), kept

    year, shown, kept = await run_in_threadpool(build)
    return _page(request, year, shown, kept)


def _default_year(ledger: Ledger, pemda: str) -> int:
    """The earliest adopted year still open (the one to close next), else this year."""
    year = datetime.now(UTC).year
    for earlier in range(year - 3, year + 1):
        try:
            if not ledger.budget(pemda, earlier).closed:
                return earlier
        except NotFound:
            continue
    return year


def _form_key(form: FormData) -> str:
    key = str(form.get("key") or "")
    if not key or len(key) > 200:
        raise PageRefused(Refusal("invalid_input", "formulir tanpa kunci idempotensi", 422))
    return key


@router.post("/tutup-tahun")
async def year_end_close(request: Request, session: Admin, form: CheckedForm) -> Response:
    """``POST .../years/{year}/close``: the same command, the same role."""
    ledger = (await tenant(request)).ledger
    year = _year(str(form.get("tahun") or ""), 0)
    carry = _carry([str(v) for v in form.getlist("bawa")])
    document = str(form.get("dokumen") or "").strip()
    skpd = str(form.get("silpa_skpd") or "").strip()
    command = _command(session, year, document, carry, skpd, _form_key(form))
    try:
        await perform(request, command)
    except DomainError as error:
        kept = {"dokumen": document, "carry": {str(i) for i in carry}, "silpa_skpd": skpd,
                "refusal": Refusal.of(error), "closed_notice": False}  # fmt: skip
        preview_of = _command(session, year, PREVIEW_DOCUMENT, carry, skpd, "preview")
        shown = await run_in_threadpool(preview, ledger, preview_of, kept)
        return _page(request, year, shown, kept)
    return RedirectResponse(f"/tutup-tahun?tahun={year}&pesan=tutup", status_code=303)
