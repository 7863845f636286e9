"""Files for other systems (``exports``): the LRA in SIPD's flat layout and the taxes withheld in a
month in e-Bupot Unifikasi's layout, as CSV or XLSX, for BPKAD, the Kuasa BUD and the auditor of
the pemda (``auth.EXPORT``; every other role 403, another pemda 404). The e-Bupot file names each
vendor's NPWP in full: it is for the tax office.

Each file is read from the read models as the reports are (``freshness``, ``after``; the position
in ``X-Kasda-Projection-Position``) and named in ``Content-Disposition``. A year, month or day out
of range, or a format other than csv and xlsx, is a 422 problem before anything is read; for the
SIPD file, a year without an APBD (as of that day) is a 404. docs/exports.md describes the
columns."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from fastapi.responses import Response

from api import auth
from api.auth import Principal
from api.deps import After, Freshness, ReadModelsDep
from api.problems import responses
from api.readmodels import POSITION_HEADER
from api.routing import AreaRouter
from exports import ebupot, sipd
from exports.sheets import MEDIA_TYPES
from ledger.errors import NotFound
from ledger.fields import MAX_YEAR, MIN_YEAR
from projections import queries as q
from projections import tax
from projections.db import ReadDatabase

router = AreaRouter(
    prefix="/pemda/{pemda}/exports", tags=["exports"], responses=responses(401, 403, 404, 422)
)
Exporter = Annotated[Principal, Depends(auth.EXPORT)]
Kind = Annotated[Literal["csv", "xlsx"], Path(description="csv, or xlsx (a workbook)")]
Year = Annotated[int, Query(ge=MIN_YEAR, le=MAX_YEAR, description="fiscal / tax year")]

FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file, with the projection position it reflects",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in MEDIA_TYPES.values()
        },
        "headers": {
            POSITION_HEADER: {
                "description": "the position in the ledger's log that this file reflects",
                "schema": {"type": "integer", "minimum": 0},
            },
            "Content-Disposition": {
                "description": "attachment; the file's name",
                "schema": {"type": "string"},
            },
        },
    }
}


def _file(made: bytes, kind: str, name: str, position: int) -> Response:
    return Response(
        made,
        media_type=MEDIA_TYPES[kind],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            POSITION_HEADER: str(position),
        },
    )


@router.get(
    "/sipd-lra.{kind}",
    summary="The LRA per budget line in SIPD's flat layout (CSV or XLSX), now or as of a day",
    response_class=Response,
    responses=FILE,
    openapi_extra=auth.EXPORT.doc,
)
async def sipd_lra(
    kind: Kind,
    who: Exporter,
    models: ReadModelsDep,
    year: Year,
    as_of: Annotated[
        date | None, Query(description="end of this day in the pemda's time zone; absent: now")
    ] = None,
    freshness: Freshness = "recent",
    after: After = None,
) -> Response:
    def build(db: ReadDatabase) -> bytes:
        lines = q.lra_lines(db, who.pemda, year, as_of)
        if lines.is_empty():
            raise NotFound(
                f"no APBD {year} of pemda {who.pemda}" + (f" as of {as_of}" if as_of else "")
            )
        final = q.year_closed(db, who.pemda, year, as_of) is not None
        return sipd.render(kind, lines, who.pemda, year, as_of, q.position(db), final)

    made, position = await models.read(build, latest=freshness == "latest", after=after)
    return _file(made, kind, sipd.filename(who.pemda, year, as_of, kind), position)


@router.get(
    "/ebupot.{kind}",
    summary="Taxes withheld in a month per vendor and tax, in e-Bupot Unifikasi's layout",
    response_class=Response,
    responses=FILE,
    openapi_extra=auth.EXPORT.doc,
)
async def ebupot_month(
    kind: Kind,
    who: Exporter,
    models: ReadModelsDep,
    year: Year,
    month: Annotated[int, Query(ge=1, le=12, description="masa pajak (the SP2D's month)")],
    freshness: Freshness = "recent",
    after: After = None,
) -> Response:
    def build(db: ReadDatabase) -> tuple[bytes, str]:
        found = tax.withheld(db, who.pemda, year, month)
        return ebupot.render(kind, found), ebupot.filename(found, kind)

    (made, name), position = await models.read(build, latest=freshness == "latest", after=after)
    return _file(made, kind, name, position)
