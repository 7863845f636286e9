"""Iris, Midtrans's payout product: create payouts (maker), approve or reject them (checker), look
them up, validate accounts, keep beneficiaries, and the bank's side of a payout (it completes, fails
or comes back). Every status change is notified to ``webhook_url``, signed with the merchant key.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gateways.amounts import AmountError, parse_rupiah
from gateways.signatures import iris_signature
from gateways.simulator.notifications import Notifier
from gateways.simulator.replies import ApiError, Reply
from gateways.simulator.state import SimKeys, SimPayout, SimState

REFERENCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ACCOUNT = re.compile(r"^[0-9]{6,20}$")
MIN_PAYOUT = 10_000  # rupiah
MAX_NOTES = 100  # characters
REQUIRED = ("beneficiary_name", "beneficiary_account", "beneficiary_bank", "amount")
APPROVABLE = frozenset({"queued", "approved", "processed", "completed", "failed"})
REJECTABLE = frozenset({"queued", "rejected"})


class IrisPayouts:
    def __init__(self, state: SimState, keys: SimKeys, notifier: Notifier) -> None:
        self.state = state
        self.keys = keys
        self.notifier = notifier
        self.webhook_url: str | None = None

    # -- maker ---------------------------------------------------------------------------------
    def create_payouts(self, body: Any, idem: str) -> Reply:
        """Create each payout, or answer the one already made under its reference (a replay). A
        reference used for another payout refuses the whole request."""
        items = body.get("payouts") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise ApiError(400, {"error_message": "payouts must be a non-empty list"})
        s = self.state
        with s.lock:
            parsed = [self._payout_item(item, idem if len(items) == 1 else "") for item in items]
            s.create_calls += len(parsed)
            for payout in parsed:
                self._refuse_reused_reference(payout)
            answers = [self._create(payout) for payout in parsed]
        return Reply(201, {"payouts": answers})

    def _refuse_reused_reference(self, payout: SimPayout) -> None:
        existing = self.state.payouts.get(payout.reference_no)
        if existing is None:
            return
        same = (existing.amount, existing.beneficiary_account)
        if same != (payout.amount, payout.beneficiary_account):
            raise ApiError(
                409,
                {
                    "error_message": f"reference_no {payout.reference_no} already used "
                    "for another payout"
                },
            )

    def _create(self, payout: SimPayout) -> dict[str, str]:
        s = self.state
        existing = s.payouts.get(payout.reference_no)
        if existing is None:
            s.payouts[payout.reference_no] = payout
            s.create_requests += 1
            existing = payout
        return {"status": existing.status, "reference_no": existing.reference_no}

    def _payout_item(self, item: Any, idem: str) -> SimPayout:
        if not isinstance(item, dict):
            raise ApiError(400, {"error_message": "each payout must be an object"})
        reference = str(item.get("reference_no") or idem or "")
        if not reference:
            reference = self.state.new_id().replace("-", "")[:20]
        amount, errors = _payout_errors(item, reference)
        if errors:
            raise ApiError(
                400, {"error_message": "An error occured when creating payouts", "errors": errors}
            )
        return SimPayout(
            reference_no=reference,
            idempotency_key=idem,
            beneficiary_name=str(item["beneficiary_name"]),
            beneficiary_account=str(item["beneficiary_account"]),
            beneficiary_bank=str(item["beneficiary_bank"]),
            beneficiary_email=str(item.get("beneficiary_email", "")),
            amount=amount,
            notes=str(item.get("notes", "")),
            created_by="creator",
            created_at=self.state.now(),
        )

    # -- checker -------------------------------------------------------------------------------
    def approve(self, body: Any) -> Reply:
        """Approve queued payouts: the fee and the amount leave the Iris balance and the payout
        goes to the bank (at once with ``instant_payouts``). Approving twice changes nothing."""
        s = self.state
        refs = _references(body)
        with s.lock:
            self._check_statuses(refs, APPROVABLE)
            for ref in refs:
                payout = s.payouts[ref]
                if payout.status == "queued":
                    self._approve(payout)
        return Reply(202, {"status": "ok"})

    def _approve(self, payout: SimPayout) -> None:
        s = self.state
        if payout.reference_no in s.faults.reject_references:
            self._move(payout, "rejected")  # the checker said no instead
            return
        payout.approved_by = "approver"
        payout.fee = s.payout_fee
        s.iris_balance -= payout.amount + payout.fee
        self._move(payout, "approved")
        self._move(payout, "processed")
        if s.instant_payouts:
            self._finish(payout)

    def reject(self, body: Any) -> Reply:
        s = self.state
        refs = _references(body)
        with s.lock:
            self._check_statuses(refs, REJECTABLE)
            for ref in refs:
                if s.payouts[ref].status == "queued":
                    self._move(s.payouts[ref], "rejected")
        return Reply(202, {"status": "ok"})

    def _check_statuses(self, refs: list[str], allowed: frozenset[str]) -> None:
        """All or nothing: every payout named exists and may take the step."""
        for ref in refs:
            payout = self.state.payouts.get(ref)
            if payout is None:
                raise ApiError(404, {"error_message": f"Payout {ref} not found"})
            if payout.status not in allowed:
                raise ApiError(400, {"error_message": f"Payout {ref} is {payout.status}"})

    # -- reading -------------------------------------------------------------------------------
    def payout(self, reference: str) -> Reply:
        with self.state.lock:
            payout = self.state.payouts.get(reference)
            if payout is None:
                raise ApiError(404, {"error_message": f"Payout {reference} not found"})
            return Reply(200, payout.document())

    def balance(self) -> Reply:
        with self.state.lock:
            return Reply(200, {"balance": f"{self.state.iris_balance}.00"})

    # -- accounts ------------------------------------------------------------------------------
    def validate(self, bank: str, account: str) -> Reply:
        s = self.state
        if not bank or not ACCOUNT.match(account) or account in s.faults.invalid_accounts:
            raise ApiError(
                400,
                {"error_message": "Account validation failed", "errors": ["account not found"]},
            )
        with s.lock:
            s.validations += 1
        name = s.faults.account_names.get(account, f"REKENING {account}")
        return Reply(200, {"account_name": name, "account_no": account, "bank_name": bank})

    def beneficiaries(self) -> Reply:
        with self.state.lock:
            return Reply(200, [dict(b) for b in self.state.beneficiaries.values()])

    def save_beneficiary(self, body: Any, alias: str | None) -> Reply:
        """Add a beneficiary (``alias`` None: the body names a new alias) or replace one."""
        if not isinstance(body, dict):
            raise ApiError(400, {"error_message": "body must be an object"})
        fields = {
            k: str(body.get(k, "")) for k in ("name", "account", "bank", "alias_name", "email")
        }
        if not fields["name"] or not ACCOUNT.match(fields["account"]) or not fields["bank"]:
            raise ApiError(400, {"error_message": "name, bank and a valid account are required"})
        with self.state.lock:
            beneficiaries = self.state.beneficiaries
            if alias is None:
                if not fields["alias_name"] or fields["alias_name"] in beneficiaries:
                    raise ApiError(400, {"error_message": "alias_name missing or already used"})
                beneficiaries[fields["alias_name"]] = fields
                return Reply(201, {"status": "created"})
            if alias not in beneficiaries:
                raise ApiError(404, {"error_message": f"beneficiary {alias} not found"})
            fields["alias_name"] = alias
            beneficiaries[alias] = fields
            return Reply(200, {"status": "updated"})

    # -- the bank ------------------------------------------------------------------------------
    def process_payouts(self) -> int:
        """Finish every processed payout (when ``instant_payouts`` is off)."""
        with self.state.lock:
            waiting = [p for p in self.state.payouts.values() if p.status == "processed"]
            for payout in waiting:
                self._finish(payout)
        return len(waiting)

    def bank_return(self, reference: str, code: str = "returned") -> None:
        """The beneficiary bank sends a completed payout back (wrong name, closed account)."""
        s = self.state
        with s.lock:
            payout = s.payouts[reference]
            if payout.status != "completed":
                raise ValueError(f"payout {reference} is {payout.status}, not completed")
            payout.error_code = code
            payout.returned_at = s.now()
            s.iris_balance += payout.amount
            self._move(payout, "failed")

    def _finish(self, payout: SimPayout) -> None:
        s = self.state
        if (
            payout.beneficiary_account in s.faults.fail_accounts
            or payout.reference_no in s.faults.fail_references
        ):
            payout.error_code = "account_closed"
            s.iris_balance += payout.amount + payout.fee  # nothing moved, nothing charged
            payout.fee = 0
            self._move(payout, "failed")
            return
        payout.completed_at = s.now()
        self._move(payout, "completed")
        if payout.beneficiary_account in s.faults.return_accounts:
            self.bank_return(payout.reference_no)

    def _move(self, payout: SimPayout, status: str) -> None:
        payout.status = status
        payout.updated_at = self.state.now()
        if self.webhook_url:
            self._notify(payout, self.webhook_url)

    def _notify(self, payout: SimPayout, url: str) -> None:
        assert payout.updated_at is not None
        body = {
            "reference_no": payout.reference_no,
            "amount": f"{payout.amount}.00",
            "status": payout.status,
            "updated_at": payout.updated_at.isoformat(timespec="seconds"),
        }
        if payout.error_code:
            body["error_code"] = payout.error_code
        raw = json.dumps(body).encode()
        signature = iris_signature(raw, self.keys.merchant_key)
        self.notifier.send(url, raw, {"Iris-Signature": signature})


def _payout_errors(item: dict[str, Any], reference: str) -> tuple[int, list[str]]:
    """The amount of a payout item, and everything wrong with the item (in Iris's order)."""
    errors = [f"{name} is required" for name in REQUIRED if not item.get(name)]
    try:
        amount = parse_rupiah(item.get("amount", ""))
    except AmountError as error:
        errors.append(str(error))
        amount = 0
    if amount < MIN_PAYOUT and not errors:
        errors.append(f"amount must be at least {MIN_PAYOUT}")
    account = str(item.get("beneficiary_account", ""))
    if account and not ACCOUNT.match(account):
        errors.append("beneficiary_account must be 6 to 20 digits")
    if not REFERENCE.match(reference):
        errors.append("reference_no must be 1..64 letters, digits, '-' or '_'")
    if len(str(item.get("notes", ""))) > MAX_NOTES:
        errors.append(f"notes must be at most {MAX_NOTES} characters")
    return amount, errors


def _references(body: Any) -> list[str]:
    refs = body.get("reference_nos") if isinstance(body, dict) else None
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
        raise ApiError(400, {"error_message": "reference_nos must be a non-empty list"})
    return list(refs)
