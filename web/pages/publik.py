"""The public transparency portal (``/publik``): no sign-in, no private data, final facts only.

- ``/publik``: a pemda's APBD and its realisation, per SKPD and per month (SVG charts made on the
  server, each with its table beside it), and the headline figures.
- ``/publik/pembayaran``: the payments to vendors and media companies, searched and filtered by
  a plain GET form (nothing changes, so no CSRF token), 50 a page, with the count and the total
  of what was found; ``/publik/pembayaran/{id}`` one of them.
- ``/publik/verifikasi``: the latest signed checkpoint of the ledger's hash chain and how anyone
  checks the figures against the auditors' export.

What the public may read is decided in one place, ``projections.public`` (only payments whose SP2D
was authorised; no account, no NPWP, a person by initials, private digits in free text masked);
these pages only show it. They read the read models only, never the ledger's store, as they are
now (no wait for the log's head, so a crowd of readers never holds the projector or the writer):
each page says at which log position its figures were read. The one exception is the signed
checkpoint, which lives beside the events: it is read one row at a time, on a reader connection,
at most once per ``CHECKPOINT_SECONDS`` per store (``ledger.verify.newest_checkpoint``).

Caching: what a pemda's year shows (``YearView``) is computed once per log position and kept
(``Views``: keyed by store, pemda, year and position, at most ``VIEWS`` of them); every page
answers with an ETag made of the position, the address and the templates, ``Cache-Control:
public, max-age=MAX_AGE``, and 304 to an ``If-None-Match`` that holds. A page is the same for
everyone: it is rendered as if no one were signed in (``page(public=True)``), so a shared cache
may keep it. A bad address (``tahun=abc``, ``bulan=13``, an unknown pemda, a search text too
long) is a page that says why, in Indonesian, 4xx, and is not cached."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import polars as pl
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from api.problems import ProblemError
from api.tenants import Tenant, Tenants, tenant_of
from ledger.codes import normalise_skpd
from ledger.errors import DomainError, InvalidInput, NotFound
from ledger.fields import MAX_YEAR, MIN_YEAR
from opendata.cache import not_modified
from projections import public
from projections import queries as q
from projections.db import ReadDatabase
from web import charts
from web import format as fmt
from web.messages import Refusal
from web.nav import EVERYONE, NavItem
from web.pages.audit import Signed, latest_checkpoint
from web.render import page

router = APIRouter(include_in_schema=False)
NAV = [NavItem("Portal publik", "/publik", EVERYONE)]
# The pages anyone opens without signing in or naming anything (the accessibility test and the
# screenshots visit each, signed out).
PUBLIC = ["/publik", "/publik/pembayaran", "/publik/verifikasi"]

PAGE_SIZE = 50
MAX_AGE = 30  # seconds a browser or a proxy may keep a page before asking again (ETag)
VIEWS = 32  # pemda-years kept, each at one position (a province has at most 39 pemda)
CHECKPOINT_SECONDS = 30.0  # the newest checkpoint is read again at most this often per store
MAX_ID = 64  # characters of a payment's id in an address
MAKE_WAIT = 30.0  # seconds a request waits for another to compute a pemda-year none has kept
# A view younger than this serves even when the log has moved since: while the ledger writes, a
# pemda-year is computed again at most this often (each page says the position it shows), rather
# than on every write; a proxy may keep a page MAX_AGE anyway.
SETTLE = 5.0
T = TypeVar("T")

# The templates the pages are made of: a change to them (a new release) changes every ETag.
_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
BUILD = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted(_TEMPLATES.glob("*.html")))
).hexdigest()[:12]


# -- what an address asks for ------------------------------------------------------------------
def year_of(text: str | None) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if (
        not (text.isascii() and text.isdigit())
        or len(text) > 4
        or not MIN_YEAR <= int(text) <= MAX_YEAR
    ):
        raise InvalidInput(f"Tahun anggaran tidak valid: {text[:20]!r}; contoh: 2026")
    return int(text)


def month_of(text: str | None) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 2 or not 1 <= int(text) <= 12:
        raise InvalidInput(f"Bulan harus 1 sampai 12, bukan {text[:20]!r}")
    return int(text)


def page_number(text: str | None) -> int:
    text = (text or "").strip()
    if not text:
        return 1
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or int(text) < 1:
        raise InvalidInput(f"Nomor halaman tidak valid: {text[:20]!r}")
    return int(text)


def payment_filter(skpd: str | None, bulan: str | None, jenis: str | None, status: str | None,
                   cari: str | None) -> public.PaymentFilter:  # fmt: skip
    """The filter an address asks for; an empty field does not filter."""

    def given(text: str | None) -> str | None:
        return (text or "").strip() or None

    unit = given(skpd)
    if unit is not None:
        try:
            if len(unit) > 40 or not set(unit) <= set("0123456789."):
                raise InvalidInput(unit)
            unit = normalise_skpd(unit)
        except DomainError:
            raise InvalidInput(f"Kode SKPD tidak valid: {unit[:40]!r}") from None
    return public.PaymentFilter(unit, month_of(bulan), given(jenis), given(status), given(cari))


# -- what a pemda's year shows, once per log position --------------------------------------------
@dataclass(frozen=True)
class Choice:
    """Which pemda and year a page shows, and what else could be chosen."""

    pemdas: tuple[str, ...]
    pemda: str
    years: tuple[int, ...]
    year: int

    def params(self, **more: str | int | None) -> dict[str, str]:
        chosen = {"pemda": self.pemda, "tahun": str(self.year)}
        chosen.update({k: str(v) for k, v in more.items() if v not in (None, "")})
        return chosen

    def link(self, path: str, **more: str | int | None) -> str:
        return f"{path}?{urlencode(self.params(**more))}"


@dataclass(frozen=True)
class YearView:
    """Everything the portal shows of a pemda's year, read at one log position."""

    position: int
    updated_at: str | None
    payments: pl.DataFrame  # public.PAYMENT_SCHEMA, the newest SP2D first
    headline: dict[str, int]
    skpd_rows: list[dict[str, Any]]
    skpd_chart: Markup
    month_rows: list[dict[str, Any]]
    month_chart: Markup
    skpds: list[tuple[str, str]]  # (kode, nama) of the SKPD with public payments


class Views:
    """Answers computed from the read models, kept by their key with the log position they were
    read at (a key holds one: the newest), at most ``size`` keys, the least recently used dropped
    first. Shared by the server's worker threads; one answer of a key is made at a time: while it
    is made again (the log moved), the others asking get the one kept (which says its own, older,
    position) rather than each making it too; with none kept yet, they wait for it."""

    def __init__(
        self,
        size: int = VIEWS,
        settle: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.settle = SETTLE if settle is None else settle
        self.clock = clock
        self._kept: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()
        self._made_at: dict[Hashable, float] = {}
        self._making: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def _fresh(self, key: Hashable, position: int) -> tuple[tuple[int, Any] | None, bool]:
        """(what is kept of ``key``, whether it is at ``position`` or later, or younger than
        ``settle``); under the lock."""
        found = self._kept.get(key)
        if found is None:
            return None, False
        self._kept.move_to_end(key)
        young = self.clock() - self._made_at.get(key, -math.inf) < self.settle
        return found, found[0] >= position or young

    def get(self, key: Hashable, position: int, make: Callable[[], tuple[T, int]]) -> T:
        """The answer of ``key`` at ``position`` or later: kept, or ``make()``'s (the answer and
        the position it was read at, -1 if its reads met different positions: not kept)."""
        with self._lock:
            found, fresh = self._fresh(key, position)
            if fresh:
                return found[1]  # type: ignore[index, no-any-return]
            making = self._making.setdefault(key, threading.Lock())
        if found is not None:
            if not making.acquire(blocking=False):
                return found[1]  # type: ignore[no-any-return]
        elif not making.acquire(timeout=MAKE_WAIT):
            return self._made(key, make)  # the other is stuck: do not wait without end
        try:
            with self._lock:
                found, fresh = self._fresh(key, position)  # made while this one waited
            if fresh:
                return found[1]  # type: ignore[index, no-any-return]
            return self._made(key, make)
        finally:
            making.release()

    def _made(self, key: Hashable, make: Callable[[], tuple[T, int]]) -> T:
        answer, read_at = make()
        if read_at >= 0:
            self._keep(key, read_at, answer)
        return answer

    def _keep(self, key: Hashable, position: int, answer: Any) -> None:
        with self._lock:
            self._kept[key] = (position, answer)
            self._made_at[key] = self.clock()
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                dropped, _ = self._kept.popitem(last=False)
                self._made_at.pop(dropped, None)
                lock = self._making.get(dropped)
                if lock is not None and not lock.locked():
                    del self._making[dropped]

    def __len__(self) -> int:
        return len(self._kept)


def views_of(request: Request) -> Views:
    state = request.app.state
    found = getattr(state, "kasda_public_views", None)
    if not isinstance(found, Views):
        found = Views()
        state.kasda_public_views = found
    return found


def choose(db: ReadDatabase, views: Views, store: str, pemda: str | None, year: int | None,
           position: int, served: tuple[str, ...] | None = None) -> Choice:  # fmt: skip
    """The pemda and year asked for, or the defaults: the only (first) pemda, the latest year
    with a public payment (else with an APBD). An unknown pemda or year is ``NotFound``. With a
    store per pemda, ``served`` are the pemda open in this process: the ones offered."""
    pemdas: list[str] = views.get((store, "pemdas"), position,
                                  lambda: (public.pemdas(db), q.position(db)))  # fmt: skip
    chosen = pemda if pemda is not None else (pemdas[0] if pemdas else None)
    if chosen is None or chosen not in pemdas:
        raise NotFound(f"Pemda {chosen or '(belum ada)'} tidak ada di portal ini")

    def read_years() -> tuple[tuple[list[int], list[int]], int]:
        return (public.years(db, chosen), public.payment_years(db, chosen)), q.position(db)

    years, paid = views.get((store, "years", chosen), position, read_years)
    default = paid[-1] if paid else years[-1]
    picked = default if year is None else year
    if picked not in years:
        raise NotFound(f"Pemda {chosen} belum punya APBD tahun {picked} di portal ini")
    offered = tuple(pemdas) if served is None else tuple(sorted({*served, chosen}))
    return Choice(offered, chosen, tuple(years), picked)


def year_view(db: ReadDatabase, pemda: str, year: int) -> tuple[YearView, int]:
    """What the portal shows of ``pemda``'s ``year`` and the position it was read at (-1 when the
    two reads met different positions: a projector committed between them)."""
    paid = public.payments(db, pemda, year)
    plan = public.realisation(db, pemda, year)
    updated = public.updated_at(db, pemda, year)
    belanja = plan.frame.filter(pl.col("side") == "belanja")
    skpd_rows, skpd_chart = _by_skpd(belanja)
    month_rows, month_chart = _by_month(belanja)
    view = YearView(
        position=plan.position,
        updated_at=updated,
        payments=paid.frame.reverse(),
        headline=_headline(plan.frame),
        skpd_rows=skpd_rows,
        skpd_chart=skpd_chart,
        month_rows=month_rows,
        month_chart=month_chart,
        skpds=sorted(set(paid.frame.select("skpd", "skpd_nama").iter_rows())),
    )
    return view, plan.position if paid.position == plan.position else -1


def _headline(plan: pl.DataFrame) -> dict[str, int]:
    year_end = plan.filter(pl.col("month") == 12)
    figures: dict[str, int] = {}
    for side in ("belanja", "pendapatan"):
        sums = year_end.filter(pl.col("side") == side).select(
            pl.col("anggaran").sum(), pl.col("realisasi").sum()
        )
        anggaran, realisasi = int(sums.item(0, 0) or 0), int(sums.item(0, 1) or 0)
        figures[f"{side}_anggaran"] = anggaran
        figures[f"{side}_realisasi"] = realisasi
        figures[f"{side}_bp"] = _bp(realisasi, anggaran)
    return figures


def _bp(part: int, whole: int) -> int:
    """``part / whole`` in basis points, rounded half up (``queries.persen_bp`` for one pair)."""
    # Typed literals: a small and a large int literal are Int32 and Int64, which polars' when/then
    # cannot mix (it panics).
    return int(pl.select(q.persen_bp(pl.lit(part, pl.Int64), pl.lit(whole, pl.Int64))).item())


def _by_skpd(belanja: pl.DataFrame) -> tuple[list[dict[str, Any]], Markup]:
    frame = (
        belanja.filter(pl.col("month") == 12)
        .with_columns(q.persen_bp(pl.col("realisasi"), pl.col("anggaran")))
        .sort("skpd")
    )
    rows = list(frame.iter_rows(named=True))
    bars = [
        charts.Bar(r["skpd_nama"] or r["skpd"], r["anggaran"], r["realisasi"],
                   fmt.persen(r["persen_bp"]))
        for r in rows
    ]  # fmt: skip
    title = "Belanja per SKPD: anggaran dan realisasi"
    chart = charts.horizontal_bars(
        "grafik-publik-skpd", title,
        f"{title}, {len(rows)} SKPD. Angkanya ada di tabel di samping.", bars,
    )  # fmt: skip
    return rows, chart


def _by_month(belanja: pl.DataFrame) -> tuple[list[dict[str, Any]], Markup]:
    frame = (
        belanja.group_by("month")
        .agg(pl.col("anggaran", "realisasi_bulan", "realisasi").sum())
        .sort("month")
        .with_columns(q.persen_bp(pl.col("realisasi"), pl.col("anggaran")))
    )
    rows = [{**r, "bulan": fmt.bulan(r["month"])} for r in frame.iter_rows(named=True)]
    bars = [
        charts.Bar(fmt.SHORT_MONTHS[r["month"] - 1], r["anggaran"], r["realisasi"],
                   fmt.persen(r["persen_bp"]))
        for r in rows
    ]  # fmt: skip
    title = "Belanja per bulan: anggaran dan realisasi kumulatif"
    chart = charts.vertical_bars(
        "grafik-publik-bulan", title,
        f"{title}, s.d. akhir tiap bulan. Realisasi tiap bulan ada di tabel.", bars,
    )  # fmt: skip
    return rows, chart


# -- reading, answering, caching -----------------------------------------------------------------
async def tenant_for(request: Request, pemda: str | None) -> Tenant:
    """The store that serves ``pemda``'s portal: the shared one, or (a store per pemda) the
    pemda's own, the first open one if none is named (``api.tenants``: a pemda that is not
    served is 404)."""
    tenants: Tenants = request.app.state.tenants
    if not tenants.per_pemda:
        return await tenant_of(request, None)
    named = pemda or next(iter(sorted(tenants.opened())), None)
    if named is None:
        raise NotFound("Sebutkan pemda di alamat, misalnya /publik?pemda=32.73")
    return await tenant_of(request, named)


@dataclass(frozen=True)
class Read:
    choice: Choice
    view: YearView
    position: int


async def read_year(request: Request, pemda: str | None, tahun: str | None) -> Read:
    """The pemda-year an address asks for, read from the read models as they are now."""
    year = year_of(tahun)
    asked = (pemda or "").strip() or None
    if asked is not None and len(asked) > 20:
        raise NotFound(f"Pemda {asked[:20]!r}… tidak ada di portal ini")
    tenant = await tenant_for(request, asked)
    views, store = views_of(request), tenant.ledger.url
    tenants: Tenants = request.app.state.tenants
    served = tuple(tenants.opened()) if tenants.per_pemda else None

    def query(db: ReadDatabase) -> tuple[Choice, YearView]:
        at = q.position(db)
        choice = choose(db, views, store, asked, year, at, served)
        view = views.get((store, "year", choice.pemda, choice.year), at,
                         lambda: year_view(db, choice.pemda, choice.year))  # fmt: skip
        return choice, view

    (choice, view), _ = await tenant.read_models.read(query, latest=False)
    # The view's own position: while it is computed again at a newer one, it may be older.
    return Read(choice, view, view.position)


def etag(request: Request, read: Read, *more: object) -> str:
    """The validator of a page: the log position, the address (path and query, in a fixed
    order), the pemda offered and the templates; ``more`` for what else the page shows."""
    query = sorted(request.query_params.multi_items())
    seed = f"{request.url.path}|{query}|{read.choice.pemdas}|{more}|{BUILD}".encode()
    return f'"{read.position}-{hashlib.sha256(seed).hexdigest()[:20]}"'


def fresh(request: Request, tag: str) -> bool:
    """Whether the client's ``If-None-Match`` names ``tag`` (weakly: ``W/`` ignored)."""
    return not_modified(request.headers.get("if-none-match"), tag)


def cached(request: Request, tag: str, render: Callable[[], Response]) -> Response:
    """304 if the client holds ``tag``, else the page ``render`` makes; both cacheable."""
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={MAX_AGE}"}
    if fresh(request, tag):
        return Response(status_code=304, headers=headers)
    answer = render()
    answer.headers.update(headers)
    return answer


def refused(
    request: Request, error: DomainError | ProblemError, choice: Choice | None = None
) -> Response:
    """A bad address, in Indonesian, 4xx, not cached (no Cache-Control: the edge says no-store)."""
    refusal = Refusal.of(error)
    title = "Tidak ditemukan" if refusal.status == 404 else "Alamat tidak valid"
    return page(request, "publik_error.html", {"title": title, "refusal": refusal,
                                                "choice": choice}, status=refusal.status,
                public=True)  # fmt: skip


def as_of(read: Read) -> dict[str, Any]:
    """What every page says of its figures: the log position and when they last changed."""
    return {
        "position": read.position,
        "updated_at": read.view.updated_at,
        "verify_link": read.choice.link("/publik/verifikasi"),
    }


# -- the pages ---------------------------------------------------------------------------------
@router.get("/publik")
async def overview(
    request: Request, pemda: str | None = None, tahun: str | None = None
) -> Response:
    try:
        read = await read_year(request, pemda, tahun)
    except (DomainError, ProblemError) as error:
        return refused(request, error)
    choice, view = read.choice, read.view
    context = {
        "choice": choice,
        "view": view,
        "payments_link": choice.link("/publik/pembayaran"),
        "data_link": choice.link("/publik/data/"),
        **as_of(read),
    }
    return cached(request, etag(request, read),
                  lambda: page(request, "publik.html", context, public=True))  # fmt: skip


@router.get("/publik/pembayaran")
async def payments(
    request: Request,
    pemda: str | None = None,
    tahun: str | None = None,
    skpd: str | None = None,
    bulan: str | None = None,
    jenis: str | None = None,
    status: str | None = None,
    cari: str | None = None,
    halaman: str | None = None,
) -> Response:
    try:
        wanted = payment_filter(skpd, bulan, jenis, status, cari)
        number = page_number(halaman)
        read = await read_year(request, pemda, tahun)
    except (DomainError, ProblemError) as error:
        return refused(request, error)

    def render() -> Response:
        found = wanted.apply(read.view.payments)
        total = found.height
        amount = int(found.select(pl.col("jumlah").sum()).item() or 0)
        rows = found.slice((number - 1) * PAGE_SIZE, PAGE_SIZE).to_dicts()
        form = {"skpd": wanted.skpd or "", "bulan": wanted.month or "", "jenis": wanted.jenis or "",
                "status": wanted.status or "", "cari": wanted.cari or ""}  # fmt: skip
        context = {
            "choice": read.choice,
            "view": read.view,
            "form": form,
            "rows": rows,
            "total": total,
            "amount": amount,
            "number": number,
            "size": PAGE_SIZE,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "link": lambda **more: read.choice.link("/publik/pembayaran", **{**form, **more}),
            "detail": lambda id_: read.choice.link(f"/publik/pembayaran/{id_}"),
            "months": list(enumerate(fmt.MONTHS, start=1)),
            "kinds": public.VENDOR_KIND_LABEL,
            "statuses": public.STATUS_LABEL,
            "data_link": read.choice.link("/publik/data/"),
            **as_of(read),
        }
        return page(request, "publik_pembayaran.html", context, public=True)

    return cached(request, etag(request, read), render)


@router.get("/publik/pembayaran/{payment_id}")
async def payment(
    request: Request, payment_id: str, pemda: str | None = None, tahun: str | None = None
) -> Response:
    try:
        read = await read_year(request, pemda, tahun)
    except (DomainError, ProblemError) as error:
        return refused(request, error)
    found = read.view.payments.filter(pl.col("id") == payment_id[:MAX_ID]).to_dicts()
    if not found:
        missing = NotFound("Pembayaran ini tidak ada, atau belum final (SP2D belum terbit)")
        return refused(request, missing, read.choice)
    context = {
        "choice": read.choice,
        "p": found[0],
        "kinds": public.VENDOR_KIND_LABEL,
        "statuses": public.STATUS_LABEL,
        "back": read.choice.link("/publik/pembayaran"),
        **as_of(read),
    }
    return cached(request, etag(request, read),
                  lambda: page(request, "publik_pembayaran_satu.html", context, public=True))  # fmt: skip


# -- verification ----------------------------------------------------------------------------------
class Checkpoints:
    """The newest signed checkpoint of each store, read again at most every ``ttl`` seconds."""

    def __init__(self, ttl: float = CHECKPOINT_SECONDS) -> None:
        self.ttl = ttl
        self._kept: dict[str, tuple[float, Signed | None]] = {}
        self._lock = threading.Lock()

    def newest(self, tenant: Tenant) -> Signed | None:
        """Blocking (run it in a worker thread)."""
        url, now = tenant.ledger.url, time.monotonic()
        with self._lock:
            kept = self._kept.get(url)
        if kept is not None and now - kept[0] < self.ttl:
            return kept[1]
        try:
            signed = latest_checkpoint(tenant.ledger, None)
        except InvalidInput:  # an in-memory store keeps no hash chain
            signed = None
        with self._lock:
            self._kept[url] = (now, signed)
        return signed


def checkpoints_of(request: Request) -> Checkpoints:
    state = request.app.state
    found = getattr(state, "kasda_public_checkpoints", None)
    if not isinstance(found, Checkpoints):
        found = Checkpoints()
        state.kasda_public_checkpoints = found
    return found


@router.get("/publik/verifikasi")
async def verification(
    request: Request, pemda: str | None = None, tahun: str | None = None
) -> Response:
    try:
        read = await read_year(request, pemda, tahun)
        tenant = await tenant_for(request, read.choice.pemda)
    except (DomainError, ProblemError) as error:
        return refused(request, error)
    signed = await to_thread.run_sync(checkpoints_of(request).newest, tenant)
    mark = None if signed is None else (signed.checkpoint.position, signed.checkpoint.signature)
    context = {
        "choice": read.choice,
        "signed": signed,
        "checkpoint_link": read.choice.link("/publik/verifikasi/checkpoint.json"),
        "covered": signed is not None and signed.checkpoint.position >= read.position,
        **as_of(read),
    }
    return cached(request, etag(request, read, mark),
                  lambda: page(request, "publik_verifikasi.html", context, public=True))  # fmt: skip


@router.get("/publik/verifikasi/checkpoint.json")
async def checkpoint_json(request: Request, pemda: str | None = None) -> Response:
    try:
        tenant = await tenant_for(request, (pemda or "").strip() or None)
    except (DomainError, ProblemError) as error:
        return refused(request, error)
    signed = await to_thread.run_sync(checkpoints_of(request).newest, tenant)
    if signed is None:
        return refused(request, NotFound("Belum ada checkpoint bertanda tangan"))
    made = signed.checkpoint
    return Response(
        made.to_json() + "\n",
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="checkpoint-{made.position}.json"',
            "Cache-Control": f"public, max-age={MAX_AGE}",
        },
    )
