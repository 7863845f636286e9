"""A subscription of one of the pemda's other systems to kasda's event feed, as a fact of the ledger.

BPKAD decides which system may hear which kinds of events (``docs/feed.md``). Who subscribed what,
when, and who changed, paused, resumed or deleted it, is as permanent as a payment: each change is an
event of a ``FeedSubscription``, recorded through the ``Ledger`` like any other command. What the feed
itself carries (the public part of each event), how it is signed and delivered, lives in ``feed/``;
the ledger only keeps the subscriptions and their rules:

* a name (1..200 characters), unique per pemda (the id is derived from it);
* an ``http``/``https`` URL with a host and no user name, password or fragment;
* one or more kinds, each a known kind (``FEED_KINDS``) or an aggregate's prefix (``Disbursement.*``)
  that names at least one; kept sorted, without twins;
* active <-> paused; deleted is final (``SubscriptionLifecycle``, 409);
* a rotation counter: the subscriber's secret is derived from the server's feed key, the
  subscription's id and this counter (``feed.signing``), so no secret is ever in the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import commands as c
from ledger import ids, roles
from ledger.errors import (
    AlreadyExists,
    DomainError,
    InvalidInput,
    LimitExceeded,
    NotFound,
    SubscriptionLifecycle,
)
from ledger.fields import name, text
from ledger.handlers import Loaded, Result, handles, stamp_of
from ledger.stamp import Stamp
from ledger.triggers import fast_triggers
from ledger.unit_of_work import UnitOfWork

# Every kind of event a system may subscribe to: facts of the budget, the vendor registry, the
# payments and the income. Their public data (no bank account, no NPWP, no person's number, no free
# text that could name one) is chosen field by field in ``feed.events.PUBLIC``.
FEED_KINDS: tuple[str, ...] = (
    "Budget.Adopted",
    "Budget.YearClosed",
    "BudgetLine.Allocated",
    "BudgetLine.Amended",
    "BudgetLine.ShiftedOut",
    "BudgetLine.ShiftedIn",
    "BudgetLine.Blocked",
    "BudgetLine.Unblocked",
    "BudgetLine.Committed",
    "BudgetLine.CommitmentReleased",
    "BudgetLine.Realised",
    "BudgetLine.RealisationReversed",
    "Vendor.Registered",
    "Vendor.Deactivated",
    "Vendor.Reactivated",
    "Disbursement.Requested",
    "Disbursement.Verified",
    "Disbursement.Approved",
    "Disbursement.Authorised",
    "Disbursement.Sent",
    "Disbursement.Settled",
    "Disbursement.Failed",
    "Disbursement.Returned",
    "Disbursement.Reissued",
    "Disbursement.TransferRejected",
    "Disbursement.Rejected",
    "Disbursement.Cancelled",
    "Disbursement.Lapsed",
    "Revenue.Received",
    "Revenue.Reversed",
)
MAX_KINDS = 64
MAX_URL = 2_000
SCHEMES = ("http", "https")
ACTIVE, PAUSED, DELETED = "active", "paused", "deleted"


def matches(patterns: Iterable[str], kind: str) -> bool:
    """Whether ``kind`` (``Disbursement.Settled``) is one ``patterns`` allow: named, or by its
    aggregate's prefix (``Disbursement.*``)."""
    prefix = kind.partition(".")[0] + ".*"
    return any(p in (kind, prefix) for p in patterns)


def parse_kinds(raw: object) -> list[str]:
    """The kinds of a subscription, checked: known kinds or prefixes, sorted, no twins."""
    if not isinstance(raw, (list, tuple)) or not raw:
        raise InvalidInput("a subscription needs at least one kind of event")
    if len(raw) > MAX_KINDS:
        raise LimitExceeded(f"at most {MAX_KINDS} kinds per subscription, got {len(raw)}")
    kinds: set[str] = set()
    for item in raw:
        kind = name(item, "kind of event", max_length=64)
        if kind.endswith(".*"):
            if not any(known.startswith(kind[:-1]) for known in FEED_KINDS):
                raise InvalidInput(f"no kind of event starts with {kind[:-1]!r}")
        elif kind not in FEED_KINDS:
            raise InvalidInput(
                f"unknown kind of event {kind!r}; known: {', '.join(FEED_KINDS)} "
                "(or an aggregate's prefix such as Disbursement.*)"
            )
        kinds.add(kind)
    return sorted(kinds)


def parse_url(raw: object) -> str:
    """A receiver's URL: ``http`` or ``https``, with a host, no credentials, no fragment."""
    url = text(raw, "subscription URL", max_length=MAX_URL)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError as error:
        raise InvalidInput(f"subscription URL {url!r}: {error}") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise InvalidInput(f"subscription URL must be http(s)://host/..., got {url!r}")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidInput("subscription URL may carry no user name, password or fragment")
    if any(ch.isspace() for ch in url):
        raise InvalidInput("subscription URL may hold no white space")
    return url


@fast_triggers
class FeedSubscription(Aggregate):
    @staticmethod
    def create_id(pemda: str, name: str) -> UUID:
        return ids.feed_subscription_id(pemda, name)

    @classmethod
    def subscribe(
        cls, pemda: str, name: str, url: str, kinds: list[str], by: Stamp
    ) -> FeedSubscription:
        return cls(pemda=pemda, name=name, url=url, kinds=kinds, **by.recorded())

    @event("Created")
    def __init__(
        self,
        pemda: str,
        name: str,
        url: str,
        kinds: list[str],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.name = name
        self.url = url
        self.kinds = list(kinds)
        self.state = ACTIVE
        self.rotation = 0

    def _require_not_deleted(self, what: str) -> None:
        if self.state == DELETED:
            raise SubscriptionLifecycle(f"subscription {self.name!r} is deleted; cannot {what}")

    def change_kinds(self, kinds: list[str], by: Stamp) -> None:
        self._require_not_deleted("change its kinds")
        if kinds == self.kinds:
            raise InvalidInput(f"subscription {self.name!r} has these kinds already")
        self._kinds_changed(kinds=kinds, previous=self.kinds, **by.recorded())

    @event("KindsChanged")
    def _kinds_changed(
        self, kinds: list[str], previous: list[str], actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.kinds = list(kinds)

    def pause(self, by: Stamp) -> None:
        self._require_not_deleted("pause it")
        if self.state == PAUSED:
            raise SubscriptionLifecycle(f"subscription {self.name!r} is paused already")
        self._paused(**by.recorded())

    @event("Paused")
    def _paused(self, actor_id: str, actor_role: str, at: datetime) -> None:
        self.state = PAUSED

    def resume(self, by: Stamp) -> None:
        self._require_not_deleted("resume it")
        if self.state != PAUSED:
            raise SubscriptionLifecycle(f"subscription {self.name!r} is not paused")
        self._resumed(**by.recorded())

    @event("Resumed")
    def _resumed(self, actor_id: str, actor_role: str, at: datetime) -> None:
        self.state = ACTIVE

    def rotate_secret(self, by: Stamp) -> None:
        self._require_not_deleted("rotate its secret")
        self._secret_rotated(rotation=self.rotation + 1, **by.recorded())

    @event("SecretRotated")
    def _secret_rotated(self, rotation: int, actor_id: str, actor_role: str, at: datetime) -> None:
        self.rotation = rotation

    def delete(self, by: Stamp) -> None:
        self._require_not_deleted("delete it again")
        self._deleted(**by.recorded())

    @event("Deleted")
    def _deleted(self, actor_id: str, actor_role: str, at: datetime) -> None:
        self.state = DELETED


# -- handlers (registered with ``ledger.handlers``, which imports this module) ------------------
def _named(cmd: c.FeedSubscriptionCommand, _: Loaded) -> list[UUID]:
    return [cmd.subscription_id] if isinstance(cmd.subscription_id, UUID) else []


def _subscription(cmd: c.FeedSubscriptionCommand, uow: UnitOfWork) -> FeedSubscription:
    cmd.actor.require(roles.FEED_ADMIN, "manage the event feed's subscriptions")
    if not isinstance(cmd.subscription_id, UUID):
        raise InvalidInput(f"subscription id must be a UUID, got {cmd.subscription_id!r}")
    found = uow.find(cmd.subscription_id, FeedSubscription)
    if found is None or found.pemda != cmd.pemda:
        raise NotFound(f"no feed subscription {cmd.subscription_id}")
    return found


def _answer(subscription: FeedSubscription) -> Result:
    return {
        "id": str(subscription.id),
        "name": subscription.name,
        "state": subscription.state,
        "kinds": list(subscription.kinds),
        "rotation": subscription.rotation,
    }


def _created(cmd: c.CreateFeedSubscription, _: Loaded) -> list[UUID]:
    try:
        return [ids.feed_subscription_id(cmd.pemda, name(cmd.name, "subscription name"))]
    except DomainError:
        return []


@handles(c.CreateFeedSubscription, _created)
def create_feed_subscription(cmd: c.CreateFeedSubscription, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.FEED_ADMIN, "subscribe a system to the event feed")
    label = name(cmd.name, "subscription name")
    url = parse_url(cmd.url)
    kinds = parse_kinds(cmd.kinds)
    if uow.exists(ids.feed_subscription_id(cmd.pemda, label)):
        raise AlreadyExists(f"a feed subscription named {label!r} exists (or existed) already")
    subscription = FeedSubscription.subscribe(cmd.pemda, label, url, kinds, stamp_of(cmd, uow))
    uow.add(subscription)
    return _answer(subscription)


@handles(c.ChangeFeedSubscriptionKinds, _named)
def change_feed_kinds(cmd: c.ChangeFeedSubscriptionKinds, uow: UnitOfWork) -> Result:
    subscription = _subscription(cmd, uow)
    subscription.change_kinds(parse_kinds(cmd.kinds), stamp_of(cmd, uow))
    return _answer(subscription)


@handles(c.PauseFeedSubscription, _named)
def pause_feed_subscription(cmd: c.PauseFeedSubscription, uow: UnitOfWork) -> Result:
    subscription = _subscription(cmd, uow)
    subscription.pause(stamp_of(cmd, uow))
    return _answer(subscription)


@handles(c.ResumeFeedSubscription, _named)
def resume_feed_subscription(cmd: c.ResumeFeedSubscription, uow: UnitOfWork) -> Result:
    subscription = _subscription(cmd, uow)
    subscription.resume(stamp_of(cmd, uow))
    return _answer(subscription)


@handles(c.RotateFeedSecret, _named)
def rotate_feed_secret(cmd: c.RotateFeedSecret, uow: UnitOfWork) -> Result:
    subscription = _subscription(cmd, uow)
    subscription.rotate_secret(stamp_of(cmd, uow))
    return _answer(subscription)


@handles(c.DeleteFeedSubscription, _named)
def delete_feed_subscription(cmd: c.DeleteFeedSubscription, uow: UnitOfWork) -> Result:
    subscription = _subscription(cmd, uow)
    subscription.delete(stamp_of(cmd, uow))
    return _answer(subscription)
