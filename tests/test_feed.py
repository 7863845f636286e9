"""The event feed end to end on real stores: subscriptions as ledger facts, the feed as a read model
(public data only), and the dispatcher posting signed CloudEvents to a real HTTP receiver on
127.0.0.1 that fails, times out and comes back: delivered at least once, in order per aggregate,
dead letters after the last attempt (holding back their aggregate only), replay and rewind."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from uuid import UUID

import pytest

from feed import events, signing
from feed.delivery import Deliveries, delay
from feed.dispatcher import Dispatcher
from ledger import commands as c
from ledger.application import Ledger
from ledger.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    RoleNotPermitted,
    SubscriptionLifecycle,
)
from ledger.feed import FEED_KINDS, matches, parse_kinds
from projections import feed_queries as fq
from projections.feed import PUBLIC
from projections.runner import Projector
from projections.source import PROJECTED
from testkit.clock import FixedClock
from testkit.world import OTHER_PEMDA, PEMDA
from tests import factory as f
from tests.conftest import make_url
from tests.feed_kit import FAIL, FAST, OK, SLOW, TRICKLE, receiver, subscribe, turn, world

PAYMENTS = ("Disbursement.*",)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(make_url(str(request.param), tmp_path, request), clock=FixedClock())
    yield ledger
    ledger.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'kasda.db'}", clock=FixedClock())
    yield ledger
    ledger.close()


@pytest.fixture
def projector(sqlite_store: Ledger) -> Iterator[Projector]:
    projector = Projector(sqlite_store)
    yield projector
    projector.close()


def dispatcher_for(ledger: Ledger, projector: Projector) -> Dispatcher:
    return Dispatcher(ledger, FAST, catch_up=projector.catch_up)


def pulled(projector: Projector, subscription_id: str) -> list[dict[str, object]]:
    projector.catch_up()
    found = fq.subscription(projector.db, PEMDA, subscription_id)
    assert found is not None
    return [
        events.cloud_event(e)
        for e in fq.feed(projector.db, PEMDA, found.allowed_kinds, after=0, limit=10_000)
    ]


def in_order_per_subject(delivered: list[dict[str, object]]) -> bool:
    """Each subject's events arrive (the first time each) in the order of the log."""
    firsts: dict[str, list[int]] = {}
    seen: set[object] = set()
    for event in delivered:
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        firsts.setdefault(str(event["subject"]), []).append(int(str(event["kasdaposition"])))
    return all(positions == sorted(positions) for positions in firsts.values())


# -- subscriptions: ledger facts with rules ------------------------------------------------------
def test_every_kind_of_the_feed_is_projected_and_has_its_public_fields() -> None:
    assert set(FEED_KINDS) <= PROJECTED
    assert tuple(PUBLIC) == FEED_KINDS
    assert parse_kinds(["Disbursement.Settled", "Budget.*", "Budget.*"]) == [
        "Budget.*",
        "Disbursement.Settled",
    ]
    assert matches(["Budget.*"], "Budget.Adopted")
    assert not matches(["Budget.*"], "BudgetLine.Allocated")


def test_subscription_rules(store: Ledger) -> None:
    url = "https://sipd.example.go.id/kasda"
    made = subscribe(store, url, ("Disbursement.Settled",))
    for bad_kinds in ((), ("Disbursement.Paid",), ("Nothing.*",), ("disbursement.settled",)):
        with pytest.raises(InvalidInput):
            subscribe(store, url, bad_kinds, name="lain")
    for bad_url in ("ftp://x/y", "https://", "https://u:p@host/x", "http://h/x#f", "not a url"):
        with pytest.raises(InvalidInput):
            subscribe(store, bad_url, ("Budget.*",), name="lain")
    with pytest.raises(AlreadyExists):
        subscribe(store, url, ("Budget.*",))
    with pytest.raises(RoleNotPermitted):
        store.execute(
            c.CreateFeedSubscription(
                idempotency_key=f.key(),
                actor=f.BUD,
                pemda=PEMDA,
                name="x",
                url=url,
                kinds=("Budget.*",),
            )
        )

    def run(kind: type[c.FeedSubscriptionCommand], pemda: str = PEMDA) -> dict[str, object]:
        return store.execute(
            kind(idempotency_key=f.key(), actor=f.ADMIN, pemda=pemda, subscription_id=UUID(made))
        ).data

    with pytest.raises(NotFound):  # another pemda's subscription is none of this one's
        run(c.PauseFeedSubscription, OTHER_PEMDA)
    with pytest.raises(SubscriptionLifecycle):
        run(c.ResumeFeedSubscription)
    assert run(c.PauseFeedSubscription)["state"] == "paused"
    with pytest.raises(SubscriptionLifecycle):
        run(c.PauseFeedSubscription)
    assert run(c.ResumeFeedSubscription)["state"] == "active"
    assert run(c.RotateFeedSecret)["rotation"] == 1
    assert run(c.DeleteFeedSubscription)["state"] == "deleted"
    for after_deletion in (c.ResumeFeedSubscription, c.RotateFeedSecret, c.DeleteFeedSubscription):
        with pytest.raises(SubscriptionLifecycle):
            run(after_deletion)

    # Who did what and when is on record, in the read model (and in the log it comes from).
    projector = Projector(store)
    try:
        projector.catch_up()
        found = fq.subscription(projector.db, PEMDA, made)
        assert found is not None
        assert (found.state, found.rotation, found.created_by) == ("deleted", 1, f.ADMIN.user_id)
    finally:
        projector.close()


def test_secrets_and_tokens_are_derived_per_subscriber_and_rotation() -> None:
    one, two = "0" * 8 + "-0000-0000-0000-" + "0" * 12, "1" * 8 + "-0000-0000-0000-" + "0" * 12
    assert signing.secret(FAST.key, one, 0) != signing.secret(FAST.key, one, 1)
    assert signing.secret(FAST.key, one, 0) != signing.secret(FAST.key, two, 0)
    token = signing.pull_token(FAST.key, one, 0)
    assert signing.token_valid(FAST.key, token, 0)
    assert not signing.token_valid(FAST.key, token, 1)
    assert not signing.token_valid("another key of at least 32 bytes!", token, 0)
    assert signing.token_subscription(token) == one
    assert signing.token_subscription("garbage") is None
    waits = [delay(n, 1.0, 300.0) for n in range(1, 12)]
    assert all(
        0.5 * min(300, 2 ** (n - 1)) <= w <= min(300, 2 ** (n - 1)) for n, w in enumerate(waits, 1)
    )


# -- the feed: public data, every pemda's own ---------------------------------------------------
def test_the_feed_holds_public_data_only(store: Ledger) -> None:
    world(store)
    projector = Projector(store)
    try:
        projector.catch_up()
        mine = fq.feed(projector.db, PEMDA, FEED_KINDS, after=0, limit=10_000)
        theirs = fq.feed(projector.db, OTHER_PEMDA, FEED_KINDS, after=0, limit=10_000)
    finally:
        projector.close()
    kinds = {e.kind for e in mine}
    assert {"Disbursement.Settled", "Disbursement.Authorised", "Vendor.Registered"} <= kinds
    assert {e.pemda for e in mine} == {PEMDA} and {e.pemda for e in theirs} == {OTHER_PEMDA}
    assert {e.kind for e in theirs} == {"Budget.Adopted", "BudgetLine.Allocated"}
    settled = next(e for e in mine if e.kind == "Disbursement.Settled")
    assert settled.aggregate_id == str(f.disbursement_id("SPP-1"))
    assert set(settled.data) == {"vendor_id", "amount"} and settled.data["amount"] == 8_000_000
    text = json.dumps([e.data for e in mine])
    for private in (
        "0012345678",
        "5550001111",
        f.NPWP_DIGITS,
        "01.234.567.8-901.000",
        "account",
        "npwp",
        "actor",
        "reason",
        "payer",
    ):
        assert private not in text
    positions = [e.position for e in mine]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


# -- delivery: at least once, in order per aggregate, signed -----------------------------------
def test_delivery_survives_failures_and_timeouts(
    sqlite_store: Ledger, projector: Projector
) -> None:
    world(sqlite_store)
    with receiver() as seen:
        made = subscribe(sqlite_store, seen.url, PAYMENTS)
        # Attempts to spare: this test is about coming back, not about giving up.
        patient = replace(FAST, max_attempts=8)
        dispatcher = Dispatcher(sqlite_store, patient, catch_up=projector.catch_up)
        try:
            seen.set(FAIL)
            turn(dispatcher, lambda: len(seen.attempts) >= 2)
            seen.set(SLOW)
            seen.sleep = FAST.timeout * 3
            turn(dispatcher, lambda: any(a.answered == SLOW for a in seen.attempts))
            assert Deliveries(dispatcher.db).status(made)["dead"] == 0  # tries left
            seen.set(OK)
            expected = pulled(projector, made)
            turn(
                dispatcher, lambda: {e["id"] for e in seen.delivered} >= {e["id"] for e in expected}
            )
            assert Deliveries(dispatcher.db).status(made) == {
                "cursor": expected[-1]["kasdaposition"],
                "pending": 0,
                "dead": 0,
            }
        finally:
            dispatcher.stop()
    # Every event at least once, the same CloudEvent pushed as pulled, in order per aggregate.
    firsts = {e["id"]: e for e in reversed(seen.delivered)}
    assert sorted(firsts.values(), key=lambda e: int(str(e["kasdaposition"]))) == expected
    assert in_order_per_subject(seen.delivered)
    assert {e["type"] for e in expected} >= {
        "id.go.kasda.disbursement.settled",
        "id.go.kasda.disbursement.requested",
    }
    secret = signing.secret(FAST.key, made, 0)
    for attempt in seen.attempts:
        assert attempt.headers["Content-Type"] == events.CONTENT_TYPE
        timestamp = attempt.headers[signing.TIMESTAMP_HEADER]
        assert signing.signature_valid(
            secret, timestamp, attempt.body, attempt.headers[signing.SIGNATURE_HEADER]
        )
        assert attempt.event["specversion"] == "1.0"
        assert attempt.event["source"] == f"urn:kasda:pemda:{PEMDA}"
        assert attempt.event["id"] == f"{PEMDA}:{attempt.event['kasdaposition']}"


def test_a_receiver_trickling_its_answer_cannot_hold_the_dispatcher(
    sqlite_store: Ledger, projector: Projector
) -> None:
    """Only the status is read: a 200 whose body comes a byte at a time (each within the read
    timeout) for far longer than the timeout counts as delivered without waiting for the body."""
    world(sqlite_store)
    with receiver() as seen:
        made = subscribe(sqlite_store, seen.url, PAYMENTS)
        seen.set(TRICKLE)
        seen.sleep = 60.0  # a body that would take a minute
        dispatcher = Dispatcher(sqlite_store, FAST, catch_up=projector.catch_up)
        try:
            expected = pulled(projector, made)
            turn(
                dispatcher,
                lambda: {e["id"] for e in seen.delivered} >= {e["id"] for e in expected},
                seconds=30.0,
            )
            assert Deliveries(dispatcher.db).status(made)["pending"] == 0
        finally:
            dispatcher.stop()
    assert seen.trickled == 0  # no body was read to its end


def test_dead_letter_holds_back_its_aggregate_only_until_replayed(
    sqlite_store: Ledger, projector: Projector
) -> None:
    world(sqlite_store)
    stuck = str(f.disbursement_id("SPP-1"))
    with receiver() as seen:
        seen.failing.add(stuck)
        made = subscribe(sqlite_store, seen.url, PAYMENTS)
        dispatcher = dispatcher_for(sqlite_store, projector)
        deliveries = Deliveries(dispatcher.db)
        try:
            expected = pulled(projector, made)
            others = {e["id"] for e in expected if e["subject"] != stuck}
            turn(
                dispatcher,
                lambda: (
                    deliveries.status(made)["dead"] == 1
                    and {e["id"] for e in seen.delivered} >= others
                ),
            )
            first_of_stuck = min(
                int(str(e["kasdaposition"])) for e in expected if e["subject"] == stuck
            )
            letters, total = deliveries.dead_letters(made, limit=10, offset=0)
            assert total == 1 and letters[0]["position"] == first_of_stuck
            assert letters[0]["attempts"] == FAST.max_attempts
            assert letters[0]["last_error"] == "HTTP 500"
            tries = [a for a in seen.attempts if a.event["subject"] == stuck]
            assert len(tries) == FAST.max_attempts  # only its first event was ever tried
            assert {a.event["kasdaposition"] for a in tries} == {first_of_stuck}
            assert deliveries.status(made)["pending"] > 0  # its later events wait behind it

            seen.failing.clear()
            assert deliveries.replay(made, None, f.ADMIN.user_id) == 1
            turn(
                dispatcher, lambda: {e["id"] for e in seen.delivered} >= {e["id"] for e in expected}
            )
            assert deliveries.status(made) == {
                "cursor": expected[-1]["kasdaposition"],
                "pending": 0,
                "dead": 0,
            }
        finally:
            dispatcher.stop()
    assert in_order_per_subject(seen.delivered)


def test_rewind_delivers_again_and_a_rebuild_keeps_the_delivery_state(
    sqlite_store: Ledger, projector: Projector
) -> None:
    world(sqlite_store)
    with receiver() as seen:
        made = subscribe(sqlite_store, seen.url, ("Disbursement.Settled",))
        dispatcher = dispatcher_for(sqlite_store, projector)
        deliveries = Deliveries(dispatcher.db)
        try:
            expected = pulled(projector, made)
            assert len(expected) == 2
            turn(dispatcher, lambda: len(seen.delivered) == 2)
            projector.rebuild()  # the read models again from 0: the cursor is not theirs
            assert deliveries.status(made)["cursor"] == expected[-1]["kasdaposition"]
            assert pulled(projector, made) == expected
            dispatcher.tick()
            dispatcher.collect(wait=True)
            assert len(seen.delivered) == 2  # nothing sent twice because of the rebuild
            deliveries.rewind(made, int(str(expected[0]["kasdaposition"])), f.ADMIN.user_id)
            turn(dispatcher, lambda: len(seen.delivered) == 3)
            assert seen.delivered[-1] == expected[1]
        finally:
            dispatcher.stop()


def test_other_pemda_and_kinds_are_never_sent(sqlite_store: Ledger, projector: Projector) -> None:
    with receiver() as seen:
        made = subscribe(sqlite_store, seen.url, ("Disbursement.Settled", "Vendor.*"))
        paused = subscribe(sqlite_store, seen.url, ("Budget.*",), name="paused")
        sqlite_store.execute(
            c.PauseFeedSubscription(
                idempotency_key=f.key(), actor=f.ADMIN, pemda=PEMDA, subscription_id=UUID(paused)
            )
        )
        world(sqlite_store)
        dispatcher = dispatcher_for(sqlite_store, projector)
        try:
            expected = pulled(projector, made)
            turn(dispatcher, lambda: len(seen.delivered) >= len(expected))
            dispatcher.tick()
            dispatcher.collect(wait=True)
        finally:
            dispatcher.stop()
    assert {e["type"] for e in seen.delivered} == {
        "id.go.kasda.disbursement.settled",
        "id.go.kasda.vendor.registered",
    }
    assert {e["source"] for e in seen.delivered} == {f"urn:kasda:pemda:{PEMDA}"}
    assert len(seen.delivered) == len(expected) == 4


def test_one_dispatcher_sends_per_store(sqlite_store: Ledger, projector: Projector) -> None:
    world(sqlite_store)
    with receiver() as seen:
        made = subscribe(sqlite_store, seen.url, PAYMENTS)
        expected = pulled(projector, made)
        first = dispatcher_for(sqlite_store, projector)
        second = dispatcher_for(sqlite_store, projector)
        try:
            assert first.tick() > 0
            assert second.tick() == 0  # the lease is the first's
            first.collect(wait=True)
        finally:
            first.stop()  # lets the lease go
        try:
            turn(second, lambda: len(seen.delivered) >= len(expected))
        finally:
            second.stop()
    ids = [e["id"] for e in seen.delivered]
    assert len(ids) == len(set(ids)) == len(expected)  # the second went on where the first stopped


@pytest.mark.postgres
def test_delivery_on_postgresql(pg_schema_url: str) -> None:
    """The same delivery on PostgreSQL: a receiver that fails then comes back, a dead letter that
    holds back its aggregate, a replay, and the lease (two dispatchers, one sends)."""
    ledger = Ledger(pg_schema_url, clock=FixedClock())
    projector = Projector(ledger)
    try:
        world(ledger)
        stuck = str(f.disbursement_id("SPP-2"))
        with receiver() as seen:
            seen.failing.add(stuck)
            made = subscribe(ledger, seen.url, PAYMENTS)
            expected = pulled(projector, made)
            dispatcher, idle = dispatcher_for(ledger, projector), dispatcher_for(ledger, projector)
            deliveries = Deliveries(dispatcher.db)
            try:
                seen.set(FAIL)
                turn(dispatcher, lambda: len(seen.attempts) >= 3)
                assert idle.tick() == 0
                seen.set(OK)
                turn(dispatcher, lambda: deliveries.status(made)["dead"] == 1)
                seen.failing.clear()
                assert deliveries.replay(made, None, f.ADMIN.user_id) == 1
                turn(
                    dispatcher,
                    lambda: {e["id"] for e in seen.delivered} >= {e["id"] for e in expected},
                )
            finally:
                dispatcher.stop()
                idle.stop()
        assert in_order_per_subject(seen.delivered)
        assert {e["id"] for e in seen.delivered} == {e["id"] for e in expected}
    finally:
        projector.close()
        ledger.close()


def test_the_worker_command_delivers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``kasda feed-dispatch --once``: the worker of its own, on the store of the environment,
    keeps the feed current itself and signs with the key ``kasda serve`` would."""
    from kasda.cli import main
    from kasda.settings import Settings

    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    monkeypatch.setenv("KASDA_JWT_SECRET", "s" * 48)
    ledger = Ledger(url)
    try:
        with receiver() as seen:
            made = subscribe(ledger, seen.url, ("Disbursement.Settled",))
            world(ledger)
            assert main(["feed-dispatch", "--once"]) == 0
    finally:
        ledger.close()
    assert [e["type"] for e in seen.delivered] == ["id.go.kasda.disbursement.settled"] * 2
    key = Settings.from_env().api().events.key
    attempt = seen.attempts[0]
    assert signing.signature_valid(
        signing.secret(key, made, 0),
        attempt.headers[signing.TIMESTAMP_HEADER],
        attempt.body,
        attempt.headers[signing.SIGNATURE_HEADER],
    )


def test_a_dispatcher_with_nobody_to_serve_writes_nothing(
    sqlite_store: Ledger, projector: Projector
) -> None:
    """On SQLite a write takes the one lock the ledger's writers need: a dispatcher with no
    subscription, or with nothing new for one, writes nothing (not even its lease)."""
    world(sqlite_store)
    dispatcher = dispatcher_for(sqlite_store, projector)
    try:
        changes = projector.db.transaction  # the read database, as the dispatcher sees it

        def written() -> list[tuple[object, ...]]:
            with changes(write=False) as cursor:
                return cursor.fetchall(
                    "SELECT (SELECT COUNT(*) FROM feed_lease), (SELECT COUNT(*) FROM feed_cursor)"
                )

        assert dispatcher.tick() == 0
        assert written() == [(0, 0)]
        subscribe(sqlite_store, "http://127.0.0.1:9/never", ("Revenue.*",))
        assert dispatcher.tick() == 0
        assert written() == [(1, 0)]  # the lease, once; no event of its kinds, no cursor
    finally:
        dispatcher.stop()


def test_the_verification_example_of_the_docs_verifies_a_delivery() -> None:
    """docs/feed.md's ten lines of Python accept kasda's signature and refuse a changed body."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "feed.md").read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(example, "docs/feed.md", "exec"), namespace)
    verify = namespace["verify"]
    assert callable(verify)
    secret, body = signing.secret(FAST.key, "0" * 36, 0), b'{"id":"32.73:1"}'
    timestamp = str(int(time.time()))
    headers = {
        signing.TIMESTAMP_HEADER: timestamp,
        signing.SIGNATURE_HEADER: signing.signature(secret, timestamp, body),
    }
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body + b" ")
    assert not verify(signing.secret(FAST.key, "0" * 36, 1), headers, body)
