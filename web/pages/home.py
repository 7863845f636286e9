"""Beranda: what waits for the signed-in user, with counts and how long the oldest has waited.
Each page module adds its own cards (``cards(db, session, now)``, ``web/pages/__init__.py``); this
one shows the approval queue of the officials who decide on payments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledger.roles import Role
from projections import queries as q
from projections.db import ReadDatabase
from web import format as fmt
from web.deps import Viewer, fetch
from web.nav import EVERYONE, NavItem
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)
NAV = [NavItem("Beranda", "/beranda", EVERYONE)]
PAGES = {role: ["/beranda"] for role in EVERYONE}

# The steps that wait for a person, and the words for them.
# The Kuasa BUD's queue also holds failed transfers (``transfers.cards`` counts those).
DECIDERS = {
    Role.PPK: ("SPP menunggu verifikasi", "verify"),
    Role.PA_KPA: ("SPM menunggu persetujuan", "approve"),
    Role.KUASA_BUD: ("SPM menunggu penerbitan SP2D", "authorise"),
}


@dataclass(frozen=True, slots=True)
class Card:
    """One thing that waits: how many, since when, and where to act on it."""

    title: str
    count: int
    link: str
    oldest: str | None = None  # how long the oldest has waited (``web.format.umur``)
    note: str = ""


CardSource = Callable[[ReadDatabase, Session, datetime], list[Card]]


def queue_cards(db: ReadDatabase, session: Session, now: datetime) -> list[Card]:
    who = session.principal
    if who.role not in DECIDERS:
        return []
    title, step = DECIDERS[who.role]
    sizes = q.queue_sizes(db, who.pemda, skpd=who.skpd, step=step)
    count = sizes.get(who.role.value, 0)
    oldest = None
    if count:
        first = q.approval_queue(db, who.pemda, who.role.value, limit=1, skpd=who.skpd, step=step)
        oldest = fmt.umur(first["since"][0], now)
    return [Card(title, count, "/antrean", oldest)]


def _sources() -> list[CardSource]:
    from web.pages import MODULES

    extra: list[CardSource] = [m.cards for m in MODULES if callable(getattr(m, "cards", None))]
    return [queue_cards, *extra]


@router.get("/beranda")
async def beranda(request: Request, session: Viewer) -> Response:
    now = datetime.now(fmt.WIB)
    sources = _sources()

    def query(db: ReadDatabase) -> list[Card]:
        return [card for source in sources for card in source(db, session, now)]

    cards = await fetch(request, query)
    return page(request, "home.html", {"cards": cards})
