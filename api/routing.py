"""Routing of the API's areas: a router that says at once when a path cannot be one of its routes.

FastAPI tries the routes of every included router in turn, each with its regular expression, until
one matches: a request for the LRA tried some 60 routes first (about 0.1 to 0.2 ms of CPU, a tenth
of a whole request, measured with ``benchmarks/bench_api.py``). Every route of an area router
starts with ``/pemda/{pemda}/<area>``, so an ``AreaRouter`` first compares the fourth segment of the
path with its routes' (a set lookup) and answers ``Match.NONE`` when it is none of them; it never
decides a match itself. Where that comparison could be wrong (a route with a parameter or a
``:path`` parameter in the first four segments, a mounted app, an included router, a ``root_path``)
it compares nothing and lets FastAPI try every route, as before.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.routing import Match, Route

AREA_SEGMENT = 3  # "", "pemda", "{pemda}", "<area>"


def area_of(path: str) -> str | None:
    """The fourth segment of ``path`` (``disbursements`` of ``/pemda/32.73/disbursements/x``);
    None when the path has fewer segments."""
    segments = path.split("/", AREA_SEGMENT + 1)
    return segments[AREA_SEGMENT] if len(segments) > AREA_SEGMENT else None


def areas(routes: list[Any]) -> frozenset[str] | None:
    """The fourth segments of ``routes``' paths, if each is a fixed text that decides which
    paths the route can match; None when one of them is not (then nothing is skipped)."""
    found: set[str] = set()
    for route in routes:
        if not isinstance(route, Route):  # an APIRoute is one; a mount or a websocket is not
            return None
        head = route.path.split("/")[: AREA_SEGMENT + 1]
        if len(head) <= AREA_SEGMENT or "{" in head[AREA_SEGMENT]:
            return None
        if any(":path}" in segment for segment in head):  # may stand for several segments
            return None
        found.add(head[AREA_SEGMENT])
    return frozenset(found)


class AreaRouter(APIRouter):
    """An ``APIRouter`` whose ``matches`` skips its routes for a path of another area."""

    _gate: tuple[int, frozenset[str] | None] = (-1, None)  # (number of routes, their areas)

    def matches(self, scope: Any) -> tuple[Match, Any]:
        if scope.get("type") == "http" and not scope.get("root_path"):
            count, gate = self._gate
            if count != len(self.routes):  # routes added since: compute again
                gate = areas(self.routes)
                self._gate = (len(self.routes), gate)
            if gate is not None and area_of(scope["path"]) not in gate:
                return Match.NONE, {}
        return super().matches(scope)
