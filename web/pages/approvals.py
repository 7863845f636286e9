"""The approval queue (``/antrean``) of the officials who decide on payments: what waits for the
signed-in PPK-SKPD, PA/KPA or Kuasa BUD (in their SKPD, for the SKPD-bound roles), oldest first,
with its amount and how long it has waited; each links to its payment page, where the step is
taken. The same queue as the API's ``GET /pemda/{p}/reports/queues/{role}`` and Beranda's card."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api import auth
from api.deps import Offset
from projections import queries as q
from projections.db import ReadDatabase
from web import format as fmt
from web.deps import Need, fetch
from web.nav import NavItem
from web.pages.home import DECIDERS
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)
# The roles that decide a step (verify, approve, authorise): the API's guard of a rejection.
Decider = Annotated[Session, Depends(Need.like(auth.REJECT))]

NAV = [NavItem("Antrean saya", "/antrean", frozenset(DECIDERS))]
PAGES = {role: ["/antrean"] for role in DECIDERS}
PER_PAGE = 25


@dataclass(frozen=True, slots=True)
class Queue:
    total: int
    items: list[dict[str, Any]]


@router.get("/antrean")
async def queue(request: Request, session: Decider, offset: Offset = 0) -> Response:
    who = session.principal
    now = datetime.now(fmt.WIB)

    def query(db: ReadDatabase) -> Queue:
        total = q.queue_sizes(db, who.pemda, skpd=who.skpd).get(who.role.value, 0)
        frame = q.approval_queue(
            db, who.pemda, who.role.value, limit=PER_PAGE, offset=offset, skpd=who.skpd
        )
        items = [row | {"age": fmt.umur(row["since"], now)} for row in frame.iter_rows(named=True)]
        return Queue(total, items)

    found = await fetch(request, query)
    return page(
        request,
        "approvals_queue.html",
        {"queue": found, "title": DECIDERS[who.role], "limit": PER_PAGE, "offset": offset},
        session=session,
    )
