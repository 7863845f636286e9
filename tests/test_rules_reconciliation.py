"""A reconciliation run is a fact: recorded once per day and inputs, with every exception; each
exception is resolved once, by an authorised user, with a reason, and stays in the history."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.errors import (
    AlreadyExists,
    InvalidAmount,
    InvalidInput,
    LimitExceeded,
    NotFound,
    RoleNotPermitted,
)
from ledger.history import history
from ledger.reconciliation import ReconciliationRun
from ledger.roles import Actor, Role
from tests import factory as f
from tests.refusals import refused

RECONCILER = Actor("bpkad.rekon", Role.BPKAD_ADMIN)
DIGEST = hashlib.sha256(b"rekening koran 2026-03-10").hexdigest()
EXCEPTIONS = (
    {"id": "B-000017", "status": "unmatched_bank", "amount": 48_500_000,
     "reference": "TRF 8812", "detail": "debit with no SP2D behind it"},
    {"id": "L-000003", "status": "unmatched_ledger", "amount": 12_000_000,
     "reference": "SP2D/0042", "detail": ""},
)  # fmt: skip


def record(**kw: Any) -> c.RecordReconciliation:
    fields: dict[str, Any] = {
        "idempotency_key": f.key("rekon"),
        "actor": RECONCILER,
        "pemda": f.PEMDA,
        "business_date": "2026-03-10",
        "inputs": ({"name": "rkud-20260310.sta", "kind": "mt940", "sha256": DIGEST, "rows": 912},),
        "counts": {"matched": 910, "unmatched_bank": 1, "unmatched_ledger": 1},
        "exceptions": EXCEPTIONS,
    }
    fields.update(kw)
    return c.RecordReconciliation(**fields)


def resolve(
    run_id: UUID, exception_id: str = "B-000017", **kw: Any
) -> c.ResolveReconciliationException:
    fields: dict[str, Any] = {
        "idempotency_key": f.key("resolve"),
        "actor": f.BUD,
        "pemda": f.PEMDA,
        "run_id": run_id,
        "exception_id": exception_id,
        "resolution": "escalated",
        "reason": "diteruskan ke Inspektorat, nota dinas 700/12",
    }
    fields.update(kw)
    return c.ResolveReconciliationException(**fields)


def test_a_run_records_its_inputs_counts_and_exceptions(ledger: Ledger) -> None:
    run_id = UUID(ledger.execute(record()).id)
    run = ledger.aggregate(run_id, ReconciliationRun)
    assert run.business_date == "2026-03-10"
    assert run.inputs[0]["sha256"] == DIGEST
    assert run.counts["matched"] == 910
    assert sorted(run.open_exceptions) == ["B-000017", "L-000003"]


def test_the_same_inputs_are_recorded_once(ledger: Ledger) -> None:
    ledger.execute(record())
    refused(ledger, record(), AlreadyExists, "unique_identity")
    other = hashlib.sha256(b"corrected file").hexdigest()
    again = record(inputs=({"name": "rkud.sta", "kind": "mt940", "sha256": other, "rows": 913},))
    assert ledger.execute(again).data["exceptions"] == 2  # corrected inputs: a new run


def test_an_exception_is_resolved_once_with_a_reason_and_stays_in_history(ledger: Ledger) -> None:
    run_id = UUID(ledger.execute(record()).id)
    assert ledger.execute(resolve(run_id)).data["open"] == 1
    refused(ledger, resolve(run_id), InvalidInput, "invalid_input")  # already resolved
    refused(ledger, resolve(run_id, "L-000003", reason=""), InvalidInput, "invalid_input")
    refused(
        ledger, resolve(run_id, "L-000003", resolution="ignored"), InvalidInput, "invalid_input"
    )
    refused(ledger, resolve(run_id, "X-1"), NotFound, "not_found")
    refused(
        ledger, resolve(run_id, "L-000003", actor=f.PPTK), RoleNotPermitted, "step_requires_role"
    )
    refused(ledger, resolve(run_id, "L-000003", pemda="32.04"), NotFound, "not_found")
    entries = history(ledger, run_id)
    assert [e.event for e in entries][-1].endswith("ExceptionResolved")
    assert entries[-1].actor_id == f.BUD.user_id and "Inspektorat" in entries[-1].details["reason"]


@pytest.mark.parametrize(
    ("change", "error", "rule"),
    [
        ({"business_date": "10-03-2026"}, InvalidInput, "invalid_input"),
        ({"inputs": ()}, InvalidInput, "invalid_input"),
        ({"inputs": ({"name": "x", "kind": "csv", "sha256": "abc", "rows": 1},)}, InvalidInput,
         "invalid_input"),
        ({"inputs": ({"name": "x", "kind": "csv", "sha256": DIGEST, "rows": 1.5},)}, InvalidAmount,
         "amount_integer_rupiah"),
        ({"counts": {"matched": -1}}, InvalidInput, "invalid_input"),
        ({"exceptions": (EXCEPTIONS[0], EXCEPTIONS[0])}, InvalidInput, "invalid_input"),
        ({"exceptions": ({**EXCEPTIONS[0], "amount": 10.0},)}, InvalidAmount, "amount_integer_rupiah"),
        ({"exceptions": tuple({**EXCEPTIONS[0], "id": f"E{n}"} for n in range(50_001))},
         LimitExceeded, "explicit_limit"),
        ({"actor": f.BUD}, RoleNotPermitted, "step_requires_role"),
    ],
)  # fmt: skip
def test_bad_runs_are_refused(
    ledger: Ledger, change: dict[str, Any], error: Any, rule: str
) -> None:
    refused(ledger, record(**change), error, rule)
