"""Request bodies and response documents of the event feed (``api/routes/feed.py``, docs/feed.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictInt, StrictStr

from api.models import Body, CommandOut, Name
from ledger.feed import MAX_KINDS, MAX_URL

MAX_POSITION = 2**62
Kind = Field(min_length=1, max_length=64)
Kinds = Field(
    min_length=1,
    max_length=MAX_KINDS,
    description="kinds of events (`Disbursement.Settled`) or an aggregate's prefix "
    "(`Disbursement.*`); see docs/feed.md for the list",
    examples=[["Disbursement.Authorised", "Disbursement.Settled", "Budget.*"]],
)


class CreateSubscriptionIn(Body):
    name: Name = Field(examples=["sipd-ri"])
    url: StrictStr = Field(
        min_length=1, max_length=MAX_URL, examples=["https://sipd.example.go.id/kasda/events"]
    )
    kinds: list[StrictStr] = Kinds


class ChangeKindsIn(Body):
    kinds: list[StrictStr] = Kinds


class ReplayIn(Body):
    position: StrictInt | None = Field(
        None,
        ge=0,
        le=MAX_POSITION,
        description="the dead letter to deliver again (its position); null: every dead letter",
    )


class RewindIn(Body):
    position: StrictInt = Field(
        ge=0,
        le=MAX_POSITION,
        description="deliver again every event after this position (0: the whole feed)",
        examples=[48000],
    )


class SubscriptionCommandOut(CommandOut):
    """A subscription command's answer; made or rotated, it carries the subscriber's secret and
    pull token, which are shown here only (they are derived, never stored: docs/feed.md)."""

    secret: str | None = Field(None, description="signs each delivery (X-Kasda-Signature)")
    pull_token: str | None = Field(None, description="`Authorization: Bearer` of the pull route")


class DeliveryOut(BaseModel):
    cursor: int = Field(description="the last feed position taken into deliveries")
    pending: int
    dead: int


class SubscriptionOut(BaseModel):
    id: str
    name: str
    url: str
    kinds: list[str]
    state: str = Field(examples=["active"], description="active, paused or deleted")
    rotation: int = Field(description="how many times the secret was rotated")
    created_at: str
    created_by: str
    changed_at: str
    changed_by: str
    delivery: DeliveryOut | None = None


class DeadLetterOut(BaseModel):
    position: int
    aggregate_id: str
    kind: str
    attempts: int
    last_error: str | None
    dead_at: str | None


class ReplayOut(BaseModel):
    replayed: int = Field(description="dead letters made pending again")


class RewindOut(BaseModel):
    cursor: int


def subscription_out(s: Any, delivery: dict[str, int] | None = None) -> SubscriptionOut:
    return SubscriptionOut(
        id=s.id,
        name=s.name,
        url=s.url,
        kinds=list(s.kinds),
        state=s.state,
        rotation=s.rotation,
        created_at=s.created_at,
        created_by=s.created_by,
        changed_at=s.changed_at,
        changed_by=s.changed_by,
        delivery=DeliveryOut(**delivery) if delivery is not None else None,
    )
