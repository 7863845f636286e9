"""Open data (``/publik/data/``), no sign-in: the index of the files per pemda and year with the
data dictionary, ``kamus.json``, and the files themselves (``opendata``; docs/opendata.md).

The routes are thin: the parameters are checked and the file made by ``opendata.files`` in a
worker thread, on the read models as they are now (``ReadModels.read`` without ``latest``: a
download never waits for the projector, nor makes it work). Each file has an ETag from the log
position the read models had reached; ``If-None-Match`` with it is a 304, and a file rendered once
is kept per (store, dataset, pemda, year, position) in a bounded cache (``opendata.cache``).
A file's refusal is ``application/problem+json`` in Indonesian; the index's is an error page.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.problems import ProblemError, problem_response, status_for
from api.readmodels import POSITION_HEADER
from api.tenants import Tenant, Tenants, tenant_of
from ledger.errors import DomainError, NotFound
from opendata.cache import Renditions
from opendata.dictionary import DATASETS, data_package, tables
from opendata.files import Context, Wanted, checked_pemda, checked_year, produce
from projections import public
from projections import queries as q
from projections.db import ReadDatabase
from web.render import page

router = APIRouter(include_in_schema=False)
# The paths anyone can open signed out, without parameters (``web.pages.public_pages``: the
# accessibility test visits them signed out).
PUBLIC = ["/publik/data/"]

MAX_AGE = 60  # seconds a browser or proxy may reuse a file without asking again
DICTIONARY_MAX_AGE = 3600
# Open data: any site may fetch it from a browser (no cookie is read, the answer is everyone's).
_OPEN = {"Access-Control-Allow-Origin": "*"}


def base_url(request: Request) -> str:
    configured = request.app.state.settings.pages.public_url
    return str(configured or request.base_url).rstrip("/")


def renditions(request: Request) -> Renditions:
    """The app's cache of rendered files, made on first use."""
    state = request.app.state
    if not hasattr(state, "opendata_renditions"):
        state.opendata_renditions = Renditions()
    found: Renditions = state.opendata_renditions
    return found


@router.get("/publik/data/kamus.json")
async def dictionary(request: Request) -> JSONResponse:
    cache = f"public, max-age={DICTIONARY_MAX_AGE}"
    return JSONResponse(data_package(base_url(request)),
                        headers={"Cache-Control": cache, **_OPEN})  # fmt: skip


@router.get("/publik/data/{file}")
async def download(
    request: Request, file: str, pemda: str | None = None, tahun: str | None = None
) -> Response:
    try:
        wanted = Wanted.parse(file, pemda, tahun)
        tenant = await tenant_of(request, wanted.pemda)
        context = Context(id(tenant.read_models), renditions(request), base_url(request),
                          request.app.state.settings.pages.ocds_prefix)  # fmt: skip
        held = request.headers.get("if-none-match")
        produced, _ = await tenant.read_models.read(
            lambda db: produce(db, wanted, context, held), latest=False
        )
    except DomainError as error:
        return problem_response(request, status_for(error), error.rule, error.message,
                                headers=_OPEN)  # fmt: skip
    except ProblemError as error:  # a pemda this process does not serve, a store opening
        return problem_response(request, error.status, error.rule, error.detail,
                                headers={**(error.headers or {}), **_OPEN})  # fmt: skip
    headers = {"ETag": produced.etag, "Cache-Control": f"public, max-age={MAX_AGE}",
               POSITION_HEADER: str(produced.position), **_OPEN}  # fmt: skip
    if produced.body is None:
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{wanted.filename}"'
    return Response(produced.body, media_type=wanted.dataset.media_type, headers=headers)


@dataclass(frozen=True, slots=True)
class Listed:
    """One pemda's year on the index, with the position its list was read at."""

    pemda: str
    year: int
    position: int


@router.get("/publik/data/", response_class=HTMLResponse)
async def index(request: Request, pemda: str | None = None, tahun: str | None = None) -> Response:
    only = checked_pemda(pemda) if pemda else None
    year = checked_year(tahun) if tahun else None
    listed = [item for item in await _listed(request, only) if year in (None, item.year)]
    if (only or year) and not listed:
        raise NotFound(
            f"tidak ada APBD pemda {only or '(semua)'} tahun {year or '(semua)'} di sini"
        )
    return page(request, "opendata.html", {
        "listed": listed, "datasets": list(DATASETS.values()), "tables": tables(),
        "pemda": only, "tahun": year,
    })  # fmt: skip


async def _listed(request: Request, only: str | None) -> list[Listed]:
    tenants: Tenants = request.app.state.tenants
    if tenants.per_pemda:  # a store per pemda: those opened, or the one asked for
        served: list[tuple[str | None, Tenant]] = (
            [(only, await tenant_of(request, only))] if only
            else [(p, t) for p, t in sorted(tenants.opened().items())]
        )  # fmt: skip
    else:
        served = [(only, await tenant_of(request, only or "shared"))]
    listed: list[Listed] = []
    for code, tenant in served:
        found, _ = await tenant.read_models.read(partial(_years, pemda=code), latest=False)
        listed += found
    return listed


def _years(db: ReadDatabase, pemda: str | None) -> list[Listed]:
    at = q.position(db)
    codes = [pemda] if pemda else public.pemdas(db)
    return [Listed(code, year, at) for code in codes for year in public.years(db, code)]
