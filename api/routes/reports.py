"""Reads of the projections (``projections/``): the LRA, a vendor's statement, the RKUD's cash
position by day and the approval queues.

Every answer is computed on what the read models hold now (``freshness=recent``, the default: no
wait, at most about 0.5 s behind), on models that include at least a position a write returned
(``after=<CommandOut.position>``: read-your-writes) or on models that include everything recorded
before the request (``freshness=latest``), see ``api/readmodels.py``. Each answer names the
projection position it reflects, in the body (``position``) and in the header
``X-Kasda-Projection-Position``. ``after`` beyond the log's head is a 422 (``position_not_recorded``).
Query parameters are validated at the edge (a
level, role or date that does not exist, a limit out of range: 422) before any SQL runs.

An official of one SKPD (PPTK, bendahara, PPK, PA/KPA) reads its own SKPD only: the LRA of its lines,
the payments of its SKPD in a vendor's statement (and their totals), its SKPD's queues. The RKUD's
cash position is the treasury's, one account for the whole pemda, and is the same for every reader.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Depends, Path, Query, Response
from pydantic import AwareDatetime

from api import auth
from api.auth import Principal
from api.deps import After, Freshness, Limit, Offset, ReadModelsDep, Serve, Served, page
from api.models import (
    CashDayOut,
    CashPositionOut,
    LraOut,
    LraRowOut,
    Page,
    QueueItemOut,
    QueueOut,
    QueueSizesOut,
    StatementPaymentOut,
    StatementTotalsOut,
    VendorOut,
    VendorStatementOut,
)
from api.problems import responses
from api.readmodels import POSITION_HEADER
from api.routing import AreaRouter
from ledger import ids
from ledger.codes import normalise_skpd
from ledger.errors import InvalidInput, NotFound
from ledger.fields import MAX_YEAR, MIN_YEAR
from ledger.roles import Role
from ledger.vendor import normalise_npwp
from projections import nomenclature
from projections import queries as q
from projections.db import ReadDatabase

router = AreaRouter(
    prefix="/pemda/{pemda}", tags=["reports"], responses=responses(401, 403, 404, 422)
)

Reader = Annotated[Principal, Depends(auth.READ_BOOKS)]
PaymentReader = Annotated[Principal, Depends(auth.READ_PAYMENTS)]
QUEUE_READERS = auth.Allow(*auth.OFFICIALS, Role.GATEWAY)
QueueReader = Annotated[Principal, Depends(QUEUE_READERS)]

LevelName = Literal[
    "skpd", "program", "kegiatan", "subkegiatan", "akun", "kelompok", "jenis", "objek",
    "rincian", "rekening",
]  # fmt: skip
QueueRole = Literal["ppk", "pa_kpa", "kuasa_bud", "gateway"]
QUEUE_ROLES: tuple[str, ...] = ("ppk", "pa_kpa", "kuasa_bud", "gateway")
PaymentStatus = Literal[
    "requested", "verified", "approved", "authorised", "sent", "settled", "failed", "returned",
    "rejected", "cancelled",
]  # fmt: skip
MAX_DAY_LIMIT = 500


POSITIONED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the answer, with the projection position it reflects",
        "headers": {
            POSITION_HEADER: {
                "description": "the position in the ledger's log that this answer reflects",
                "schema": {"type": "integer", "minimum": 0},
            }
        },
    }
}


def _persen(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}"


# -- LRA ---------------------------------------------------------------------------------------
@router.get(
    "/lra",
    summary="Budget realisation report (LRA) at any level, now or as of a day",
    responses=POSITIONED,
    openapi_extra=auth.READ_BOOKS.doc,
)
async def lra(
    served: Annotated[Served, Depends(Serve(auth.READ_BOOKS))],  # the guard and the tenant at once
    response: Response,
    year: Annotated[int, Query(ge=MIN_YEAR, le=MAX_YEAR, description="fiscal year")],
    level: Annotated[LevelName, Query(description="rows per this level")] = "skpd",
    as_of: Annotated[
        date | None, Query(description="end of this day in the pemda's time zone; absent: now")
    ] = None,
    skpd: Annotated[
        str | None,
        Query(
            max_length=40,
            description="only this SKPD's lines (its code; unpadded segments are normalised)",
            examples=["1.01.0.00.0.00.01.0000"],
        ),
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    freshness: Freshness = "recent",
    after: After = None,
) -> LraOut:
    def build(db: ReadDatabase) -> tuple[list[LraRowOut], dict[str, int], bool]:
        # In the worker thread with the query: Polars and the row models are CPU work.
        lines = q.lra_lines(db, who.pemda, year, as_of, skpd=unit)
        if lines.is_empty():
            raise NotFound(
                f"no APBD {year} of pemda {who.pemda}"
                + (f" with lines of SKPD {unit}" if unit else "")
                + (f" as of {as_of}" if as_of else "")
            )
        rows = [
            LraRowOut(
                side=r["side"],
                kode=r["kode"],
                uraian=r["uraian"],
                anggaran=r["anggaran"],
                committed=r["committed"],
                realisasi=r["realisasi"],
                sisa=r["anggaran"] - r["committed"] - r["realisasi"],
                lebih_kurang=r["lebih_kurang"],
                persen_bp=r["persen_bp"],
                persen=_persen(r["persen_bp"]),
                lines=r["lines"],
            )
            for r in q.rollup(lines, level).iter_rows(named=True)
        ]
        # Tutup tahun: a closed year's LRA is final (as of a day before the close it is not).
        return rows, q.lra_totals(lines), q.year_closed(db, who.pemda, year, as_of) is not None

    who, models = served.who, served.tenant.read_models
    unit = None if skpd is None else normalise_skpd(skpd)  # a bad code: 4xx before any read
    if who.skpd is not None:  # an SKPD-bound official reads its own SKPD's LRA, and only that
        if unit is not None:
            who.require_skpd(unit, "the LRA")
        unit = who.skpd
    (rows, totals, final), position = await models.read(
        build,
        key=("lra", who.pemda, year, level, as_of, unit),
        latest=freshness == "latest",
        after=after,
    )
    response.headers[POSITION_HEADER] = str(position)
    return LraOut(
        pemda=who.pemda,
        year=year,
        level=level,
        as_of=as_of,
        skpd=unit,
        skpd_uraian=None if unit is None else nomenclature.uraian("skpd", unit),
        position=position,
        rows=page(rows, limit, offset),
        totals=totals,
        catatan=q.SIGN_NOTE,
        final=final,
    )


# -- vendor statement --------------------------------------------------------------------------
VendorRef = Annotated[
    str,
    Path(
        max_length=40,
        description="the vendor's id (UUID) or its NPWP (15 or 16 digits, dots and dashes allowed)",
        examples=["012345678901000"],
    ),
]


def _vendor_id(pemda: str, ref: str) -> UUID:
    """The vendor a path names: its UUID, or the id its NPWP has in this pemda."""
    try:
        return UUID(ref)
    except ValueError:
        return ids.vendor_id(pemda, normalise_npwp(ref))


@router.get(
    "/vendors/{vendor_id}/statement",
    summary="A vendor's statement: every payment to it (a vendor sees only its own)",
    responses=POSITIONED,
    openapi_extra=auth.READ_PAYMENTS.doc,
)
async def vendor_statement(
    vendor_id: VendorRef,
    who: PaymentReader,
    models: ReadModelsDep,
    response: Response,
    status: Annotated[
        PaymentStatus | None, Query(description="only payments in this status")
    ] = None,
    year: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR, description="fiscal year")] = None,
    requested_from: Annotated[
        AwareDatetime | None, Query(description="requested at or after (ISO 8601 with a zone)")
    ] = None,
    requested_to: Annotated[
        AwareDatetime | None, Query(description="requested before (ISO 8601 with a zone)")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    freshness: Freshness = "recent",
    after: After = None,
) -> VendorStatementOut:
    wanted = _vendor_id(who.pemda, vendor_id)
    absent = NotFound(f"no vendor {vendor_id} in pemda {who.pemda}")
    if who.role is Role.VENDOR and wanted != who.vendor_id:
        raise absent  # another vendor: as if it did not exist, so nothing leaks
    if requested_from is not None and requested_to is not None and requested_from > requested_to:
        raise InvalidInput("requested_from must not be after requested_to")

    def build(db: ReadDatabase) -> tuple[q.Statement | None, list[StatementPaymentOut]]:
        # In the worker thread with the query: validating a page of rows is CPU work.
        found = q.statement(
            db,
            who.pemda,
            str(wanted),
            year=year,
            status=status,
            requested_from=requested_from,
            requested_to=requested_to,
            limit=limit,
            offset=offset,
            skpd=who.skpd,
        )
        payments = [] if found is None else found.payments
        return found, [StatementPaymentOut.model_validate(p) for p in payments]

    (found, items), position = await models.read(build, latest=freshness == "latest", after=after)
    if found is None:
        raise absent
    response.headers[POSITION_HEADER] = str(position)
    vendor, totals = found.vendor, found.totals
    following = offset + len(items)
    return VendorStatementOut(
        vendor=VendorOut(
            id=vendor["vendor_id"],
            npwp=vendor["npwp"],
            name=vendor["name"],
            kind=vendor["kind"],
            active=bool(vendor["active"]),
        ),
        position=position,
        totals=StatementTotalsOut(**totals),
        payments=Page[StatementPaymentOut](
            items=items,
            total=totals["payments"],
            limit=limit,
            offset=offset,
            next_offset=following if following < totals["payments"] else None,
        ),
    )


# -- cash position -----------------------------------------------------------------------------
@router.get(
    "/cash-position",
    summary="The RKUD's cash position by day: in, out, net and closing balance",
    responses=POSITIONED,
    openapi_extra=auth.READ_BOOKS.doc,
)
async def cash_position(
    who: Reader,
    models: ReadModelsDep,
    response: Response,
    start: Annotated[date | None, Query(alias="from", description="first day (YYYY-MM-DD)")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (YYYY-MM-DD)")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_DAY_LIMIT, description=f"days per page, 1..{MAX_DAY_LIMIT}")
    ] = 366,
    offset: Offset = 0,
    freshness: Freshness = "recent",
    after: After = None,
) -> CashPositionOut:
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"from ({start}) must not be after to ({end})")

    def build(db: ReadDatabase) -> list[CashDayOut]:
        frame = q.cash_position(db, who.pemda, start=start, end=end)
        return [CashDayOut.model_validate(r) for r in frame.iter_rows(named=True)]

    days, position = await models.read(build, latest=freshness == "latest", after=after)
    response.headers[POSITION_HEADER] = str(position)
    return CashPositionOut(start=start, end=end, position=position, days=page(days, limit, offset))


# -- approval queues ---------------------------------------------------------------------------
@router.get(
    "/queues",
    summary="How many payments wait for each role",
    responses=POSITIONED,
    openapi_extra=QUEUE_READERS.doc,
)
async def queue_sizes(
    who: QueueReader,
    models: ReadModelsDep,
    response: Response,
    freshness: Freshness = "recent",
    after: After = None,
) -> QueueSizesOut:
    sizes, position = await models.read(
        lambda db: q.queue_sizes(db, who.pemda, skpd=who.skpd),
        latest=freshness == "latest",
        after=after,
    )
    response.headers[POSITION_HEADER] = str(position)
    return QueueSizesOut(position=position, sizes={r: sizes.get(r, 0) for r in QUEUE_ROLES})


def _queue(
    db: ReadDatabase, who: Principal, role: str, limit: int, offset: int
) -> tuple[int, list[QueueItemOut]]:
    total = q.queue_sizes(db, who.pemda, skpd=who.skpd).get(role, 0)
    frame = q.approval_queue(db, who.pemda, role, limit=limit, offset=offset, skpd=who.skpd)
    return total, [QueueItemOut.model_validate(r) for r in frame.iter_rows(named=True)]


@router.get(
    "/queues/{role}",
    summary="What waits for one role, oldest first",
    responses=POSITIONED,
    openapi_extra=QUEUE_READERS.doc,
)
async def queue(
    role: Annotated[QueueRole, Path(description="the role the payments wait for")],
    who: QueueReader,
    models: ReadModelsDep,
    response: Response,
    limit: Limit = 100,
    offset: Offset = 0,
    freshness: Freshness = "recent",
    after: After = None,
) -> QueueOut:
    (total, items), position = await models.read(
        lambda db: _queue(db, who, role, limit, offset),
        latest=freshness == "latest",
        after=after,
    )
    following = offset + len(items)
    response.headers[POSITION_HEADER] = str(position)
    return QueueOut(
        role=role,
        position=position,
        items=Page[QueueItemOut](
            items=items,
            total=total,
            limit=limit,
            offset=offset,
            next_offset=following if following < total else None,
        ),
    )
