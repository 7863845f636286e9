"""The event feed (docs/feed.md): BPKAD's subscriptions and their deliveries, and the subscribers'
pull route.

Under ``/pemda/{pemda}/feed`` (bpkad_admin): make, list, read, change the kinds of, pause, resume,
rotate the secret of and delete a subscription (ledger commands, ``ledger.feed``); list dead letters,
replay them, rewind a subscriber (the delivery state, ``feed.delivery``: not ledger facts, each
recorded in ``feed_action`` with who and when).

``GET /feed/{pemda}/events?after=&limit=`` is the subscribers' own: no user token but the
subscription's pull token (``Authorization: Bearer <id>.<hex>``), and it answers the subscriber's
pemda and kinds only, as a CloudEvents batch. Everything here reads the read models.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from api import auth
from api.auth import Principal
from api.deps import IdempotencyKey, Limit, Offset, ReadModelsDep, WriterDep, page, read, run
from api.feed_models import (
    MAX_POSITION,
    ChangeKindsIn,
    CreateSubscriptionIn,
    DeadLetterOut,
    ReplayIn,
    ReplayOut,
    RewindIn,
    RewindOut,
    SubscriptionCommandOut,
    SubscriptionOut,
    subscription_out,
)
from api.models import Page
from api.problems import ProblemError, responses
from api.readmodels import POSITION_HEADER
from api.routing import AreaRouter
from api.settings import ApiSettings
from api.tenants import request_tenant
from feed import events, signing
from feed.delivery import Deliveries
from ledger import commands as c
from ledger import roles
from ledger.errors import NotFound
from projections import feed_queries as fq
from projections.db import ReadDatabase

router = AreaRouter(
    prefix="/pemda/{pemda}/feed", tags=["feed"], responses=responses(401, 403, 404, 422)
)
pull_router = APIRouter(prefix="/feed/{pemda}", tags=["feed"])

ADMIN = auth.Allow(*roles.FEED_ADMIN)
Admin = Annotated[Principal, Depends(ADMIN)]
SubscriptionId = Annotated[UUID, Path(description="the subscription's id, as making it answered")]
WRITE = responses(409)
MAX_PULL = 1_000


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def _answer(
    request: Request,
    writer: WriterDep,
    command: c.Command,
    response: Response,
    *,
    secret: bool = False,
) -> SubscriptionCommandOut:
    out = await run(writer, command, response)
    answer = SubscriptionCommandOut(**out.model_dump())
    if secret:  # derived now from the key, the id and the rotation: never stored
        key, rotation = _settings(request).events.key, int(out.result["rotation"])
        answer.secret = signing.secret(key, out.id, rotation)
        answer.pull_token = signing.pull_token(key, out.id, rotation)
    return answer


@router.post(
    "/subscriptions",
    status_code=201,
    openapi_extra=ADMIN.doc,
    responses=WRITE,
    summary="Subscribe one of the pemda's systems to kinds of events",
)
async def create_subscription(
    body: CreateSubscriptionIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    request: Request,
    response: Response,
) -> SubscriptionCommandOut:
    command = c.CreateFeedSubscription(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        name=body.name,
        url=body.url,
        kinds=tuple(body.kinds),
    )
    return await _answer(request, writer, command, response, secret=True)


def _command(
    kind: type[c.FeedSubscriptionCommand],
) -> Callable[..., Awaitable[SubscriptionCommandOut]]:
    async def change(
        subscription_id: SubscriptionId,
        who: Admin,
        key: IdempotencyKey,
        writer: WriterDep,
        request: Request,
        response: Response,
    ) -> SubscriptionCommandOut:
        command = kind(
            idempotency_key=key, actor=who.actor, pemda=who.pemda, subscription_id=subscription_id
        )
        return await _answer(request, writer, command, response, secret=kind is c.RotateFeedSecret)

    return change


for _path, _kind, _summary in (
    ("pause", c.PauseFeedSubscription, "Stop deliveries for now (the cursor stays)"),
    ("resume", c.ResumeFeedSubscription, "Deliver again, from where it stopped"),
    ("rotate", c.RotateFeedSecret, "A new secret and pull token; the old ones stop working"),
    ("delete", c.DeleteFeedSubscription, "End the subscription (for good; its record stays)"),
):
    router.post(
        f"/subscriptions/{{subscription_id}}/{_path}",
        summary=_summary,
        openapi_extra=ADMIN.doc,
        responses=WRITE,
        name=f"feed_{_path}",
    )(_command(_kind))


@router.post(
    "/subscriptions/{subscription_id}/kinds",
    openapi_extra=ADMIN.doc,
    responses=WRITE,
    summary="Change the kinds of events a subscriber hears",
)
async def change_kinds(
    subscription_id: SubscriptionId,
    body: ChangeKindsIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    request: Request,
    response: Response,
) -> SubscriptionCommandOut:
    command = c.ChangeFeedSubscriptionKinds(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        subscription_id=subscription_id,
        kinds=tuple(body.kinds),
    )
    return await _answer(request, writer, command, response)


@router.get(
    "/subscriptions",
    openapi_extra=ADMIN.doc,
    summary="The pemda's subscriptions, deleted ones too, in the order made",
)
async def list_subscriptions(
    who: Admin, models: ReadModelsDep, response: Response, limit: Limit = 100, offset: Offset = 0
) -> Page[SubscriptionOut]:
    def build(db: ReadDatabase) -> Page[SubscriptionOut]:
        found = fq.subscriptions(db, who.pemda, limit=MAX_POSITION, offset=0)
        return page([subscription_out(r["subscription"]) for r in found.rows], limit, offset)

    return await read(models, build, response)


def _owned(db: ReadDatabase, pemda: str, subscription_id: UUID) -> fq.Subscription:
    found = fq.subscription(db, pemda, str(subscription_id))
    if found is None:  # none, or another pemda's: the same answer
        raise NotFound(f"no feed subscription {subscription_id} in pemda {pemda}")
    return found


@router.get(
    "/subscriptions/{subscription_id}",
    openapi_extra=ADMIN.doc,
    summary="One subscription and its delivery: cursor, pending, dead letters",
)
async def get_subscription(
    subscription_id: SubscriptionId, who: Admin, models: ReadModelsDep, response: Response
) -> SubscriptionOut:
    def build(db: ReadDatabase) -> SubscriptionOut:
        found = _owned(db, who.pemda, subscription_id)
        return subscription_out(found, Deliveries(db).status(found.id))

    return await read(models, build, response)


@router.get(
    "/subscriptions/{subscription_id}/dead-letters",
    openapi_extra=ADMIN.doc,
    summary="Events given up on after the last attempt, oldest first",
)
async def dead_letters(
    subscription_id: SubscriptionId,
    who: Admin,
    models: ReadModelsDep,
    response: Response,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[DeadLetterOut]:
    def build(db: ReadDatabase) -> Page[DeadLetterOut]:
        found = _owned(db, who.pemda, subscription_id)
        rows, total = Deliveries(db).dead_letters(found.id, limit=limit, offset=offset)
        following = offset + len(rows)
        return Page[DeadLetterOut](
            items=[DeadLetterOut(**r) for r in rows],
            total=total,
            limit=limit,
            offset=offset,
            next_offset=following if following < total else None,
        )

    return await read(models, build, response)


@router.post(
    "/subscriptions/{subscription_id}/dead-letters/replay",
    openapi_extra=ADMIN.doc,
    summary="Deliver dead letters again (one, or all), attempts counted anew",
)
async def replay(
    subscription_id: SubscriptionId,
    body: ReplayIn,
    who: Admin,
    key: IdempotencyKey,
    models: ReadModelsDep,
    response: Response,
) -> ReplayOut:
    def build(db: ReadDatabase) -> ReplayOut:
        found = _owned(db, who.pemda, subscription_id)
        return ReplayOut(replayed=Deliveries(db).replay(found.id, body.position, who.user_id))

    return await read(models, build, response)


@router.post(
    "/subscriptions/{subscription_id}/rewind",
    openapi_extra=ADMIN.doc,
    summary="Deliver again every event after a position",
)
async def rewind(
    subscription_id: SubscriptionId,
    body: RewindIn,
    who: Admin,
    key: IdempotencyKey,
    models: ReadModelsDep,
    response: Response,
) -> RewindOut:
    if body.position > models.head():
        raise ProblemError(
            422, "position_not_recorded", f"position {body.position} is beyond the log's head"
        )

    def build(db: ReadDatabase) -> RewindOut:
        found = _owned(db, who.pemda, subscription_id)
        Deliveries(db).rewind(found.id, body.position, who.user_id)
        return RewindOut(cursor=body.position)

    return await read(models, build, response)


# -- the subscribers' pull route ------------------------------------------------------------------
def _refused(detail: str) -> ProblemError:
    return ProblemError(
        401,
        "authentication_required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="kasda-feed"'},
    )


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or signing.token_subscription(token.strip()) is None:
        raise _refused("send the subscription's pull token: Authorization: Bearer <id>.<hex>")
    return token.strip()


@pull_router.get(
    "/events",
    summary="Pull the feed by position (the subscription's pull token, not a user's)",
    response_class=JSONResponse,
    responses={
        304: {"description": "not modified: the same page as the `If-None-Match` ETag"},
        200: {
            "content": {events.BATCH_CONTENT_TYPE: {}},
            "description": "a CloudEvents batch, oldest first",
        },
        **responses(401, 404, 422),
    },
)
async def pull(
    pemda: Annotated[str, Path(min_length=1, max_length=16)],
    request: Request,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="the last position the subscriber has")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PULL, description=f"1..{MAX_PULL}")] = 100,
) -> Response:
    token = _bearer(request)
    key = _settings(request).events.key
    try:
        models = (await request_tenant(request)).read_models
    except ProblemError as error:  # a pemda not served: the token cannot be one of its own
        raise _refused("not a valid pull token for this pemda") from error

    def build(db: ReadDatabase) -> list[fq.FeedEvent]:
        found = fq.subscription(db, pemda, token.partition(".")[0])
        if (
            found is None
            or found.state == "deleted"
            or not signing.token_valid(key, token, found.rotation)
        ):
            raise _refused("not a valid pull token for this pemda")
        return fq.feed(db, pemda, found.allowed_kinds, after=after, limit=limit)

    found, position = await models.read(build, latest=True)
    headers = {
        POSITION_HEADER: str(position),
        "X-Kasda-Feed-Next-After": str(found[-1].position if found else after),
        # The log position validates the answer: the same URL for the same subscriber at the same
        # position is the same page (a change of its kinds or its rotation moves the position).
        "ETag": f'"{token.partition(".")[0]}:{position}"',
    }
    if headers["ETag"] in _tags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    batch = [events.cloud_event(e) for e in found]
    return JSONResponse(batch, media_type=events.BATCH_CONTENT_TYPE, headers=headers)


def _tags(header: str) -> set[str]:
    """The entity tags of an ``If-None-Match`` header (weak ones compared as strong)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
