"""A small typed client for Midtrans Iris (payouts). Iris has no Python SDK.

Two credentials, maker-checker: the creator key creates payouts and manages beneficiaries, the
approver key approves or rejects them. A timeout raises ``GatewayTimeout`` and a 5xx or a broken
connection ``GatewayUnavailable``: for a write both mean "outcome unknown", and the payout service
resolves them by looking the payout up by its reference before anything is retried.

kasda sends its own deterministic payout reference in each payout's ``reference_no`` and as the
``X-Idempotency-Key`` header (see docs/gateways.md, "payout references").
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from gateways.amounts import AmountError, format_rupiah, parse_rupiah
from gateways.port import (
    AccountInvalid,
    AccountValidation,
    Beneficiary,
    GatewayError,
    GatewayRejected,
    GatewayTimeout,
    GatewayUnavailable,
    Payout,
    PayoutNotFound,
    PayoutRequest,
    PayoutStatus,
    RegisteredBeneficiary,
)

log = logging.getLogger(__name__)


class IrisClient:
    """Implements ``gateways.port.PayoutGateway`` over HTTP."""

    name = "iris"

    def __init__(
        self,
        base_url: str,
        creator_key: str,
        approver_key: str,
        *,
        timeout_seconds: float = 10.0,
        otp: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not creator_key or not approver_key:
            raise ValueError("Iris needs both a creator key and an approver key")
        if creator_key == approver_key:
            raise ValueError("the Iris creator and approver keys must differ (maker-checker)")
        self._base = base_url.rstrip("/") + "/api/v1"
        self._otp = otp
        common: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout_seconds),
            "headers": {"Accept": "application/json", "User-Agent": "kasda-iris/0.1"},
        }
        if transport is not None:
            common["transport"] = transport
        self._creator = httpx.Client(auth=(creator_key, ""), **common)
        self._approver = httpx.Client(auth=(approver_key, ""), **common)

    def close(self) -> None:
        self._creator.close()
        self._approver.close()

    def __enter__(self) -> IrisClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ----------------------------------------------------------------------------------
    def _call(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        url = self._base + path
        try:
            response = client.request(method, url, json=json, params=params, headers=headers)
        except httpx.TimeoutException as error:
            raise GatewayTimeout(f"Iris {method} {path}: no answer in time ({error})") from error
        except httpx.TransportError as error:
            raise GatewayUnavailable(f"Iris {method} {path}: {error}") from error
        if response.status_code >= 500:
            raise GatewayUnavailable(f"Iris {method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            message = f"Iris {method} {path}: HTTP {response.status_code}: {response.text[:300]}"
            if response.status_code == 404:
                raise PayoutNotFound(message, response.status_code, response.text)
            raise GatewayRejected(message, response.status_code, response.text)
        try:
            return response.json()
        except ValueError as error:
            raise GatewayUnavailable(f"Iris {method} {path}: answer is not JSON") from error

    # -- payouts -------------------------------------------------------------------------------
    def create_payout(self, request: PayoutRequest) -> Payout:
        body = {
            "payouts": [
                {
                    "reference_no": request.reference,
                    "beneficiary_name": request.beneficiary.name,
                    "beneficiary_account": request.beneficiary.account,
                    "beneficiary_bank": request.beneficiary.bank,
                    "beneficiary_email": request.beneficiary.email,
                    "amount": format_rupiah(request.amount),
                    "notes": request.notes,
                }
            ]
        }
        data = self._call(
            self._creator,
            "POST",
            "/payouts",
            json=body,
            headers={"X-Idempotency-Key": request.reference},
        )
        try:
            item = data["payouts"][0]
            status = PayoutStatus(item["status"])
            reference = str(item["reference_no"])
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise GatewayUnavailable(f"Iris create payout: unexpected answer {data!r}") from error
        if reference != request.reference:
            raise GatewayError(
                f"Iris answered reference {reference!r} for payout {request.reference!r}"
            )
        return Payout(
            reference=reference,
            status=status,
            amount=request.amount,
            beneficiary_account=request.beneficiary.account,
            beneficiary_bank=request.beneficiary.bank,
            notes=request.notes,
        )

    def approve_payouts(self, references: list[str]) -> None:
        body: dict[str, Any] = {"reference_nos": references}
        if self._otp:
            body["otp"] = self._otp
        self._call(self._approver, "POST", "/payouts/approve", json=body)

    def reject_payouts(self, references: list[str], reason: str) -> None:
        body = {"reference_nos": references, "reject_reason": reason}
        self._call(self._approver, "POST", "/payouts/reject", json=body)

    def get_payout(self, reference: str) -> Payout:
        data = self._call(self._creator, "GET", f"/payouts/{reference}")
        return payout_from_json(data)

    # -- accounts ------------------------------------------------------------------------------
    def validate_account(self, bank: str, account: str) -> AccountValidation:
        try:
            data = self._call(
                self._creator,
                "GET",
                "/account_validation",
                params={"bank": bank, "account": account},
            )
        except GatewayRejected as error:
            raise AccountInvalid(f"account {bank}/{account} is not valid: {error.body}") from error
        name = str(data.get("account_name") or "")
        if not name:
            raise AccountInvalid(f"account {bank}/{account}: the bank returned no holder name")
        return AccountValidation(
            bank=bank, account=str(data.get("account_no", account)), account_name=name
        )

    def beneficiaries(self) -> list[RegisteredBeneficiary]:
        data = self._call(self._creator, "GET", "/beneficiaries")
        return [
            RegisteredBeneficiary(
                alias=str(b.get("alias_name", "")),
                bank=str(b.get("bank", "")),
                account=str(b.get("account", "")),
                name=str(b.get("name", "")),
            )
            for b in data
        ]

    def save_beneficiary(self, alias: str, beneficiary: Beneficiary, *, update: bool) -> None:
        body = {
            "name": beneficiary.name,
            "account": beneficiary.account,
            "bank": beneficiary.bank,
            "alias_name": alias,
            "email": beneficiary.email,
        }
        if update:
            self._call(self._creator, "PATCH", f"/beneficiaries/{alias}", json=body)
        else:
            self._call(self._creator, "POST", "/beneficiaries", json=body)

    def balance(self) -> int:
        data = self._call(self._creator, "GET", "/balance")
        return parse_rupiah(data["balance"])


def payout_from_json(data: Any) -> Payout:
    """An Iris payout document (``GET /payouts/{reference_no}`` or a notification) as a ``Payout``."""
    try:
        return Payout(
            reference=str(data["reference_no"]),
            status=PayoutStatus(data["status"]),
            amount=parse_rupiah(data["amount"]),
            beneficiary_account=str(data.get("beneficiary_account_number", "")),
            beneficiary_bank=str(data.get("bank", "")),
            notes=str(data.get("notes", "")),
            error_code=str(data.get("error_code") or ""),
            created_at=str(data.get("created_at", "")),
            updated_at=str(data.get("updated_at", "")),
        )
    except (KeyError, TypeError, ValueError, AmountError) as error:
        raise GatewayUnavailable(f"Iris payout document not understood: {error}") from error
