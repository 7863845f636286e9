"""The budget and vendor commands of the year: the APBD, vendor registration, changed accounts,
the blacklisting, blokir, pergeseran and the APBD-P."""

from __future__ import annotations

from dataclasses import dataclass, field

from kasda.demo.pemda import PEMDA, YEAR
from kasda.demo.people import People
from kasda.demo.world import Line, Vendor, million_up
from ledger import commands as c
from ledger.application import Ledger
from ledger.roles import Actor


@dataclass
class BudgetChanges:
    """The lines whose pagu the year changes: the pergeseran's (from, to) pairs, the lines the
    APBD-P raises and cuts (chosen by the plan), and by how much (worked out by the stories)."""

    shifts: list[tuple[Line, Line]] = field(default_factory=list)
    raised: list[Line] = field(default_factory=list)
    cut: list[Line] = field(default_factory=list)
    raises: dict[int, int] = field(default_factory=dict)  # id(line) -> rupiah the APBD-P adds
    cuts: dict[int, int] = field(default_factory=dict)  # id(line) -> its pagu after the APBD-P


class AdminCommands:
    """Budget and vendor commands (APBD, registration, accounts, blokir, pergeseran, APBD-P), built
    when their batch runs, by BPKAD's people, of the pemda's lines and vendors."""

    def __init__(self, people: People, changes: BudgetChanges) -> None:
        self.people = people
        self.changes = changes
        self.admins = people.admins

    def adopt(self, _ledger: Ledger, key: str) -> c.Command:
        return c.AdoptBudget(
            idempotency_key=key,
            actor=self.admins[0],
            pemda=PEMDA,
            year=YEAR,
            document=f"PERDA KOTA BANDUNG 12 TAHUN {YEAR - 1}",
            lines=tuple(x.spec(x.pagu) for x in self.people.lines),
        )

    def register(self, _ledger: Ledger, key: str, *, vendor: Vendor) -> c.Command:
        return c.RegisterVendor(
            idempotency_key=key,
            actor=self.admins[1],
            pemda=PEMDA,
            npwp=vendor.npwp,
            name=vendor.name,
            kind=vendor.kind,
            bank_code=vendor.bank_code,
            account_number=vendor.account,
            account_holder=vendor.name,
        )

    def change_account(self, _ledger: Ledger, key: str, *, vendor: Vendor) -> c.Command:
        vendor.bank_code, vendor.account = self.people.account()
        return c.ChangeVendorBankAccount(
            idempotency_key=key,
            actor=self.admins[1],
            pemda=PEMDA,
            npwp=vendor.npwp,
            bank_code=vendor.bank_code,
            account_number=vendor.account,
            account_holder=vendor.name,
            reason="Surat rekanan: rekening lama ditutup, mohon pembayaran ke rekening baru",
        )

    def deactivate(self, _ledger: Ledger, key: str, *, vendor: Vendor) -> c.Command:
        return c.DeactivateVendor(
            idempotency_key=key,
            actor=self.admins[1],
            pemda=PEMDA,
            npwp=vendor.npwp,
            reason="Masuk daftar hitam LKPP",
        )

    def block(self, _ledger: Ledger, key: str, *, line: Line, actor: Actor) -> c.Command:
        return c.BlockLine(
            idempotency_key=key,
            actor=actor,
            pemda=PEMDA,
            year=YEAR,
            line=line.ref,
            reason="Rekomendasi Inspektorat: reviu kontrak sebelum pembayaran",
        )

    def unblock(self, _ledger: Ledger, key: str, *, line: Line, actor: Actor) -> c.Command:
        return c.UnblockLine(
            idempotency_key=key,
            actor=actor,
            pemda=PEMDA,
            year=YEAR,
            line=line.ref,
            reason="Hasil reviu Inspektorat: kontrak sesuai ketentuan",
        )

    def shift(
        self, _ledger: Ledger, key: str, *, source: Line, target: Line, amount: int, number: int
    ) -> c.Command:
        return c.ShiftBudget(
            idempotency_key=key,
            actor=self.admins[0],
            pemda=PEMDA,
            year=YEAR,
            document=f"PERWAL KOTA BANDUNG {number} TAHUN {YEAR} PERGESERAN",
            from_line=source.ref,
            to_line=target.ref,
            amount=amount,
        )

    def amend(self, _ledger: Ledger, key: str) -> c.Command:
        changes, new_lines = self.changes, self.people.new_lines
        raises, cuts = changes.raises, changes.cuts
        specs = [x.spec(x.pagu + raises[id(x)]) for x in changes.raised]
        specs += [x.spec(cuts[id(x)]) for x in changes.cut if id(x) in cuts]
        specs += [x.spec(x.pagu) for x in new_lines]
        # Income is revised with spending: the BPHTB target rises by what spending rose.
        spending = sum(raises.values()) + sum(x.pagu for x in new_lines)
        spending -= sum(x.pagu - cuts[id(x)] for x in changes.cut if id(x) in cuts)
        bphtb = next(x for x in self.people.lines if x.code == "4.1.01.13.01.0001")
        if spending > 0:
            specs.append(bphtb.spec(bphtb.pagu + million_up(spending)))
        return c.AmendBudget(
            idempotency_key=key,
            actor=self.admins[0],
            pemda=PEMDA,
            year=YEAR,
            document=f"PERDA KOTA BANDUNG 7 TAHUN {YEAR} PERUBAHAN APBD",
            lines=tuple(specs),
        )
