"""One router per area. To add a route area: write ``api/routes/<area>.py`` with a ``router`` and
list it in ``ROUTERS`` below (``create_app`` includes them in order)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

from api.routes import (
    advance,
    audit,
    budgets,
    cashplan,
    disbursements,
    exports,
    feed,
    me,
    reconciliation,
    redflags,
    reports,
    revenue,
    vendors,
    years,
)

ROUTERS: list[APIRouter] = [
    me.router,
    budgets.router,
    cashplan.router,
    vendors.router,
    disbursements.router,
    advance.router,
    revenue.router,
    audit.router,
    reports.router,
    exports.router,  # files for SIPD and e-Bupot
    reconciliation.router,
    redflags.router,
    years.router,  # tutup tahun
    feed.router,  # the event feed: BPKAD's subscriptions and deliveries
]


def _route(router: APIRouter, endpoint: object) -> APIRoute:
    [route] = [r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is endpoint]
    return route


# Answered directly when plainly asked (``api.routing.DirectReads``): half and a fifth of the
# API's traffic in ``benchmarks/bench_api.py``'s mix.
DIRECT_READS: list[APIRoute] = [
    _route(disbursements.router, disbursements.get_disbursement),
    _route(disbursements.router, disbursements.get_history),
]
