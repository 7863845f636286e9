"""The auditor's and the inspectorate's pages: find any payment of the pemda (by its SPP, SPM or
SP2D number, vendor, status, days, SKPD) and open it on its payment page (``/pembayaran/{id}``,
with its full history and event positions); the hash chain's verification and the latest signed
checkpoint; and the pemda's export.

The roles are the API's audit routes' (``auth.READ_AUDIT``). Verification is the API's
(``ledger.verify.verify`` over the whole store, showing only counts, the head and where the first
problem is): run on request, in a worker thread, one at a time per server, and its result kept to
show when the chain was last verified. The export is the API's (``GET /pemda/{p}/export/events``,
``api.routes.audit.export_page``), every page of it as one JSON Lines download."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from api import auth
from api.routes.audit import export_page
from ledger import ids
from ledger.application import Ledger
from ledger.codes import normalise_skpd
from ledger.disbursement import Status
from ledger.errors import DomainError, InvalidInput, NotFound
from ledger.vendor import normalise_npwp
from ledger.verify import Checkpoint, Report, newest_checkpoint, verify
from projections import queries as q
from projections.db import ReadDatabase
from web import format as fmt
from web.deps import CheckedForm, Need, fetch, tenant
from web.messages import Refusal
from web.nav import NavItem
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)
AUDITORS = frozenset(auth.READ_AUDIT.roles)
NAV = [
    NavItem("Cari pembayaran", "/audit", AUDITORS),
    NavItem("Integritas", "/audit/integritas", AUDITORS),
]
PAGES = {role: ["/audit", "/audit/integritas"] for role in AUDITORS}

Auditor = Annotated[Session, Depends(Need.like(auth.READ_AUDIT))]
Text = Annotated[str, Query(max_length=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
PAGE_SIZE = 25
EXPORT_PAGE = 1_000  # events per read of the export (the API's largest page)
NPWP_CHARACTERS = frozenset("0123456789.- ")


# -- find a payment --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Search:
    """What the auditor looks for, checked: every field may be empty (then it does not filter)."""

    number: str | None = None
    vendor_id: str | None = None  # an NPWP, as the vendor's id
    vendor_name: str | None = None
    status: str | None = None
    start: date | None = None
    end: date | None = None  # inclusive
    skpd: str | None = None


def search_of(pemda: str, form: dict[str, str]) -> Search:
    """The search the form asks for; ``InvalidInput`` (said in Indonesian) for a field that cannot
    be one (a status that does not exist, a malformed NPWP, SKPD code or day)."""
    vendor = form["penyedia"]
    vendor_id = vendor_name = None
    if vendor and set(vendor) <= NPWP_CHARACTERS:
        vendor_id = str(ids.vendor_id(pemda, normalise_npwp(vendor)))
    elif vendor:
        vendor_name = vendor
    status = form["status"] or None
    if status is not None and status not in {s.value for s in Status}:
        raise InvalidInput(f"status {status!r} tidak dikenal")
    found = Search(
        number=form["nomor"] or None,
        vendor_id=vendor_id,
        vendor_name=vendor_name,
        status=status,
        start=fmt.parse_tanggal(form["dari"], "tanggal awal"),
        end=fmt.parse_tanggal(form["sampai"], "tanggal akhir"),
        skpd=normalise_skpd(form["skpd"]) if form["skpd"] else None,
    )
    if found.start is not None and found.end is not None and found.start > found.end:
        raise InvalidInput("tanggal awal tidak boleh sesudah tanggal akhir")
    return found


def _midnight(day: date | None, *, after: bool = False) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1 if after else 0), time(), fmt.WIB)


def found_payments(db: ReadDatabase, session: Session, search: Search, offset: int) -> q.Listing:
    """One page of the payments that match ``search``, in the scope of ``session`` (an SKPD's
    official would see its own SKPD only, as in the API's list)."""
    who = session.principal
    vendor_in = None
    if search.vendor_name is not None:
        named = q.vendors(db, who.pemda, name=search.vendor_name, limit=q.MAX_PAGE)
        vendor_in = tuple(str(v["vendor_id"]) for v in named.rows)
    own = None if who.vendor_id is None else str(who.vendor_id)
    return q.disbursements(
        db,
        who.pemda,
        vendor_ids=(own, search.vendor_id),
        skpds=(who.skpd, search.skpd),
        status=search.status,
        requested_from=_midnight(search.start),
        requested_to=_midnight(search.end, after=True),
        number=search.number,
        vendor_in=vendor_in,
        limit=PAGE_SIZE,
        offset=offset,
    )


@router.get("/audit")
async def find_payment(
    request: Request,
    session: Auditor,
    nomor: Text = "",
    penyedia: Text = "",
    status: Text = "",
    dari: Text = "",
    sampai: Text = "",
    skpd: Text = "",
    offset: Offset = 0,
) -> Response:
    form = {"nomor": nomor.strip(), "penyedia": penyedia.strip(), "status": status,
            "dari": dari, "sampai": sampai, "skpd": skpd.strip()}  # fmt: skip
    try:
        search = search_of(session.principal.pemda, form)
    except DomainError as error:
        # Nothing is searched; the form keeps what was typed, under the reason.
        return page(
            request,
            "audit.html",
            {"form": form, "statuses": list(Status), "refusal": Refusal.of(error),
             "found": None, "offset": 0, "limit": PAGE_SIZE, "base": "/audit"},
            status=422,
        )  # fmt: skip
    found = await fetch(request, lambda db: found_payments(db, session, search, offset))
    filters = {k: v for k, v in form.items() if v}
    return page(
        request,
        "audit.html",
        {
            "form": form,
            "statuses": list(Status),
            "refusal": None,
            "found": found,
            "offset": offset,
            "limit": PAGE_SIZE,
            "base": "/audit" + (f"?{urlencode(filters)}" if filters else ""),
        },
    )


# -- the chain's integrity -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Verified:
    """A verification of the chain: its report, when it started and ended, and who asked."""

    report: Report
    started: datetime
    finished: datetime
    by: str


class Watch:
    """The verifications of one server: one at a time (a worker thread each), and the last one."""

    def __init__(self) -> None:
        self.lock = anyio.Lock()
        self.limiter = anyio.CapacityLimiter(1)
        self.last: Verified | None = None

    async def verify(self, ledger: Ledger, user: str) -> Verified:
        asked = datetime.now(UTC)
        async with self.lock:
            last = self.last
            if last is not None and last.started >= asked:
                return last  # one that started after this request, while it waited: the same
            started = datetime.now(UTC)
            report = await to_thread.run_sync(verify, ledger, limiter=self.limiter)
            self.last = Verified(report, started, datetime.now(UTC), user)
            return self.last


def watch_of(request: Request, ledger: Ledger) -> Watch:
    """The verifications of ``ledger``'s store (one per pemda with a store per pemda)."""
    state = request.app.state
    watches = getattr(state, "kasda_integrity", None)
    if not isinstance(watches, dict):
        watches = {}
        state.kasda_integrity = watches
    found = watches.get(ledger.url)
    if not isinstance(found, Watch):
        found = Watch()
        watches[ledger.url] = found
    return found


async def _ledger(request: Request) -> Ledger:
    return (await tenant(request)).ledger


@dataclass(frozen=True, slots=True)
class Signed:
    """The latest signed checkpoint and what is known of it."""

    checkpoint: Checkpoint
    signature_ok: bool  # its Ed25519 signature holds under the public key it names
    checked: bool  # the last verification, which began after it was signed, found the chain at it

    @property
    def signed_at(self) -> str:
        return self.checkpoint.signed_at


def latest_checkpoint(ledger: Ledger, last: Verified | None) -> Signed | None:
    newest = newest_checkpoint(ledger)
    if newest is None:
        return None
    try:
        signed_at = fmt.local(newest.signed_at)
    except ValueError:
        signed_at = None
    checked = (
        last is not None
        and last.report.ok
        and signed_at is not None
        and last.started >= signed_at
        and newest.position <= last.report.head_position
    )
    return Signed(newest, newest.check_signature(), checked)


@router.get("/audit/integritas")
async def integrity(request: Request, session: Auditor) -> Response:
    ledger = await _ledger(request)
    last = watch_of(request, ledger).last
    signed = await to_thread.run_sync(latest_checkpoint, ledger, last)
    return page(request, "audit_integrity.html", {"last": last, "signed": signed})


@router.post("/audit/integritas")
async def verify_now(request: Request, session: Auditor, form: CheckedForm) -> Response:
    ledger = await _ledger(request)
    await watch_of(request, ledger).verify(ledger, session.user)
    return RedirectResponse("/audit/integritas", status_code=303)


@router.get("/audit/integritas/checkpoint.json")
async def checkpoint_download(request: Request, session: Auditor) -> Response:
    signed = await to_thread.run_sync(latest_checkpoint, await _ledger(request), None)
    if signed is None:
        raise NotFound("no signed checkpoint is recorded in this store")
    return Response(
        signed.checkpoint.to_json() + "\n",
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="checkpoint-{signed.checkpoint.position}.json"'
        },
    )


@router.get("/audit/integritas/ekspor.jsonl")
async def export_download(request: Request, session: Auditor) -> Response:
    """The pemda's events in store order, one JSON object a line: every page of the API's export
    (``GET /pemda/{p}/export/events``), read a page at a time."""
    ledger, pemda = await _ledger(request), session.principal.pemda

    async def lines() -> AsyncIterator[bytes]:
        after: int | None = 0
        while after is not None:
            start = after

            def query(db: ReadDatabase, start: int = start) -> Any:
                return export_page(ledger, db, pemda, start, EXPORT_PAGE)

            exported = await fetch(request, query)
            yield b"".join(item.model_dump_json().encode() + b"\n" for item in exported.items)
            moved = exported.next_after
            after = moved if moved is not None and moved > start else None

    stamp = datetime.now(fmt.WIB).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="kasda-{pemda}-{stamp}.jsonl"'},
    )
