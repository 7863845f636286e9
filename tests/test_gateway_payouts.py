"""Disbursements leave the RKUD through Iris exactly once: maker-checker, account validation,
timeouts, 5xx and crashes between "the gateway accepted" and "the ledger recorded"."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateways.amounts import AmountError, format_rupiah, parse_rupiah
from gateways.facts import GATEWAY_ACTOR
from gateways.iris import IrisClient
from gateways.payouts import Hooks, Outcome, PayoutService
from gateways.port import Payout, PayoutStatus
from gateways.references import parse_reference, payout_reference
from gateways.simulator import SIM_KEYS, Simulator
from ledger import commands as c
from ledger.application import Ledger
from ledger.disbursement import Status
from ledger.roles import Role
from tests import factory as f
from tests.gateway_support import (
    VENDOR_B_NPWP,
    authorise,
    did,
    iris_client,
    ledger_with_vendors,
    status_of,
)

ROOT = Path(__file__).resolve().parent.parent


class Crash(Exception):
    """Stands for the process dying at a hook."""


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7) as running:
        running.faults.hang_seconds = 0.6
        yield running


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    app = ledger_with_vendors()
    yield app
    app.close()


def service(ledger: Ledger, sim: Simulator, timeout: float = 2.0, **kw: object) -> PayoutService:
    return PayoutService(ledger, iris_client(sim, timeout), backoff_seconds=0.01, **kw)  # type: ignore[arg-type]


def test_reference_is_derived_and_reversible() -> None:
    ref = payout_reference(did("S1"), 1)
    assert ref == payout_reference(did("S1"), 1)
    assert ref != payout_reference(did("S1"), 2)
    assert ref != payout_reference(did("S2"), 1)
    assert ref.isalnum() and len(ref) <= 40
    assert parse_reference(ref) == (did("S1"), 1)
    assert parse_reference("ORDER-1") is None
    assert parse_reference(ref[:-2] + "00") is None


def test_amounts_are_exact_integers() -> None:
    assert parse_rupiah("10000.00") == 10_000
    assert parse_rupiah("200000.0") == 200_000
    assert parse_rupiah(5) == 5
    assert format_rupiah(98_000_000) == "98000000.00"
    for bad in ("10000.50", "-1", "1e5", "NaN", "", 10.0, True, "1,000"):
        with pytest.raises(AmountError):
            parse_rupiah(bad)


def test_authorised_sp2d_are_paid_once_with_maker_checker(ledger: Ledger, sim: Simulator) -> None:
    authorise(ledger, "S1", 100_000_000)
    authorise(ledger, "S2", 50_000_000)
    authorise(ledger, "S3", 20_000_000, npwp=VENDOR_B_NPWP)
    results = service(ledger, sim).pay_all()
    assert [r.outcome for r in results] == [Outcome.SETTLED] * 3
    payouts = {p.reference_no: p for p in sim.payouts()}
    assert len(payouts) == 3
    for spp in ("S1", "S2", "S3"):
        d = ledger.disbursement(did(spp))
        assert d.status == Status.SETTLED
        payout = payouts[d.gateway_reference or ""]
        assert payout.amount == d.net
        assert payout.created_by == "creator" and payout.approved_by == "approver"
        assert d.sp2d_number is not None and d.sp2d_number in payout.notes
        assert payout.beneficiary_account == (d.bank_account or {})["number"]
    # two vendors: each account validated once, before its first payment
    assert sim.state.validations == 2
    assert len(sim.state.beneficiaries) == 2
    # a second run pays nothing more
    assert service(ledger, sim).pay_all() == []
    assert len(sim.payouts()) == 3


def test_second_payment_to_a_validated_vendor_skips_validation(
    ledger: Ledger, sim: Simulator
) -> None:
    authorise(ledger, "S1")
    service(ledger, sim).pay_all()
    authorise(ledger, "S2")
    service(ledger, sim).pay_all()
    assert sim.state.validations == 1
    assert status_of(ledger, "S2") == "settled"


def test_creator_key_cannot_approve_and_keys_must_differ(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="differ"):
        IrisClient(sim.url + "/iris", "same", "same")
    with iris_client(sim) as client:
        from gateways.port import Beneficiary, PayoutRequest

        client.create_payout(
            PayoutRequest("ref1", Beneficiary("bjb", "0012345678", "PT A"), 50_000, "SP2D/1")
        )
    response = httpx.post(
        sim.url + "/iris/api/v1/payouts/approve",
        json={"reference_nos": ["ref1"]},
        auth=(SIM_KEYS.creator_key, ""),
    )
    assert response.status_code == 401
    assert sim.payout("ref1").status == "queued"


def test_create_that_times_out_after_the_gateway_acted_is_found_not_repeated(
    ledger: Ledger, sim: Simulator
) -> None:
    authorise(ledger, "S1")
    sim.faults.plan("POST", "/iris/api/v1/payouts", "hang")  # creates, then answers too late
    [result] = service(ledger, sim, timeout=0.2).pay_all()
    sim.wait_idle()
    assert result.outcome is Outcome.SETTLED
    assert sim.state.create_requests == 1
    assert sim.state.create_calls == 1  # found by the lookup: never sent again
    assert len(sim.payouts()) == 1


def test_create_that_lands_after_the_client_gave_up_is_not_doubled(
    ledger: Ledger, sim: Simulator
) -> None:
    authorise(ledger, "S1")
    # The request sleeps first and creates afterwards; the client has timed out, looked up (not
    # there yet) and sent the create again with the same reference.
    sim.faults.plan("POST", "/iris/api/v1/payouts", "late")
    results = service(ledger, sim, timeout=0.2).pay_all()
    sim.wait_idle()
    assert len(sim.payouts()) == 1
    assert sim.state.create_requests == 1
    assert results[0].outcome in (Outcome.SETTLED, Outcome.UNRESOLVED)
    service(ledger, sim).pay_all()
    assert status_of(ledger, "S1") == "settled"
    assert len(sim.payouts()) == 1


@pytest.mark.parametrize("fault", ["503", "done-500"])
def test_5xx_on_create_is_resolved_by_lookup(ledger: Ledger, sim: Simulator, fault: str) -> None:
    authorise(ledger, "S1")
    sim.faults.plan("POST", "/iris/api/v1/payouts", fault)
    [result] = service(ledger, sim).pay_all()
    assert result.outcome is Outcome.SETTLED
    assert len(sim.payouts()) == 1
    assert sim.state.create_calls == 1  # a 503 before processing never reached the gateway


def test_5xx_and_timeout_on_approve(ledger: Ledger, sim: Simulator) -> None:
    authorise(ledger, "S1")
    authorise(ledger, "S2")
    sim.faults.plan("POST", "/iris/api/v1/payouts/approve", "503", "hang")
    results = service(ledger, sim, timeout=0.2).pay_all()
    sim.wait_idle()
    assert [r.outcome for r in results] == [Outcome.SETTLED, Outcome.SETTLED]
    assert len(sim.payouts()) == 2


def test_gateway_that_cannot_say_leaves_the_disbursement_alone(
    ledger: Ledger, sim: Simulator
) -> None:
    authorise(ledger, "S1")
    sim.faults.plan("POST", "/iris/api/v1/payouts", "hang")
    # the first lookup (before creating) gets through; every lookup after the timeout fails
    sim.faults.plan("GET", "/iris/api/v1/payouts/", "ok", "503", "503", "503", "503")
    [result] = service(ledger, sim, timeout=0.2).pay_all()
    sim.wait_idle()
    assert result.outcome is Outcome.UNRESOLVED
    assert status_of(ledger, "S1") == "authorised"
    assert len(sim.payouts()) == 1  # created once, never again
    assert sim.state.create_calls == 1
    [again] = service(ledger, sim).pay_all()
    assert again.outcome is Outcome.SETTLED
    assert sim.state.create_calls == 1


@pytest.mark.parametrize("where", ["after_create", "after_approve"])
def test_crash_between_gateway_and_ledger_then_rerun(
    ledger: Ledger, sim: Simulator, where: str
) -> None:
    authorise(ledger, "S1")
    authorise(ledger, "S2")

    def crash(payout: Payout) -> None:
        raise Crash(payout.reference)

    hooks = Hooks(**{where: crash})
    with pytest.raises(Crash):
        service(ledger, sim, hooks=hooks).pay_all()
    assert status_of(ledger, "S1") == "authorised"  # the gateway has it, the ledger does not
    assert len(sim.payouts()) == 1
    results = service(ledger, sim).pay_all()
    assert [r.outcome for r in results] == [Outcome.SETTLED, Outcome.SETTLED]
    assert len(sim.payouts()) == 2
    assert sim.state.create_calls == 2  # S1 was taken over, not created again
    refs = {p.reference_no for p in sim.payouts()}
    assert refs == {ledger.disbursement(did(s)).gateway_reference for s in ("S1", "S2")}


def test_killed_process_between_sent_and_recorded(tmp_path: Path, sim: Simulator) -> None:
    """A real crash: a child process is killed (os._exit) right after Iris accepted the payout."""
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    ledger = ledger_with_vendors(url)
    authorise(ledger, "S1")
    ledger.close()
    child = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from gateways.payouts import Hooks, PayoutService
        from tests.gateway_support import iris_client, new_ledger
        from gateways.simulator import Simulator

        class Sim:
            url = {sim.url!r}

        def die(payout):
            os._exit(9)

        ledger = new_ledger({url!r})
        PayoutService(ledger, iris_client(Sim()), hooks=Hooks(after_approve=die)).pay_all()
        """
    )
    done = subprocess.run([sys.executable, "-c", child], check=False, timeout=60)
    assert done.returncode == 9
    assert len(sim.payouts()) == 1
    assert sim.payouts()[0].status == "completed"  # money has left, the ledger does not know
    ledger = ledger_with_vendors_reopen(url)
    try:
        assert status_of(ledger, "S1") == "authorised"
        [result] = service(ledger, sim).pay_all()
        assert result.outcome is Outcome.SETTLED
        assert len(sim.payouts()) == 1
        assert sim.state.create_calls == 1
    finally:
        ledger.close()


def ledger_with_vendors_reopen(url: str) -> Ledger:
    from tests.gateway_support import new_ledger

    return new_ledger(url)


def test_two_payers_at_once_still_pay_once(tmp_path: Path, sim: Simulator) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    setup = ledger_with_vendors(url)
    for n in range(6):
        authorise(setup, f"S{n}", 10_000_000 + n)
    setup.close()
    ledgers = [ledger_with_vendors_reopen(url) for _ in range(2)]
    errors: list[BaseException] = []

    def run(ledger: Ledger) -> None:
        try:
            service(ledger, sim).pay_all()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(lg,)) for lg in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(sim.payouts()) == 6
    service(ledgers[0], sim).pay_all()
    assert {status_of(ledgers[0], f"S{n}") for n in range(6)} == {"settled"}
    for lg in ledgers:
        lg.close()


def test_failed_payout_is_recorded_and_resent_with_a_new_reference(
    ledger: Ledger, sim: Simulator
) -> None:
    d = authorise(ledger, "S1")
    account = (d.bank_account or {})["number"]
    sim.faults.fail_accounts.add(account)
    [result] = service(ledger, sim).pay_all()
    assert result.outcome is Outcome.FAILED
    first = result.reference
    assert sim.payout(first).status == "failed"
    # nothing resent unless asked
    assert service(ledger, sim).pay_all() == []
    sim.faults.fail_accounts.clear()
    [again] = service(ledger, sim, resend_failed=True).pay_all()
    assert again.outcome is Outcome.SETTLED
    assert again.reference != first and parse_reference(again.reference) == (d.id, 2)
    completed = [p for p in sim.payouts() if p.status == "completed"]
    assert len(completed) == 1


def test_returned_payout_ends_returned(ledger: Ledger, sim: Simulator) -> None:
    d = authorise(ledger, "S1")
    sim.faults.return_accounts.add((d.bank_account or {})["number"])
    [result] = service(ledger, sim).pay_all()
    assert result.outcome is Outcome.RETURNED
    kinds = [type(e).__name__ for e in ledger.history(d.id)]
    assert kinds[-3:] == ["Sent", "Settled", "Returned"]


def test_a_returned_payout_paid_again_goes_to_the_new_account_under_a_new_reference(
    ledger: Ledger, sim: Simulator
) -> None:
    d = authorise(ledger, "S1")
    payer = service(ledger, sim)
    old = (d.bank_account or {})["number"]
    sim.faults.return_accounts.add(old)
    [first] = payer.pay_all()
    assert first.outcome is Outcome.RETURNED
    assert payer.pay_all() == []  # returned: nothing to pay until it is re-issued
    ledger.execute(f.change_account("0055555555", bank_code="110", reason="rekening baru"))
    ledger.execute(f.reissue("S1"))
    [again] = payer.pay_all()  # the same service follows the re-issue from the log
    assert again.outcome is Outcome.SETTLED
    assert again.reference != first.reference
    assert parse_reference(again.reference) == (d.id, 2)
    assert sim.payout(again.reference).beneficiary_account == "0055555555"
    assert sim.payout(first.reference).beneficiary_account == old
    kinds = [type(e).__name__ for e in ledger.history(d.id)]
    assert kinds[-6:] == ["Sent", "Settled", "Returned", "Reissued", "Sent", "Settled"]
    assert payer.pay_all() == []  # paid once


def test_sync_tracks_processing_payouts_to_completion(ledger: Ledger, sim: Simulator) -> None:
    sim.state.instant_payouts = False
    authorise(ledger, "S1")
    [result] = service(ledger, sim).pay_all()
    assert result.outcome is Outcome.SENT
    [pending] = service(ledger, sim).sync()
    assert pending.outcome is Outcome.SENT  # still processing at the bank
    sim.gateway.process_payouts()
    [synced] = service(ledger, sim).sync()
    assert synced.outcome is Outcome.SETTLED
    sim.gateway.bank_return(synced.reference)
    [back] = service(ledger, sim).sync(include_settled=True)
    assert back.outcome is Outcome.RETURNED


def test_invalid_account_is_never_paid(ledger: Ledger, sim: Simulator) -> None:
    d = authorise(ledger, "S1")
    sim.faults.invalid_accounts.add((d.bank_account or {})["number"])
    [result] = service(ledger, sim).pay_all()
    assert result.outcome is Outcome.INVALID_ACCOUNT
    assert sim.payouts() == []
    assert status_of(ledger, "S1") == "authorised"


def test_account_changed_after_sp2d_is_blocked(ledger: Ledger, sim: Simulator) -> None:
    authorise(ledger, "S1")
    ledger.execute(f.change_account("0055555555", bank_code="110", reason="rekening baru"))
    [result] = service(ledger, sim).pay_all()
    assert result.outcome is Outcome.BLOCKED
    assert sim.payouts() == []


def test_payout_with_other_amount_under_our_reference_is_never_approved(
    ledger: Ledger, sim: Simulator
) -> None:
    d = authorise(ledger, "S1")
    ref = payout_reference(d.id, 1)
    from gateways.port import Beneficiary, PayoutRequest

    with iris_client(sim) as client:
        client.create_payout(
            PayoutRequest(ref, Beneficiary("bjb", "0012345678", "X"), 12_345_000, "forged")
        )
    [result] = service(ledger, sim).pay_all()
    assert result.outcome is Outcome.ERROR
    assert "12345000" in result.detail
    assert sim.payout(ref).status == "queued"  # never approved
    assert status_of(ledger, "S1") == "authorised"


def test_gateway_actor_is_the_gateway_role() -> None:
    assert GATEWAY_ACTOR.role.value == "gateway"
    assert PayoutStatus("completed") is PayoutStatus.COMPLETED


def test_crash_and_rerun_on_every_store(ledger_url: str, sim: Simulator) -> None:
    """The same guarantee on the in-memory store, SQLite and PostgreSQL (``ledger_url``)."""
    ledger = ledger_with_vendors(ledger_url)
    try:
        authorise(ledger, "S1")
        authorise(ledger, "S2", 30_000_000, npwp=VENDOR_B_NPWP)

        def crash(payout: Payout) -> None:
            raise Crash(payout.reference)

        with pytest.raises(Crash):
            service(ledger, sim, hooks=Hooks(after_approve=crash)).pay_all()
        results = service(ledger, sim).pay_all()
        assert [r.outcome for r in results] == [Outcome.SETTLED, Outcome.SETTLED]
        assert sim.state.create_calls == 2 and len(sim.payouts()) == 2
        assert service(ledger, sim).pay_all() == []
    finally:
        ledger.close()


def test_payout_rejected_by_the_checker_is_recorded_and_a_new_attempt_pays(
    ledger: Ledger, sim: Simulator
) -> None:
    authorise(ledger, "S1")
    checker = iris_client(sim)

    def reject(payout: Payout) -> None:
        checker.reject_payouts([payout.reference], "nilai kontrak belum sesuai")

    [result] = service(ledger, sim, hooks=Hooks(after_create=reject)).pay_all()
    first = payout_reference(did("S1"), 1)
    assert (result.outcome, result.reference) == (Outcome.REJECTED, first)
    assert sim.payout(first).status == "rejected"
    d = ledger.disbursement(did("S1"))
    assert (d.status, d.attempts, d.gateway_reference) == (Status.AUTHORISED, 1, None)
    [again] = service(ledger, sim).pay_all()  # a new attempt, a new payout for the checker
    assert (again.outcome, again.reference) == (Outcome.SETTLED, payout_reference(did("S1"), 2))
    assert sim.state.create_calls == 2
    assert [type(e).__name__ for e in ledger.history(did("S1"))][4:] == [
        "TransferRejected",
        "Sent",
        "Settled",
    ]
    checker.close()


def test_approver_rejection_is_a_ledger_fact_and_a_later_run_pays_exactly_once(
    ledger: Ledger, sim: Simulator
) -> None:
    authorise(ledger, "S1")
    authorise(ledger, "S2", 50_000_000, npwp=VENDOR_B_NPWP)
    first = payout_reference(did("S1"), 1)
    sim.faults.reject_references.add(first)  # the approver rejects S1's first payout
    results = {r.spp_number: r for r in service(ledger, sim).pay_all()}
    assert results["S1"].outcome is Outcome.REJECTED
    assert results["S2"].outcome is Outcome.SETTLED
    assert sim.payout(first).status == "rejected"
    [fact] = [e for e in ledger.history(did("S1")) if type(e).__name__ == "TransferRejected"]
    assert (fact.gateway, fact.reference, fact.actor_id) == ("iris", first, "gateway.iris")
    assert fact.actor_role == "gateway"
    assert status_of(ledger, "S1") == "authorised"
    # Replaying the rejection (the webhook, or a poller coming second) records nothing.
    replay = ledger.execute(
        c.RecordTransferRejected(
            idempotency_key=f"iris:{first}:rejected",
            actor=GATEWAY_ACTOR,
            pemda=f.PEMDA,
            disbursement_id=did("S1"),
            gateway="iris",
            reference=first,
            reason=fact.reason,
        )
    )
    assert replay.replayed
    # A later run pays S1 under attempt 2, exactly once; the rejected payout is never approved.
    [paid] = service(ledger, sim).pay_all()
    second = payout_reference(did("S1"), 2)
    assert (paid.spp_number, paid.outcome, paid.reference) == ("S1", Outcome.SETTLED, second)
    assert service(ledger, sim).pay_all() == []
    statuses = {p.reference_no: p.status for p in sim.payouts()}
    assert len(statuses) == 3  # S1 twice (rejected, then paid), S2 once
    assert (statuses[first], statuses[second]) == ("rejected", "completed")
    d = ledger.disbursement(did("S1"))
    assert (d.status, d.attempts, d.gateway_reference) == (Status.SETTLED, 2, second)
    names = [type(e).__name__ for e in ledger.history(did("S1"))]
    assert (names.count("TransferRejected"), names.count("Sent"), names.count("Settled")) == (
        1,
        1,
        1,
    )


def test_wrong_approver_key_leaves_the_payout_waiting(ledger: Ledger, sim: Simulator) -> None:
    authorise(ledger, "S1")
    wrong = IrisClient(sim.url + "/iris", SIM_KEYS.creator_key, "not-the-approver-key")
    [result] = PayoutService(ledger, wrong, backoff_seconds=0.01).pay_all()
    assert result.outcome is Outcome.AWAITING_APPROVAL
    assert sim.payout(result.reference).status == "queued"
    assert status_of(ledger, "S1") == "authorised"
    [done] = service(ledger, sim).pay_all()  # the right checker approves on the next run
    assert done.outcome is Outcome.SETTLED
    assert sim.state.create_calls == 1


def test_account_changed_between_create_and_approve_is_not_approved(
    ledger: Ledger, sim: Simulator
) -> None:
    authorise(ledger, "S1")

    def change_account(payout: Payout) -> None:
        ledger.execute(f.change_account("0055555555", bank_code="110", reason="rekening baru"))
        raise Crash(payout.reference)

    with pytest.raises(Crash):
        service(ledger, sim, hooks=Hooks(after_create=change_account)).pay_all()
    [result] = service(ledger, sim).pay_all()
    assert result.outcome is Outcome.BLOCKED
    assert sim.payout(result.reference).status == "queued"


def test_one_service_follows_new_sp2d_and_other_writers(ledger: Ledger, sim: Simulator) -> None:
    payer = service(ledger, sim)
    authorise(ledger, "S1")
    assert [r.outcome for r in payer.pay_all()] == [Outcome.SETTLED]
    authorise(ledger, "S2")
    authorise(ledger, "S3")
    ledger.execute(f.cancel("S3", actor=f.actor("kuasabud.eko", Role.KUASA_BUD)))
    [second] = payer.pay_all()  # S2 only: S1 is settled, S3 cancelled meanwhile
    assert second.spp_number == "S2" and second.outcome is Outcome.SETTLED
    ledger.execute(f.return_("S1"))  # another writer (e.g. the webhook) records a return
    assert [r.spp_number for r in payer.sync(include_settled=True)] == ["S2"]
    assert [d.spp_number for d in payer.disbursements({Status.RETURNED})] == ["S1"]
    assert [d.spp_number for d in payer.disbursements({Status.CANCELLED})] == ["S3"]
