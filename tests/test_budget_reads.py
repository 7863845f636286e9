"""Reading a budget: as of any position inside its adoption (the budget recorded, some of its lines
not yet), in the ledger and over HTTP; and ``Ledger.budget_lines`` waits while a batch writes, since
it shares the write path's aggregate cache. Both were bugs once."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from ledger import ids
from ledger.application import Ledger
from ledger.budget import BudgetLine
from ledger.history import budget_as_of
from ledger.roles import Role
from testkit.api import adopt_body, expect, get, post, settings
from testkit.world import YEAR
from tests import factory as f


def test_budget_as_of_every_position_of_an_adoption(ledger: Ledger) -> None:
    three = (f.MEDIA_LINE, f.GOODS_LINE, f.line_spec("5.1.02.01.01.0001", 7_000, uraian="ATK"))
    f.adopt(ledger, *three)
    head = ledger.recorder.max_notification_id() or 0
    budget_id = ids.budget_id(f.PEMDA, f.YEAR)
    adopted_at = None
    for position in range(1, head + 1):
        stored = ledger.recorder.select_notifications(start=position, limit=1)[0]
        if stored.originator_id == budget_id and stored.originator_version == 1:
            adopted_at = position
            break
    assert adopted_at is not None
    seen: list[int] = []
    for position in range(adopted_at, head + 1):
        # Used to raise KeyError for the positions before the last line's Allocated event.
        then = budget_as_of(ledger, f.PEMDA, f.YEAR, position=position)
        assert all(isinstance(line, BudgetLine) for line in then.lines)
        seen.append(len(then.lines))
    assert seen[0] < 3, "the budget is recorded before its lines: the case that failed"
    assert seen == sorted(seen), "lines only ever appear, position by position"
    assert seen[-1] == 3
    now = budget_as_of(ledger, f.PEMDA, f.YEAR, position=head)
    assert sorted(line.pagu for line in now.lines) == sorted(s.pagu for s in three)


def test_budget_lines_waits_for_the_write_lock(ledger: Ledger) -> None:
    f.adopt(ledger)
    holding = threading.Event()
    release = threading.Event()
    done = threading.Event()
    got: list[list[BudgetLine]] = []

    tick = ledger.clock

    def held_clock() -> datetime:
        # A batch reads the clock once it holds the write lock: stopping here holds the lock.
        holding.set()
        release.wait(5)
        return tick()

    def writer() -> None:
        ledger.clock = held_clock
        f.register_vendor(ledger)

    def reader() -> None:
        got.append(ledger.budget_lines(f.PEMDA, f.YEAR))
        done.set()

    holder = threading.Thread(target=writer)
    holder.start()
    assert holding.wait(5)
    reading = threading.Thread(target=reader)
    reading.start()
    # While a batch holds the lock, the read must not touch the shared aggregate cache.
    assert not done.wait(0.3), "budget_lines ran while another thread held the write lock"
    release.set()
    assert done.wait(5)
    holder.join()
    reading.join()
    assert [line.pagu for line in got[0]] == [f.MEDIA_LINE.pagu, f.GOODS_LINE.pagu]


def test_the_as_of_route_answers_inside_an_adoption(tmp_path: Path) -> None:
    """The HTTP symptom of the first bug: ``GET /budgets/{year}/as-of?position=N`` was a 500."""
    config = settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    with TestClient(create_app(config)) as client:
        expect(post(client, config, Role.BPKAD_ADMIN, "/budgets", adopt_body()), 201)
        head = client.app.state.ledger.recorder.max_notification_id()  # type: ignore[attr-defined]
        answers = [
            get(client, config, Role.AUDITOR, f"/budgets/{YEAR}/as-of", params={"position": n})
            for n in range(1, head + 1)
        ]
    assert all(a.status_code in (200, 404) for a in answers), [a.status_code for a in answers]
    lines = [len(a.json()["lines"]["items"]) for a in answers if a.status_code == 200]
    assert lines == sorted(lines) and lines[-1] == 3
