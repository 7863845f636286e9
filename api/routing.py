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

import inspect
import re
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute, serialize_response
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route

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


# A canonical UUID (lowercase, hyphenated): the form every id of the API is written in. Any other
# spelling that FastAPI accepts (upper case, no hyphens, braces) goes the usual way.
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_PEMDA = "[^/]{1,5}"  # the pemda path parameter's own bound (``api.auth.PemdaPath``)


class DirectReads(BaseRoute):
    """The busiest reads (one payment, its history), called without FastAPI's routing and
    dependency solving when the request is their plain form: ``GET``, no query string, the path's
    parameters in the form FastAPI would accept unchanged. Routing among some 20 routes of an
    area (twice: FastAPI matches a request again to handle it) and solving the dependencies cost
    more CPU than the rest of such a request (``benchmarks/bench_api.py``, docs/benchmarks.md).

    Nothing is copied: each is answered by its own route's endpoint, with the route's own guard
    and tenant (the endpoint's ``served`` dependency, an ``api.deps.Serve``), every other
    parameter at its default, and FastAPI's own ``serialize_response`` with the route's response
    model, into the response FastAPI would make (``application/json``, status 200). Errors are
    raised as the endpoint raises them, to the same handlers (problem+json). Any other form of
    request (another method, a query string, an id spelled otherwise, a trailing slash) does not
    match here and reaches the route through FastAPI as before. Placed first among the app's
    routes (``create_app``): no other route of the app matches these paths.
    """

    def __init__(self, routes: list[APIRoute]) -> None:
        self.routes = [
            (_direct_pattern(route), route, _served_dependency(route)) for route in routes
        ]

    def matches(self, scope: Any) -> tuple[Match, Any]:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("query_string")
            or scope.get("root_path")
        ):
            return Match.NONE, {}
        path: str = scope["path"]
        for index, (pattern, _, _) in enumerate(self.routes):
            found = pattern.fullmatch(path)
            if found is not None:
                return Match.FULL, {"path_params": found.groupdict(), _DIRECT: index}
        return Match.NONE, {}

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        _, route, serve = self.routes[scope[_DIRECT]]
        request = Request(scope, receive)
        params = dict(scope["path_params"])
        served = await serve(request, params.pop("pemda"), None)
        arguments = {name: UUID(value) for name, value in params.items()}
        answer = await route.endpoint(served=served, **arguments)
        content = await serialize_response(
            field=route.response_field, response_content=answer, dump_json=True
        )
        response = Response(content=content, media_type="application/json")
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)


_DIRECT = "kasda.direct_read"  # which of ``DirectReads.routes`` matched (an ASGI scope key)


def _direct_pattern(route: APIRoute) -> re.Pattern[str]:
    """The route's path with ``{pemda}`` and every other parameter (each a UUID) as groups."""
    parts = []
    for segment in route.path_format.split("/"):
        if segment == "{pemda}":
            parts.append(f"(?P<pemda>{_PEMDA})")
        elif segment.startswith("{"):
            parts.append(f"(?P<{segment[1:-1]}>{_UUID})")
        else:
            parts.append(re.escape(segment))
    return re.compile("/".join(parts))


def _served_dependency(route: APIRoute) -> Any:
    """The route's ``served`` dependency (an ``api.deps.Serve``), after checking that the route
    is one ``DirectReads`` can call: a GET whose path parameters are the pemda and UUIDs, with a
    response model, and every other parameter with a default."""
    assert route.methods == {"GET"} and route.response_field is not None, route.path
    # FastAPI's defaults, which ``DirectReads.handle`` answers with (status 200, plain JSON).
    assert route.status_code in (None, 200) and route.response_model_by_alias, route.path
    assert isinstance(route.response_class, DefaultPlaceholder), route.path
    assert route.response_model_include is None and route.response_model_exclude is None
    assert not (
        route.response_model_exclude_unset
        or route.response_model_exclude_defaults
        or route.response_model_exclude_none
    ), route.path
    served = [d for d in route.dependant.dependencies if d.name == "served"]
    assert len(served) == 1 and len(route.dependant.dependencies) == 1, route.path
    signature = inspect.signature(route.endpoint)
    for name, parameter in signature.parameters.items():
        if name == "served":
            continue
        if name in route.param_convertors:
            assert parameter.annotation in (UUID, "UUID"), (route.path, name)
        else:
            assert parameter.default is not inspect.Parameter.empty, (route.path, name)
    return served[0].call
