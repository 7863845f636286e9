"""One planned disbursement and the commands of its life, built when their batch runs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from gateways.references import payout_reference
from kasda.demo.chart import TAX_RATES
from kasda.demo.pemda import PEMDA, ROMAN, YEAR
from kasda.demo.world import Line, Skpd, Vendor
from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.money import withholdings_on_gross
from ledger.roles import Actor

# Why things go wrong, as written in the commands.
REJECT_REASONS = {
    "verify": (
        "Dokumen tidak lengkap: BAST belum ditandatangani",
        "Faktur tidak sesuai dengan nilai kontrak",
        "Kode rekening tidak sesuai dengan DPA",
    ),
    "approve": ("Nilai SPM melebihi sisa anggaran kas bulan berjalan", "Kontrak belum didaftarkan"),
    "authorise": (
        "Nama rekening penerima tidak sesuai dengan NPWP rekanan",
        "Potongan pajak belum sesuai ketentuan",
    ),
}
CANCEL_REASONS = (
    "Kontrak diputus oleh PPK",
    "Kegiatan ditunda ke tahun anggaran berikutnya",
    "Pekerjaan belum selesai, pembayaran ditunda",
)
REPAID_REASON = "Transfer dikembalikan bank; dibayar ulang ke rekening baru sesuai surat rekanan"


class Books(Protocol):
    """What a lifecycle reads from its year, and numbers there, when it builds its commands."""

    def month(self, day: int) -> int: ...  # the month of working day ``day``

    def vendor_no(self, vendor: Vendor) -> int: ...  # the vendor's number in the registry

    def next_sp2d(self) -> int: ...  # the next number of the Kuasa BUD's SP2D register


@dataclass(eq=False)
class Lifecycle:
    """One planned disbursement: its line, vendor, amounts, people and how its life ends."""

    books: Books  # the year it belongs to
    line: Line
    vendor: Vendor
    gross: int
    day: int  # index of the working day of the SPP
    outcome: str
    maker: Actor
    verifier: Actor
    approver: Actor
    authoriser: Actor
    note: str = ""
    spp: str = ""
    spm: str = ""
    sp2d: str = ""
    verify_day: int = -1
    sp2d_day: int = -1  # the working day its SP2D is issued, once scheduled
    documents: dict[str, str] = field(default_factory=dict)
    scheme: str = ""  # the red-flag scheme it is planted for (``schemes``), if any

    @property
    def skpd(self) -> Skpd:
        return self.line.skpd

    @property
    def id(self) -> UUID:
        return ids.disbursement_id(PEMDA, YEAR, self.spp)

    def deductions(self) -> tuple[dict[str, Any], ...]:
        """Withholdings from the rate table: PPN is included in the gross, so every tax is levied
        on the tax base (DPP) = gross x 100 / (100 + PPN rate)."""
        assert self.line.rekening is not None
        codes = list(self.line.rekening.taxes)
        return tuple(d.as_dict() for d in withholdings_on_gross(self.gross, codes, TAX_RATES))

    def _number(self, kind: str, seq: int) -> str:
        return f"{PEMDA}/{seq:05d}/{kind}/{self.skpd.short}/{YEAR}"

    def _documents(self) -> dict[str, str]:
        if not self.documents:
            skpd = self.skpd
            skpd.contract_seq += 1
            n, month = skpd.contract_seq, ROMAN[self.books.month(self.day) - 1]
            self.documents = {
                "kontrak": f"{n:03d}/SPK/{skpd.short}/{month}/{YEAR}",
                # The vendor's invoice to this SKPD: unique, or it reads as a bill paid twice.
                "faktur": f"INV/{YEAR}/{skpd.short}/{self.books.vendor_no(self.vendor):02d}/{n:04d}",
                "bast": f"{n:03d}/BAST/{skpd.short}/{month}/{YEAR}",
            }
            if self.vendor.category == "media":
                self.documents["bukti_tayang"] = f"BT/{skpd.short}/{n:04d}/{YEAR}"
        return dict(self.documents)

    # -- commands, built when their batch runs (numbers are issued in the order things happen) ----
    def request(self, _ledger: Ledger, key: str, *, refused: bool = False) -> c.Command:
        skpd = self.skpd
        if refused:  # an SPP the ledger turns away is never numbered
            spp = self._number("SPP-LS", skpd.spp_seq + 1)
        else:
            skpd.spp_seq += 1
            self.spp = spp = self._number("SPP-LS", skpd.spp_seq)
        assert self.line.rekening is not None
        return c.RequestDisbursement(
            idempotency_key=key,
            actor=self.maker,
            pemda=PEMDA,
            year=YEAR,
            spp_number=spp,
            line=self.line.ref,
            vendor_npwp=self.vendor.npwp,
            gross=self.gross,
            deductions=self.deductions(),
            description=f"{self.line.rekening.uraian}: {self.line.sub_kegiatan_name}, "
            f"{self.vendor.name}{self.note}",
            documents=self._documents(),
        )

    def verify(self, _ledger: Ledger, key: str, *, actor: Actor | None = None) -> c.Command:
        return c.VerifyDisbursement(
            idempotency_key=key, actor=actor or self.verifier, pemda=PEMDA, disbursement_id=self.id
        )

    def approve(self, _ledger: Ledger, key: str) -> c.Command:
        if not self.spm:
            self.skpd.spm_seq += 1
            self.spm = self._number("SPM-LS", self.skpd.spm_seq)
        return c.ApproveSpm(
            idempotency_key=key,
            actor=self.approver,
            pemda=PEMDA,
            disbursement_id=self.id,
            spm_number=self.spm,
        )

    def authorise(self, _ledger: Ledger, key: str) -> c.Command:
        if not self.sp2d:  # an SP2D held back keeps its number until it is issued
            self.sp2d = f"{PEMDA}/{self.books.next_sp2d():05d}/SP2D-LS/BUD/{YEAR}"
        return c.AuthoriseSp2d(
            idempotency_key=key,
            actor=self.authoriser,
            pemda=PEMDA,
            disbursement_id=self.id,
            sp2d_number=self.sp2d,
        )

    def reject(self, _ledger: Ledger, key: str, *, actor: Actor, reason: str) -> c.Command:
        return c.RejectDisbursement(
            idempotency_key=key, actor=actor, pemda=PEMDA, disbursement_id=self.id, reason=reason
        )

    def cancel(self, _ledger: Ledger, key: str, *, actor: Actor, reason: str) -> c.Command:
        return c.CancelDisbursement(
            idempotency_key=key, actor=actor, pemda=PEMDA, disbursement_id=self.id, reason=reason
        )

    def reissue(self, _ledger: Ledger, key: str, *, actor: Actor, reason: str) -> c.Command:
        """The returned transfer paid again to the vendor's new account: the same SP2D."""
        return c.ReissueReturnedTransfer(
            idempotency_key=key, actor=actor, pemda=PEMDA, disbursement_id=self.id, reason=reason
        )

    def reference(self, attempt: int = 1) -> str:
        """The payout reference of transfer ``attempt`` (known once the SPP is numbered)."""
        return payout_reference(self.id, attempt)

    def duplicate(self, _ledger: Ledger, key: str, *, of: Lifecycle) -> c.Command:
        """The SPP of ``of`` keyed in a second time, under a new idempotency key."""
        command = self.request(_ledger, key, refused=True)
        assert isinstance(command, c.RequestDisbursement)
        return dataclasses.replace(command, spp_number=of.spp)

    def over_pagu(self, ledger: Ledger, key: str) -> c.Command:
        """An SPP for Rp 1 juta more than what is left of the line's pagu right now."""
        self.gross = ledger.budget_line(self.line.id).available + 1_000_000
        return self.request(ledger, key, refused=True)
