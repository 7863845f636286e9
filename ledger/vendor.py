"""The vendor registry: suppliers and media companies that receive direct (LS) transfers.

A change of bank account is its own event with actor and reason: auditors look for accounts changed
shortly before a payment, and a payment goes only to the account recorded at its SP2D.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import ids
from ledger.errors import InvalidInput, VendorNotPayable
from ledger.fields import name
from ledger.stamp import Stamp
from ledger.triggers import fast_triggers

_BANK_CODE = re.compile(r"^[0-9]{3}$")
_ACCOUNT_NUMBER = re.compile(r"^[0-9]{6,20}$")


class VendorKind(StrEnum):
    COMPANY = "company"  # badan usaha: goods, works, services
    MEDIA = "media"  # media company paid for advertising / publication (5.1.02.02.01.0055 and kin)
    INDIVIDUAL = "individual"  # orang pribadi (e.g. experts, speakers)


def normalise_npwp(value: Any) -> str:
    """NPWP as digits: 15 (legacy ``01.234.567.8-901.000``) or 16 (NIK-based, since 2024)."""
    if not isinstance(value, str):
        raise InvalidInput(f"NPWP must be text, got {type(value).__name__}")
    digits = re.sub(r"[.\-\s]", "", value)
    if not digits.isascii() or not digits.isdigit() or len(digits) not in (15, 16):
        raise InvalidInput(f"NPWP {value!r} must have 15 or 16 digits")
    return digits


@dataclass(frozen=True, slots=True)
class BankAccount:
    """A beneficiary account: the 3-digit bank code (kode bank BI), the account number and its holder."""

    bank_code: str
    number: str
    holder: str

    @classmethod
    def parse(cls, bank_code: Any, number: Any, holder: Any) -> BankAccount:
        if not isinstance(bank_code, str) or not _BANK_CODE.fullmatch(bank_code):
            raise InvalidInput(f"bank code must be three digits, got {bank_code!r}")
        if not isinstance(number, str):
            raise InvalidInput("account number must be text")
        digits = re.sub(r"[.\-\s]", "", number)
        if not _ACCOUNT_NUMBER.match(digits):
            raise InvalidInput(f"account number {number!r} must have 6 to 20 digits")
        return cls(bank_code, digits, name(holder, "account holder"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BankAccount:
        return cls.parse(data.get("bank_code"), data.get("number"), data.get("holder"))

    def as_dict(self) -> dict[str, str]:
        return {"bank_code": self.bank_code, "number": self.number, "holder": self.holder}


@fast_triggers
class Vendor(Aggregate):
    @staticmethod
    def create_id(pemda: str, npwp: str) -> UUID:
        return ids.vendor_id(pemda, npwp)

    @classmethod
    def register(
        cls, pemda: str, npwp: str, name: str, kind: VendorKind, account: BankAccount, by: Stamp
    ) -> Vendor:
        return cls(
            pemda=pemda,
            npwp=npwp,
            name=name,
            kind=kind.value,
            bank_account=account.as_dict(),
            **by.recorded(),
        )

    @property
    def account(self) -> BankAccount:
        return BankAccount(**self.bank_account)

    # -- rules ---------------------------------------------------------------------------------
    def check_payable(self) -> None:
        """Raise unless a payment to this vendor may go ahead (it is active)."""
        if not self.active:
            raise VendorNotPayable(f"vendor {self.name} ({self.npwp}) is deactivated")

    # -- commands ------------------------------------------------------------------------------
    def change_bank_account(self, new: BankAccount, reason: str, by: Stamp) -> None:
        if new.as_dict() == self.bank_account:
            raise InvalidInput(f"vendor {self.name}: the new bank account equals the current one")
        self._bank_account_changed(
            old=self.bank_account, new=new.as_dict(), reason=reason, **by.recorded()
        )

    def deactivate(self, reason: str, by: Stamp) -> None:
        if not self.active:
            raise InvalidInput(f"vendor {self.name} is already inactive")
        self._deactivated(reason=reason, **by.recorded())

    def reactivate(self, reason: str, by: Stamp) -> None:
        if self.active:
            raise InvalidInput(f"vendor {self.name} is already active")
        self._reactivated(reason=reason, **by.recorded())

    # -- facts ---------------------------------------------------------------------------------
    @event("Registered")
    def __init__(
        self,
        pemda: str,
        npwp: str,
        name: str,
        kind: str,
        bank_account: dict[str, str],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.npwp = npwp
        self.name = name
        self.kind = kind
        self.bank_account = dict(bank_account)
        self.active = True
        # Who set the current account, if it was changed: not the one to pay a returned transfer
        # again to it (``Disbursement.check_reissue_to``).
        self.account_changed_by: str | None = None

    @event("BankAccountChanged")
    def _bank_account_changed(
        self,
        old: dict[str, str],
        new: dict[str, str],
        reason: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.bank_account = dict(new)
        self.account_changed_by = actor_id

    @event("Deactivated")
    def _deactivated(self, reason: str, actor_id: str, actor_role: str, at: datetime) -> None:
        self.active = False

    @event("Reactivated")
    def _reactivated(self, reason: str, actor_id: str, actor_role: str, at: datetime) -> None:
        self.active = True
