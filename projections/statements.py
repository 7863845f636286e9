"""Vendor statements: every payment to a vendor with its status, gross, deductions, net, dates and
references; the vendor register as it stands; and every income receipt.

``proj_payment`` has one row per disbursement (SPP), updated as it moves through its life;
``proj_vendor`` one row per vendor; ``proj_receipt`` one row per income receipt. Names, account
numbers, NPWP and free text are sealed when the store is encrypted (``projections.sealing``); a
vendor's NPWP is kept twice, as the keyed hash it is looked up by (``npwp``) and sealed, to be
shown (``npwp_sealed``). ``position`` (of the first event) orders the lists: it never changes and
no two rows share it.
"""

from __future__ import annotations

from projections.db import Cursor
from projections.model import ReadModel, RowChanges, sorted_json
from projections.sealing import Sealer
from projections.source import Fact

# The moment column each disbursement event stamps.
_STAMPED = {
    "Disbursement.Verified": "verified_at",
    "Disbursement.Approved": "approved_at",
    "Disbursement.Authorised": "authorised_at",
    "Disbursement.Sent": "sent_at",
    "Disbursement.Settled": "settled_at",
    "Disbursement.Failed": "failed_at",
    "Disbursement.Returned": "returned_at",
    "Disbursement.Rejected": "rejected_at",
    "Disbursement.Cancelled": "cancelled_at",
    "Disbursement.Lapsed": "lapsed_at",  # tutup tahun: the SPP had no SP2D when the year closed
}
PAYMENT_MOMENTS = ("requested_at", *_STAMPED.values(), "reissued_at")


class StatementModel(ReadModel):
    name = "statements"
    tables = ("proj_vendor", "proj_payment", "proj_receipt")
    kinds = frozenset({"Disbursement", "Vendor", "Revenue"})

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self.vendors = RowChanges("proj_vendor", "vendor_id")
        self.payments = RowChanges("proj_payment", "disbursement_id")
        self.receipts = RowChanges("proj_receipt", "revenue_id")

    def schema(self) -> list[str]:
        moments = ", ".join(f"{m} TEXT" for m in PAYMENT_MOMENTS)
        return [
            "CREATE TABLE IF NOT EXISTS proj_vendor ("
            " vendor_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, npwp TEXT NOT NULL,"
            " name TEXT NOT NULL, kind TEXT NOT NULL, bank_code TEXT NOT NULL,"
            " account_number TEXT NOT NULL, account_holder TEXT NOT NULL,"
            " active INTEGER NOT NULL, registered_at TEXT NOT NULL,"
            " account_changed_at TEXT, account_changes INTEGER NOT NULL DEFAULT 0,"
            " npwp_sealed TEXT NOT NULL, position BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_vendor_npwp ON proj_vendor (pemda, npwp)",
            "CREATE TABLE IF NOT EXISTS proj_payment ("
            " disbursement_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, year INTEGER NOT NULL,"
            " spp_number TEXT NOT NULL, line_id TEXT NOT NULL, vendor_id TEXT NOT NULL,"
            " status TEXT NOT NULL, gross BIGINT NOT NULL, deductions BIGINT NOT NULL,"
            " net BIGINT NOT NULL, deduction_detail TEXT NOT NULL, description TEXT NOT NULL,"
            " documents TEXT NOT NULL, spm_number TEXT, sp2d_number TEXT,"
            " bank_code TEXT, account_number TEXT, account_holder TEXT,"
            " gateway TEXT, gateway_reference TEXT, bank_reference TEXT,"
            " attempts INTEGER NOT NULL DEFAULT 0, reason TEXT,"
            " reissues INTEGER NOT NULL DEFAULT 0,"
            f" {moments}, updated_at TEXT NOT NULL, version INTEGER NOT NULL,"
            " position BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_payment_vendor ON proj_payment (vendor_id)",
            "CREATE INDEX IF NOT EXISTS proj_payment_order ON proj_payment (pemda, position)",
            "CREATE INDEX IF NOT EXISTS proj_payment_year ON proj_payment (pemda, year, status)",
            "CREATE TABLE IF NOT EXISTS proj_receipt ("
            " revenue_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, year INTEGER NOT NULL,"
            " line_id TEXT NOT NULL, channel TEXT NOT NULL, reference TEXT NOT NULL,"
            " payer TEXT NOT NULL, gross BIGINT NOT NULL, fee BIGINT NOT NULL,"
            " net BIGINT NOT NULL, status TEXT NOT NULL, received_at TEXT NOT NULL,"
            " reversed_at TEXT, reason TEXT)",
            "CREATE INDEX IF NOT EXISTS proj_receipt_year ON proj_receipt (pemda, year)",
        ]

    def apply(self, fact: Fact) -> None:
        if fact.name.startswith("Disbursement."):
            self._payment(fact)
        elif fact.name.startswith("Vendor."):
            self._vendor(fact)
        elif fact.name.startswith("Revenue."):
            self._receipt(fact)

    def _payment(self, fact: Fact) -> None:
        b, key, at = fact.body, fact.aggregate_id, fact.stamp
        event = fact.name
        if event == "Disbursement.Requested":
            row = {
                "disbursement_id": key,
                "pemda": b["pemda"],
                "year": b["year"],
                "spp_number": b["spp_number"],
                "line_id": b["line_id"],
                "vendor_id": b["vendor_id"],
                "status": "requested",
                "gross": b["gross"],
                "deductions": sum(d["amount"] for d in b["deductions"]),
                "net": b["net"],
                "deduction_detail": sorted_json(b["deductions"]),
                "description": self.sealer.seal(b["description"]),
                "documents": self.sealer.seal(sorted_json(b["documents"])),
                "attempts": 0,
                "reissues": 0,
                "requested_at": at,
                "updated_at": at,
                "version": fact.version,
                "position": fact.position,
            }
            self.payments.insert(key, row)
            return
        if event == "Disbursement.TransferRejected":
            # Refused by the gateway before sending: the status stays (authorised or failed), the
            # attempt number moves on, and the reason is the latest word on the payment.
            self.payments.set(
                key, reason=self.sealer.seal(b["reason"]), updated_at=at, version=fact.version
            )
            self.payments.add(key, attempts=1)
            return
        if event == "Disbursement.Reissued":
            self._reissued(fact)
            return
        status = event.split(".")[1].lower()
        changes: dict[str, object] = {
            "status": status,
            _STAMPED[event]: at,
            "updated_at": at,
            "version": fact.version,
        }
        match event:
            case "Disbursement.Approved":
                changes["spm_number"] = b["spm_number"]
            case "Disbursement.Authorised":
                account = b["bank_account"]
                changes.update(
                    sp2d_number=b["sp2d_number"],
                    bank_code=account["bank_code"],
                    account_number=self.sealer.seal(account["number"]),
                    account_holder=self.sealer.seal(account["holder"]),
                )
            case "Disbursement.Sent":
                changes.update(gateway=b["gateway"], gateway_reference=b["reference"])
                self.payments.add(key, attempts=1)
            case "Disbursement.Settled":
                changes["bank_reference"] = b["bank_reference"]
            case (
                "Disbursement.Failed"
                | "Disbursement.Returned"
                | "Disbursement.Rejected"
                | "Disbursement.Cancelled"
            ):
                changes["reason"] = self.sealer.seal(b["reason"])
        self.payments.set(key, **changes)

    def _reissued(self, fact: Fact) -> None:
        """A returned transfer paid again: authorised anew to the vendor's new account (the SP2D
        and its amounts stay; the vendor is owed the net once, as before the first transfer)."""
        b, key, at = fact.body, fact.aggregate_id, fact.stamp
        account = b["bank_account"]
        self.payments.set(
            key,
            status="authorised",
            bank_code=account["bank_code"],
            account_number=self.sealer.seal(account["number"]),
            account_holder=self.sealer.seal(account["holder"]),
            reason=self.sealer.seal(b["reason"]),
            reissued_at=at,
            updated_at=at,
            version=fact.version,
        )
        self.payments.add(key, reissues=1)

    def _vendor(self, fact: Fact) -> None:
        b, key, at = fact.body, fact.aggregate_id, fact.stamp
        match fact.name:
            case "Vendor.Registered":
                account = b["bank_account"]
                self.vendors.insert(
                    key,
                    {
                        "vendor_id": key,
                        "pemda": b["pemda"],
                        "npwp": self.sealer.index(b["npwp"]),
                        "npwp_sealed": self.sealer.seal(b["npwp"]),
                        "name": self.sealer.seal(b["name"]),
                        "kind": b["kind"],
                        "bank_code": account["bank_code"],
                        "account_number": self.sealer.seal(account["number"]),
                        "account_holder": self.sealer.seal(account["holder"]),
                        "active": 1,
                        "registered_at": at,
                        "account_changes": 0,
                        "position": fact.position,
                    },
                )
            case "Vendor.BankAccountChanged":
                account = b["new"]
                self.vendors.set(
                    key,
                    bank_code=account["bank_code"],
                    account_number=self.sealer.seal(account["number"]),
                    account_holder=self.sealer.seal(account["holder"]),
                    account_changed_at=at,
                )
                self.vendors.add(key, account_changes=1)
            case "Vendor.Deactivated":
                self.vendors.set(key, active=0)
            case "Vendor.Reactivated":
                self.vendors.set(key, active=1)

    def _receipt(self, fact: Fact) -> None:
        b, key, at = fact.body, fact.aggregate_id, fact.stamp
        if fact.name == "Revenue.Received":
            self.receipts.insert(
                key,
                {
                    "revenue_id": key,
                    "pemda": b["pemda"],
                    "year": b["year"],
                    "line_id": b["line_id"],
                    "channel": b["channel"],
                    "reference": b["reference"],
                    "payer": self.sealer.seal(b["payer"]),
                    "gross": b["gross"],
                    "fee": b["fee"],
                    "net": b["net"],
                    "status": "received",
                    "received_at": at,
                },
            )
        else:
            self.receipts.set(
                key, status="reversed", reversed_at=at, reason=self.sealer.seal(b["reason"])
            )

    def flush(self, cursor: Cursor) -> None:
        self.vendors.flush(cursor)
        self.payments.flush(cursor)
        self.receipts.flush(cursor)

    def discard(self) -> None:
        self.vendors.clear()
        self.payments.clear()
        self.receipts.clear()
