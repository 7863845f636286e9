"""The state as of any past moment or position equals the state of a ledger that only ever saw the
commands up to then; a disbursement's history names who did what, when and why."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.budget import BudgetLine
from ledger.disbursement import Disbursement, Status
from ledger.errors import InvalidInput, NotFound
from ledger.handlers import line_id_of
from ledger.history import aggregate_as_of, budget_as_of, history, replay
from testkit.clock import FixedClock
from tests import factory as f


def _script() -> list[c.Command]:
    """A small year: adopt, vendor, several payments in different states, an amendment."""
    commands: list[c.Command] = [
        c.AdoptBudget(
            idempotency_key="adopt",
            actor=f.ADMIN,
            pemda=f.PEMDA,
            year=f.YEAR,
            document="PERDA-1",
            lines=(f.MEDIA_LINE, f.GOODS_LINE),
        ),
        c.RegisterVendor(
            idempotency_key="vendor",
            actor=f.ADMIN,
            pemda=f.PEMDA,
            npwp=f.NPWP,
            name="PT Media",
            kind="media",
            bank_code="110",
            account_number="0012345678",
            account_holder="PT Media",
        ),
    ]
    for n in range(4):
        spp = f"SPP-{n}"
        commands += [
            f.request(spp, 50_000_000 + n, idempotency_key=f"r{n}"),
            f.verify(spp, idempotency_key=f"v{n}"),
        ]
    commands += [
        f.approve("SPP-0", idempotency_key="a0"),
        f.authorise("SPP-0", idempotency_key="s0"),
    ]
    commands += [
        f.send("SPP-0"),
        f.settle("SPP-0"),
        f.reject("SPP-1", f.PA, reason="kontrak belum ditandatangani"),
    ]
    commands += [
        c.AmendBudget(
            idempotency_key="apbd-p",
            actor=f.ADMIN,
            pemda=f.PEMDA,
            year=f.YEAR,
            document="PERDA-P",
            lines=(f.line_spec(pagu=2_000_000_000),),
        )
    ]
    return commands


def _line_state(line: BudgetLine) -> tuple[int, int, int, bool]:
    return (line.pagu, line.committed, line.realised, line.blocked)


def _build(url: str, commands: list[c.Command]) -> tuple[Ledger, list[datetime]]:
    """Run the commands one by one; return the ledger and the moment each was recorded at."""
    fixed = FixedClock()
    readings: list[datetime] = []

    def clock() -> datetime:
        readings.append(fixed())
        return readings[-1]

    ledger = Ledger(url, clock=clock)
    moments = []
    for command in commands:
        ledger.execute(command)
        moments.append(readings[-1])
    return ledger, moments


def test_budget_as_of_any_moment_equals_a_ledger_that_saw_only_the_commands_until_then(
    ledger_url: str,
) -> None:
    script = _script()
    full, moments = _build(ledger_url, script)
    try:
        for cut in range(2, len(script) + 1):
            past = budget_as_of(full, f.PEMDA, f.YEAR, as_of=moments[cut - 1])
            partial, _ = _build("memory://", script[:cut])
            assert [_line_state(x) for x in past.lines] == [
                _line_state(x) for x in partial.budget_lines(f.PEMDA, f.YEAR)
            ]
            assert sorted((d.spp_number, d.status) for d in past.disbursements) == sorted(
                (partial.disbursement(d.id).spp_number, partial.disbursement(d.id).status)
                for d in past.disbursements
            )
            assert len(past.disbursements) == sum(
                isinstance(cmd, c.RequestDisbursement) for cmd in script[:cut]
            )
            partial.close()
    finally:
        full.close()


def test_as_of_a_position_and_before_anything(ledger_url: str) -> None:
    full, moments = _build(ledger_url, _script())
    try:
        last = full.recorder.max_notification_id() or 0
        everything = replay(full, position=last)
        line_id = line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)
        assert _line_state(everything[line_id]) == _line_state(full.budget_line(line_id))  # type: ignore[arg-type]
        assert replay(full, position=0) == {}
        with pytest.raises(NotFound):
            budget_as_of(full, f.PEMDA, f.YEAR, as_of=moments[0] - timedelta(seconds=1))
        d = aggregate_as_of(full, f.disbursement_id("SPP-0"), Disbursement, as_of=moments[11])
        assert d.status == Status.AUTHORISED  # sent and settled came later
        with pytest.raises(InvalidInput):
            replay(full)
        with pytest.raises(InvalidInput):
            replay(full, as_of=datetime(2026, 6, 30))
    finally:
        full.close()


def test_history_names_who_did_what_when_and_why(ledger: Ledger) -> None:
    for command in _script():
        ledger.execute(command)
    rows = history(ledger, f.disbursement_id("SPP-1"))
    assert [(r.event, r.actor_id, r.actor_role) for r in rows] == [
        ("Requested", f.PPTK.user_id, "pptk"),
        ("Verified", f.PPK.user_id, "ppk"),
        ("Rejected", f.PA.user_id, "pa_kpa"),
    ]
    assert rows[-1].details["reason"] == "kontrak belum ditandatangani"
    assert [r.version for r in rows] == [1, 2, 3]
    assert rows[0].at < rows[1].at < rows[2].at
    paid: list[Any] = [r.event for r in history(ledger, f.disbursement_id("SPP-0"))]
    assert paid == ["Requested", "Verified", "Approved", "Authorised", "Sent", "Settled"]
    with pytest.raises(NotFound):
        history(ledger, f.disbursement_id("SPP-404"))
