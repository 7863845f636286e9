"""Read models: exactly right (equal to a recomputation from the events), the same whether built
incrementally or from scratch, right as of any past day, and exactly-once across crashes and a
second projector.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import commands as c
from ledger.application import Ledger
from ledger.errors import DomainError
from projections import queries as q
from projections.runner import ProjectionConflict, Projector
from projections.source import Fact
from testkit.world import WIB
from tests import factory as f
from tests.projection_oracle import (
    assert_models_match,
    expected_lines,
    projected_lines,
    tables,
)

PAJAK = c.LineSpec(
    skpd="5.02.0.00.0.00.01.0000",
    sub_kegiatan=None,
    rekening="4.1.01.06.01.0001",
    uraian="Pajak Hotel",
    pagu=2_000_000_000,
)
LINES = (f.MEDIA_LINE, f.GOODS_LINE, PAJAK)


class SteppedClock:
    """A ledger clock the test moves: hours pass between commands, so a history spans days."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 8, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now

    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)


class History:
    """Random but valid-ish commands; refusals are part of the history too (they append nothing)."""

    def __init__(self, ledger: Ledger, clock: SteppedClock, rng: random.Random) -> None:
        self.ledger, self.clock, self.rng = ledger, clock, rng
        self.spps: list[str] = []
        self.receipts: list[str] = []
        self.n = 0

    def start(self) -> None:
        f.adopt(self.ledger, *LINES)
        f.register_vendor(self.ledger)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.clock.advance(self.rng.choice([0, 0, 1, 5, 20]))
            with contextlib.suppress(DomainError):
                self.ledger.execute(self._command())

    def _command(self) -> c.Command:
        rng = self.rng
        kind = rng.choices(
            ["request", "step", "amend", "block", "revenue", "reverse", "account"],
            weights=[5, 12, 1, 1, 3, 1, 1],
        )[0]
        if kind == "request" or not self.spps:
            self.n += 1
            spp = f"SPP-{self.n}"
            self.spps.append(spp)
            spec = rng.choice([f.MEDIA_LINE, f.GOODS_LINE])
            return f.request(spp, rng.randrange(1, 60) * 1_000_000, spec)
        spp = rng.choice(self.spps)
        if kind == "step":
            makers: list[Callable[[str], c.Command]] = [
                f.verify, f.approve, f.authorise, f.send, f.settle, f.fail, f.return_,
            ]  # fmt: skip
            maker = rng.choice(makers)
            if rng.random() < 0.1:
                return f.reject(spp, rng.choice([f.PPK, f.PA, f.BUD]))
            if rng.random() < 0.05:
                return f.cancel(spp, f.BUD)
            return maker(spp)
        if kind == "amend":
            spec = rng.choice([f.MEDIA_LINE, f.GOODS_LINE])
            return c.AmendBudget(
                idempotency_key=f.key("amend"),
                actor=f.ADMIN,
                pemda=f.PEMDA,
                year=f.YEAR,
                document=f"PERDA-P-{self.n}",
                lines=(
                    c.LineSpec(**{**spec.__dict__, "pagu": rng.randrange(5, 20) * 100_000_000}),
                ),
            )
        if kind == "block":
            command = rng.choice([c.BlockLine, c.UnblockLine])
            return command(
                idempotency_key=f.key("blk"),
                actor=f.ADMIN,
                pemda=f.PEMDA,
                year=f.YEAR,
                line=f.ref(rng.choice([f.MEDIA_LINE, f.GOODS_LINE])),
                reason="pemeriksaan inspektorat",
            )
        if kind == "revenue":
            self.n += 1
            self.receipts.append(f"ORD-{self.n}")
            gross = rng.randrange(1, 50) * 100_000
            return c.RecordRevenue(
                idempotency_key=f.key("rev"),
                actor=f.GATEWAY,
                pemda=f.PEMDA,
                year=f.YEAR,
                line=f.ref(PAJAK),
                channel="midtrans:qris",
                reference=self.receipts[-1],
                payer="Wajib Pajak",
                gross=gross,
                fee=gross // 100,
            )
        if kind == "reverse" and self.receipts:
            return c.ReverseRevenue(
                idempotency_key=f.key("rrev"),
                actor=f.ADMIN,
                pemda=f.PEMDA,
                year=f.YEAR,
                channel="midtrans:qris",
                reference=rng.choice(self.receipts),
                reason="chargeback",
            )
        return f.change_account(str(rng.randrange(10**9, 10**10)), reason="surat vendor")


def _history(ledger_url: str, seed: int, steps: int) -> tuple[Ledger, History]:
    clock = SteppedClock()
    ledger = Ledger(ledger_url, clock=clock)
    story = History(ledger, clock, random.Random(seed))
    story.start()
    story.run(steps)
    return ledger, story


def test_read_models_equal_a_recomputation_from_the_events(ledger_url: str) -> None:
    ledger, _ = _history(ledger_url, 1, 250)
    projector = Projector(ledger, batch=37)
    try:
        done = projector.catch_up()
        assert done.batches > 3 and done.facts > 0
        assert projector.position() == ledger.recorder.max_notification_id()
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
        lines = q.lra_lines(projector.db, f.PEMDA, f.YEAR)
        assert lines.filter(lines["side"] == "pendapatan")["realisasi"].sum() > 0
    finally:
        projector.close()
        ledger.close()


def test_catch_up_to_a_position_stops_there_and_resumes(ledger_url: str) -> None:
    """``catch_up(upto=N)`` (what a reader waiting for one write uses) stops at the first batch
    boundary at or past N, and a later catch-up carries on to the same tables as one full pass."""
    clock = SteppedClock()
    ledger = Ledger(ledger_url, clock=clock)
    story = History(ledger, clock, random.Random(11))
    story.start()
    story.run(60)
    head = ledger.recorder.max_notification_id() or 0
    projector = Projector(ledger, batch=17)
    try:
        target = head // 2
        projector.catch_up(upto=target)
        reached = projector.position()
        assert target <= reached < target + 17 and reached < head
        projector.catch_up()
        assert projector.position() == head
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
        incremental = tables(projector.db)
        projector.rebuild()
        assert tables(projector.db) == incremental
    finally:
        projector.close()
        ledger.close()


def test_incremental_equals_rebuild_and_every_past_day_equals_replay(ledger_url: str) -> None:
    clock = SteppedClock()
    ledger = Ledger(ledger_url, clock=clock)
    story = History(ledger, clock, random.Random(7))
    story.start()
    projector = Projector(ledger, batch=23)
    try:
        for _ in range(6):  # project while the history is being written
            story.run(40)
            projector.step()
        projector.catch_up()
        incremental = tables(projector.db)
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
        days = sorted({r[1] for r in incremental["proj_lra_movement"]})
        assert len(days) > 5
        for day in [date.fromisoformat(d) for d in days[:: max(1, len(days) // 6)]]:
            assert projected_lines(projector.db, f.PEMDA, f.YEAR, day) == expected_lines(
                ledger, day
            ), day
        projector.rebuild()
        assert tables(projector.db) == incremental
    finally:
        projector.close()
        ledger.close()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 10**6), steps=st.integers(1, 120), batch=st.integers(1, 60))
def test_property_random_histories_project_exactly(seed: int, steps: int, batch: int) -> None:
    ledger, story = _history("memory://", seed, 0)
    projector = Projector(ledger, batch=batch)
    try:
        rng = random.Random(seed)
        remaining = steps
        while remaining > 0:
            chunk = rng.randrange(1, 30)
            story.run(min(chunk, remaining))
            remaining -= chunk
            if rng.random() < 0.5:
                projector.step()
        projector.catch_up()
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
        incremental = tables(projector.db)
        projector.rebuild()
        assert tables(projector.db) == incremental
    finally:
        projector.close()
        ledger.close()


def test_a_second_projector_never_applies_a_range_twice(ledger_url: str) -> None:
    ledger, _ = _history(ledger_url, 3, 120)
    first, second = Projector(ledger, batch=50), Projector(ledger, batch=50)
    try:
        assert first.position() == second.position() == 0
        first.step()
        with pytest.raises(ProjectionConflict):
            second.step()  # it still believed the position was 0
        second.catch_up()  # re-reads the position and carries on from there
        first.catch_up()
        assert_models_match(ledger, first.db, f.PEMDA, f.YEAR)
    finally:
        first.close()
        second.close()
        ledger.close()


CRASHING_PROJECTOR = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from ledger.application import Ledger
    from projections.runner import Projector

    crash_at = int(sys.argv[2])
    batches = 0

    def before_commit(upto):
        global batches
        batches += 1
        if batches == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)  # dies with the batch written, not committed

    ledger = Ledger(sys.argv[1])
    Projector(ledger, batch=int(sys.argv[3]), before_commit=before_commit).catch_up()
    """
)


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgres"], indirect=True)
def test_a_projector_killed_mid_batch_resumes_exactly_once(ledger_url: str, tmp_path: Path) -> None:
    ledger, _ = _history(ledger_url, 11, 200)
    script = tmp_path / "crash.py"
    script.write_text(CRASHING_PROJECTOR.format(root=str(Path(__file__).parent.parent)))
    batch = 29
    head = ledger.recorder.max_notification_id() or 0
    crashes = 0
    for crash_at in (2, 3, 1, 4):
        done = subprocess.run(
            [sys.executable, str(script), ledger_url, str(crash_at), str(batch)],
            env={**os.environ, "KASDA_CIPHER_KEY": ""},
            capture_output=True,
            timeout=120,
            check=False,
        )
        if done.returncode == -signal.SIGKILL:
            crashes += 1
        else:
            assert done.returncode == 0, done.stderr.decode()
    assert crashes == 4
    projector = Projector(ledger, batch=batch)
    try:
        position = projector.position()
        assert 0 < position < head, "the killed runs committed some batches, not all"
        projector.catch_up()
        assert projector.position() == head
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
        resumed = tables(projector.db)
        projector.rebuild()
        assert tables(projector.db) == resumed
    finally:
        projector.close()
        ledger.close()


def test_a_change_of_time_zone_rebuilds_the_days(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    clock = SteppedClock()
    ledger = Ledger(url, clock=clock)
    try:
        f.adopt(ledger, *LINES)
        f.register_vendor(ledger)
        clock.now = datetime(2026, 3, 10, 23, 30, tzinfo=WIB)  # 01:30 on the 11th in WIT
        ledger.execute(f.request("SPP-late"))
        wib = Projector(ledger)
        wib.catch_up()
        wib_days = {r[1] for r in tables(wib.db)["proj_lra_movement"]}
        wib.close()
        wit = Projector(ledger, timezone="Asia/Jayapura")
        assert wit.position() == 0  # rebuilt: days depend on the zone
        wit.catch_up()
        wit_days = {r[1] for r in tables(wit.db)["proj_lra_movement"]}
        assert "2026-03-10" in wib_days and "2026-03-11" not in wib_days
        assert "2026-03-11" in wit_days and "2026-03-10" not in wit_days
        wit.close()
    finally:
        ledger.close()


def test_lra_rollups_add_up_and_report_income_and_spending(ledger: Ledger) -> None:
    f.adopt(ledger, *LINES)
    f.register_vendor(ledger)
    f.pay_in_full(ledger, "SPP-1", 100_000_000)
    ledger.execute(f.request("SPP-2", 30_000_000, f.GOODS_LINE))
    ledger.execute(
        c.RecordRevenue(
            idempotency_key="rev-1",
            actor=f.GATEWAY,
            pemda=f.PEMDA,
            year=f.YEAR,
            line=f.ref(PAJAK),
            channel="midtrans:qris",
            reference="ORD-1",
            payer="Hotel",
            gross=500_000_000,
            fee=3_500_000,
        )
    )
    projector = Projector(ledger)
    try:
        projector.catch_up()
        db = projector.db
        for level in q.LEVELS:
            report = q.lra(db, f.PEMDA, f.YEAR, level=level)
            assert report["anggaran"].sum() == 3_500_000_000, level
            assert report["realisasi"].sum() == 600_000_000, level
        akun = {
            r["kode"]: r for r in q.lra(db, f.PEMDA, f.YEAR, level="akun").iter_rows(named=True)
        }
        assert akun["5"]["realisasi"] == 100_000_000
        assert akun["5"]["committed"] == 30_000_000
        assert akun["5"]["lebih_kurang"] == 1_400_000_000  # anggaran - realisasi
        assert akun["5"]["persen_bp"] == 667  # 100 / 1,500 = 6.67%
        assert akun["4"]["lebih_kurang"] == -1_500_000_000  # realisasi - anggaran
        assert akun["4"]["persen_bp"] == 2_500
        totals = q.lra_totals(q.lra_lines(db, f.PEMDA, f.YEAR))
        assert totals["surplus_defisit_realisasi"] == 400_000_000
        cash = q.cash_position(db, f.PEMDA)
        assert cash["closing_balance"][-1] == 496_500_000 - 98_000_000
        statement = q.vendor_statement(db, f.PEMDA, f.NPWP_DIGITS)
        assert sorted(statement["status"].to_list()) == ["requested", "settled"]
        settled = statement.filter(statement["status"] == "settled").row(0, named=True)
        assert (settled["gross"], settled["deductions"], settled["net"]) == (
            100_000_000, 2_000_000, 98_000_000,
        )  # fmt: skip
        assert settled["sp2d_number"] and settled["bank_reference"] and settled["settled_at"]
        queue = q.approval_queue(db, f.PEMDA, "ppk")
        assert queue["spp_number"].to_list() == ["SPP-2"]
        assert q.approval_queue(db, f.PEMDA, "pa_kpa").height == 0
        assert q.vendor_statement(db, "99.99", f.NPWP_DIGITS).height == 0  # another pemda
    finally:
        projector.close()


def test_bad_query_arguments_are_domain_errors(ledger: Ledger) -> None:
    projector = Projector(ledger)
    try:
        with pytest.raises(DomainError):
            q.lra(projector.db, f.PEMDA, f.YEAR, level="bogus")
        with pytest.raises(DomainError):
            q.approval_queue(projector.db, f.PEMDA, "vendor")
        with pytest.raises(DomainError):
            q.vendor_statement(projector.db, f.PEMDA, f.NPWP_DIGITS, limit=0)
    finally:
        projector.close()


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgres"], indirect=True)
def test_follow_keeps_the_read_models_current(ledger_url: str) -> None:
    """A follower (polling SQLite, LISTEN/NOTIFY on PostgreSQL) sees new events without being asked."""
    ledger, story = _history(ledger_url, 13, 20)
    projector = Projector(ledger)
    stop = threading.Event()
    follower = threading.Thread(target=projector.follow, args=(stop,), kwargs={"interval": 0.05})
    follower.start()
    try:
        story.run(60)
        head = ledger.recorder.max_notification_id() or 0
        deadline = time.monotonic() + 30
        while projector.position() < head and time.monotonic() < deadline:
            time.sleep(0.01)
        assert projector.position() == head
    finally:
        stop.set()
        follower.join(timeout=30)
    assert not follower.is_alive()
    try:
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
    finally:
        projector.close()
        ledger.close()


def _as_an_older_store(ledger: Ledger) -> None:
    """Receipts and number claims in the log, as every store written before issue 17 holds them
    (kasda now keeps them in a table apart): the projector still reads such logs."""
    recorder: Any = ledger.recorder
    kept = recorder.select_receipts()
    assert kept, "the history records commands"
    recorder.insert_events(kept)


@pytest.mark.parametrize("ledger_url", ["postgres"], indirect=True)
def test_projection_commits_do_not_wait_for_the_wal_flush(ledger_url: str) -> None:
    ledger = Ledger(ledger_url, clock=SteppedClock())
    projector = Projector(ledger)
    try:
        with projector.db.transaction(write=False) as cursor:
            assert cursor.fetchone("SHOW synchronous_commit") == ("off",)
    finally:
        projector.close()
        ledger.close()


def test_each_model_is_handed_only_the_events_of_its_aggregates() -> None:
    """A model with ``kinds`` never sees another aggregate's event (receipts, in a log written
    before issue 17, reach the owners only), and the read models are still exactly right."""
    ledger, _ = _history("memory://", 3, 150)
    _as_an_older_store(ledger)
    projector = Projector(ledger, batch=41)
    seen: dict[str, set[str]] = {model.name: set() for model in projector.models}
    for model in projector.models:
        original = model.apply

        def spy(
            fact: Fact, name: str = model.name, apply: Callable[[Fact], None] = original
        ) -> None:
            seen[name].add(fact.name.partition(".")[0])
            apply(fact)

        model.apply = spy  # type: ignore[method-assign]
    try:
        projector.catch_up()
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
    finally:
        projector.close()
        ledger.close()
    assert {"CommandReceipt", "Disbursement", "BudgetLine"} <= seen["owners"]
    for model in projector.models:
        if model.kinds is not None:
            assert seen[model.name] <= model.kinds, model.name
    assert seen["statements"] and "CommandReceipt" not in seen["statements"]
