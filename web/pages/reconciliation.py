"""Reconciliation of the RKUD, for BPKAD: the runs recorded (a run's summary), a form to upload a
day's bank statement and gateway reports and run the reconciliation, and the worklist of exceptions
to resolve with a reason.

A run from this page is ``kasda reconcile --date <day>`` over the app's own store: the same readers
(MT940, camt.053, the bank's CSV profile; Midtrans reports), the same matching and the same record
(``reconciliation.day.match_day`` and ``record_command``), recorded through the app's writer under the
run's own key (the same files of the same day are one run, from here or from the command line). A
bad line stops the run with its file and line number, and nothing is recorded. Exceptions are
resolved with ``ResolveReconciliationException``, the command of ``POST .../resolve``. The roles are
those of ``api/routes/reconciliation.py``."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path, PurePath
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from api.routes.reconciliation import READ, RECORD, RESOLVE
from ledger import commands as c
from ledger.application import Ledger
from ledger.errors import AlreadyExists, DomainError
from ledger.reconciliation import RESOLUTIONS
from projections import queries as q
from projections.db import ReadDatabase
from reconciliation.day import DayRun, RunRefused, match_day, record_command, run_id_of
from reconciliation.readers.csv_profiles import DEFAULT_PROFILES
from reconciliation.record import NOT_EXCEPTIONS
from reconciliation.schema import STATUS_LABELS, STATUSES
from web import format as fmt
from web.deps import CheckedForm, Need, PageRefused, fetch, perform, tenant
from web.messages import Refusal
from web.nav import NavItem
from web.pages.home import Card
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)

READERS = Need.like(READ)
RECORDERS = Need.like(RECORD)
RESOLVERS = Need.like(RESOLVE)
Reader = Annotated[Session, Depends(READERS)]
Recorder = Annotated[Session, Depends(RECORDERS)]
Resolver = Annotated[Session, Depends(RESOLVERS)]

NAV = [
    NavItem("Rekonsiliasi", "/rekonsiliasi", READERS.roles),
    NavItem("Pengecualian", "/rekonsiliasi/pengecualian", RESOLVERS.roles),
]
PAGES = {role: ["/rekonsiliasi", "/rekonsiliasi/pengecualian"] for role in READERS.roles}
PAGE_SIZE = 50
RUN_CHOICES = 100  # the latest runs offered by the worklist's run filter
MAX_WINDOW = 31
RESOLUTION_LABELS = {
    "explained": "Dijelaskan (ada dasar yang sah)",
    "corrected": "Dikoreksi (dokumen koreksi)",
    "recovered": "Dana kembali (dipulihkan)",
    "written_off": "Dihapuskan (dengan kewenangan)",
    "escalated": "Diteruskan ke Inspektorat / APIP",
}
assert set(RESOLUTION_LABELS) == RESOLUTIONS, "every resolution of the ledger has its words"
STATES = {"open": "Terbuka", "resolved": "Selesai", "semua": "Semua"}
NOTICES = {
    "baru": "Rekonsiliasi dijalankan dan dicatat.",
    "sudah": "Berkas yang sama untuk hari yang sama sudah pernah dicatat: inilah hasilnya.",
    "selesai": "Pengecualian diselesaikan.",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Notice = Annotated[str | None, Query(alias="pesan", max_length=16)]


def _labels() -> dict[str, str]:
    """The kinds of exception (a status that is never one on either side left out), in words."""
    never = NOT_EXCEPTIONS["statement"] & NOT_EXCEPTIONS["ledger"]
    return {status: STATUS_LABELS[status][0] for status in STATUSES if status not in never}


# -- the runs and the upload form --------------------------------------------------------------
async def _runs_page(
    request: Request,
    session: Session,
    offset: int = 0,
    *,
    refusal: Refusal | None = None,
    kept: dict[str, str] | None = None,
) -> Response:
    pemda = session.principal.pemda

    def query(db: ReadDatabase) -> q.Listing:
        return q.runs(db, pemda, limit=PAGE_SIZE, offset=offset)

    found = await fetch(request, query)
    return page(request, "recon.html", {
        "rows": found.rows, "total": found.total, "offset": offset, "limit": PAGE_SIZE,
        "profiles": sorted(DEFAULT_PROFILES), "may_run": session.principal.role in RECORDERS.roles,
        "refusal": refusal, "kept": kept or {},
        "yesterday": (datetime.now(fmt.WIB) - timedelta(days=1)).date().isoformat(),
    }, status=refusal.status if refusal else 200)  # fmt: skip


@router.get("/rekonsiliasi")
async def runs_list(request: Request, session: Reader, offset: Offset = 0) -> Response:
    return await _runs_page(request, session, offset)


def _uploads(form: FormData, field: str) -> list[UploadFile]:
    return [f for f in form.getlist(field) if isinstance(f, UploadFile) and f.filename]


def _save(uploads: list[UploadFile], folder: Path) -> list[Path]:
    """Each upload under its own name (as ``kasda reconcile`` would read the file), in a folder of
    its own so that two files of one name stay two files."""
    paths: list[Path] = []
    for upload in uploads:
        name = _UNSAFE.sub("_", PurePath(upload.filename or "berkas").name)[-120:] or "berkas"
        target = folder / str(len(paths)) / name
        target.parent.mkdir(parents=True)
        with target.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        paths.append(target)
    return paths


def _run_input(form: FormData) -> tuple[date, str, int]:
    """The day, CSV profile and window of the form; ``ValueError`` in plain words."""
    try:
        day = date.fromisoformat(str(form.get("tanggal") or ""))
    except ValueError:
        raise ValueError("tanggal rekening koran harus diisi (TTTT-BB-HH)") from None
    profile = str(form.get("profile") or "bpd")
    if profile not in DEFAULT_PROFILES:
        raise ValueError(f"profil CSV {profile!r} tidak dikenal")
    window = str(form.get("window") or "3")
    if not window.isdigit() or int(window) > MAX_WINDOW:
        raise ValueError(f"jendela hari harus bilangan 0..{MAX_WINDOW}")
    return day, profile, int(window)


@router.post("/rekonsiliasi/jalankan")
async def run_day(request: Request, session: Recorder, form: CheckedForm) -> Response:
    """Upload a day's files, reconcile them as ``kasda reconcile`` does, record the run."""
    kept = {k: str(form.get(k) or "") for k in ("tanggal", "profile", "window")}
    bank, gateway = _uploads(form, "bank"), _uploads(form, "gateway")
    try:
        day, profile, window = _run_input(form)
        if not bank:
            raise ValueError("pilih berkas rekening koran (MT940, camt.053 atau CSV bank)")
    except ValueError as error:
        refusal = Refusal("invalid_input", str(error), 422)
        return await _runs_page(request, session, refusal=refusal, kept=kept)
    who = session.principal
    with tempfile.TemporaryDirectory(prefix="kasda-web-recon-") as work:
        folder = Path(work)
        try:
            ledger = (await tenant(request)).ledger
            matched = await to_thread.run_sync(_match, request, ledger, who.pemda, day, profile,
                                               window, bank, gateway, folder)  # fmt: skip
        except RunRefused as refused:
            detail = str(refused).replace(f"{folder}/", "").removeprefix("kasda reconcile: ")
            detail = re.sub(r"(?:bank|gateway)/\d+/", "", detail)
            refusal = Refusal("statement_line_unreadable", detail, 422)
            return await _runs_page(request, session, refusal=refusal, kept=kept)
    if matched.record is None:
        refusal = Refusal("explicit_limit", "terlalu banyak pengecualian untuk satu catatan "
                          "rekonsiliasi; periksa berkasnya. Tidak ada yang dicatat.", 422)  # fmt: skip
        return await _runs_page(request, session, refusal=refusal, kept=kept)
    run_id = run_id_of(who.pemda, matched.record)
    try:
        written = await perform(request, record_command(who.pemda, who.actor, matched.record))
        notice = "sudah" if written.result.replayed else "baru"
    except AlreadyExists:
        notice = "sudah"
    except DomainError as error:
        return await _runs_page(request, session, refusal=Refusal.of(error), kept=kept)
    return RedirectResponse(f"/rekonsiliasi/{run_id}?pesan={notice}", status_code=303)


def _match(
    request: Request, ledger: Ledger, pemda: str, day: date, profile: str, window: int,
    bank: list[UploadFile], gateway: list[UploadFile], folder: Path,
) -> DayRun:  # fmt: skip
    """In a worker thread: the uploads saved, then read and matched against the pemda's store."""
    return match_day(
        ledger, pemda=pemda, day=day, bank=_save(bank, folder / "bank"),
        gateway=_save(gateway, folder / "gateway"), timezone=request.app.state.settings.timezone,
        profile=profile, window=window,
    )  # fmt: skip


# -- the exceptions worklist -------------------------------------------------------------------
RunFilter = Annotated[str | None, Query(alias="run", pattern="^([0-9a-fA-F-]{36})?$")]
KindFilter = Annotated[str | None, Query(alias="jenis", pattern=f"^({'|'.join(STATUSES)})?$")]
StateFilter = Annotated[str | None, Query(alias="keadaan", pattern="^(open|resolved|semua)?$")]


async def _worklist(
    request: Request,
    session: Session,
    chosen: dict[str, str],
    offset: int = 0,
    *,
    refusal: Refusal | None = None,
    kept: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    pemda = session.principal.pemda
    state = chosen["keadaan"]

    def query(db: ReadDatabase) -> dict[str, Any]:
        found = q.run_exceptions(db, pemda, run_id=chosen["run"] or None,
                                 status=chosen["jenis"] or None,
                                 state=None if state == "semua" else state,
                                 limit=PAGE_SIZE, offset=offset)  # fmt: skip
        total = q.runs(db, pemda, limit=1).total
        latest = q.runs(db, pemda, limit=RUN_CHOICES, offset=max(0, total - RUN_CHOICES))
        return {"rows": found.rows, "total": found.total, "runs": list(reversed(latest.rows))}

    data = await fetch(request, query)
    filters = urlencode({k: v for k, v in chosen.items() if v})
    return page(request, "recon_exceptions.html", {
        **data, "chosen": chosen, "offset": offset, "limit": PAGE_SIZE,
        "base": "/rekonsiliasi/pengecualian" + (f"?{filters}" if filters else ""),
        "labels": _labels(), "resolutions": RESOLUTION_LABELS, "states": STATES,
        "may_resolve": session.principal.role in RESOLVERS.roles, "refusal": refusal,
        "kept": kept or {}, "notice": NOTICES.get(notice or ""),
    }, status=refusal.status if refusal else 200)  # fmt: skip


@router.get("/rekonsiliasi/pengecualian")
async def exceptions_list(
    request: Request,
    session: Reader,
    run: RunFilter = None,
    jenis: KindFilter = None,
    keadaan: StateFilter = None,
    offset: Offset = 0,
    notice: Notice = None,
) -> Response:
    chosen = {"run": run or "", "jenis": jenis or "", "keadaan": keadaan or "open"}
    return await _worklist(request, session, chosen, offset, notice=notice)


@router.post("/rekonsiliasi/pengecualian/selesaikan")
async def resolve(request: Request, session: Resolver, form: CheckedForm) -> Response:
    """``POST .../runs/{run}/exceptions/{id}/resolve``: the same command, the same roles."""
    kept = {k: str(form.get(k) or "").strip()
            for k in ("run_id", "exception_id", "resolution", "reason", "key")}  # fmt: skip
    chosen = {"run": "", "jenis": "", "keadaan": "open"}
    try:
        run_id = UUID(kept["run_id"])
    except ValueError:
        raise PageRefused(Refusal("not_found", "tidak ada rekonsiliasi itu", 404)) from None
    if not kept["key"] or len(kept["key"]) > 200:
        raise PageRefused(Refusal("invalid_input", "formulir tanpa kunci idempotensi", 422))
    who = session.principal
    try:
        await perform(request, c.ResolveReconciliationException(
            idempotency_key=kept["key"], actor=who.actor, pemda=who.pemda, run_id=run_id,
            exception_id=kept["exception_id"], resolution=kept["resolution"],
            reason=kept["reason"],
        ))  # fmt: skip
    except DomainError as error:
        return await _worklist(request, session, chosen, refusal=Refusal.of(error), kept=kept)
    return RedirectResponse("/rekonsiliasi/pengecualian?pesan=selesai", status_code=303)


# -- one run -----------------------------------------------------------------------------------
@router.get("/rekonsiliasi/{run_id}")
async def run_view(
    request: Request, run_id: UUID, session: Reader, notice: Notice = None
) -> Response:
    pemda = session.principal.pemda

    def query(db: ReadDatabase) -> q.Run | None:
        return q.run(db, pemda, str(run_id), state="open", limit=1)

    found = await fetch(request, query)
    if found is None:  # not a run, or another pemda's: the same answer as the API's
        raise PageRefused(Refusal("not_found", f"tidak ada rekonsiliasi {run_id}", 404))
    row = found.run
    labels = {status: STATUS_LABELS[status][0] for status in STATUSES}
    counts = json.loads(row["counts"])
    shown = [
        (side, labels.get(status, status), n)
        for key, n in counts.items()
        for side, _, status in [key.partition(".")]
        if n
    ]
    return page(request, "recon_run.html", {
        "run": row, "inputs": json.loads(row["inputs"]), "counts": shown,
        "open": row["exceptions"] - row["resolved"], "notice": NOTICES.get(notice or ""),
    })  # fmt: skip


def cards(db: ReadDatabase, session: Session, now: datetime) -> list[Card]:
    """Open exceptions of the reconciliation: they wait for BPKAD (or a Kuasa BUD) to resolve."""
    who = session.principal
    if who.role not in RESOLVERS.roles:
        return []
    found = q.run_exceptions(db, who.pemda, state="open", limit=1)
    oldest = fmt.umur(found.rows[0]["recorded_at"], now) if found.rows else None
    return [Card("Pengecualian rekonsiliasi terbuka", found.total,
                 "/rekonsiliasi/pengecualian", oldest)]  # fmt: skip
