"""Builders for tests: actors, a small APBD, vendors and the commands of a disbursement's life."""

from __future__ import annotations

import itertools
from typing import Any
from uuid import UUID

from ledger import commands as c
from ledger import ids
from ledger.application import CommandResult, Ledger
from ledger.roles import SKPD_BOUND, Actor, Role
from testkit import world
from testkit.world import GOODS, MEDIA, USERS, VENDOR_NAME

# The world of ``testkit.world``, as the tests write it: ``f.PEMDA``, ``f.SKPD``, ...
PEMDA, YEAR = world.PEMDA, world.YEAR
SKPD, OTHER_SKPD, SUB_KEGIATAN = world.SKPD, world.OTHER_SKPD, world.SUB_KEGIATAN


def actor(user_id: str, role: Role, skpd: str = SKPD) -> Actor:
    """A user in ``role``: an official of ``skpd`` (by default the one of the world here) if the
    role is SKPD-bound, pemda-wide otherwise."""
    return Actor(user_id, role, skpd if role in SKPD_BOUND else None)


ADMIN = actor(USERS[Role.BPKAD_ADMIN], Role.BPKAD_ADMIN)
PPTK = actor(USERS[Role.PPTK], Role.PPTK)
PPK = actor(USERS[Role.PPK], Role.PPK)
PA = actor(USERS[Role.PA_KPA], Role.PA_KPA)
BUD = actor(USERS[Role.KUASA_BUD], Role.KUASA_BUD)
GATEWAY = actor(USERS[Role.GATEWAY], Role.GATEWAY)

NPWP = world.NPWP_WRITTEN  # commands carry the NPWP as people write it
NPWP_DIGITS = world.NPWP  # the ledger keeps its digits

_keys = itertools.count(1)


def key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}"


def line_spec(rekening: str = MEDIA, pagu: int = 1_000_000_000, **kw: Any) -> c.LineSpec:
    return c.LineSpec(
        skpd=kw.get("skpd", SKPD),
        sub_kegiatan=kw.get("sub_kegiatan", SUB_KEGIATAN),
        rekening=rekening,
        uraian=kw.get("uraian", "Belanja Jasa Iklan/Reklame, Film, dan Pemotretan"),
        pagu=pagu,
    )


def ref(spec: c.LineSpec) -> c.LineRef:
    return c.LineRef(skpd=spec.skpd, sub_kegiatan=spec.sub_kegiatan, rekening=spec.rekening)


MEDIA_LINE = line_spec()
GOODS_LINE = line_spec(GOODS, 500_000_000, uraian="Belanja Alat Tulis Kantor")


def adopt(ledger: Ledger, *specs: c.LineSpec, pemda: str = PEMDA) -> CommandResult:
    lines = specs or (MEDIA_LINE, GOODS_LINE)
    return ledger.execute(
        c.AdoptBudget(
            idempotency_key=key("adopt"),
            actor=ADMIN,
            pemda=pemda,
            year=YEAR,
            document="PERDA-1-2025",
            lines=tuple(lines),
        )
    )


def register_vendor(
    ledger: Ledger,
    npwp: str = NPWP,
    name: str = VENDOR_NAME,
    kind: str = "media",
    account: str = "0012345678",
    pemda: str = PEMDA,
) -> CommandResult:
    return ledger.execute(
        c.RegisterVendor(
            idempotency_key=key("vendor"),
            actor=ADMIN,
            pemda=pemda,
            npwp=npwp,
            name=name,
            kind=kind,
            bank_code="110",
            account_number=account,
            account_holder=name,
        )
    )


def change_account(
    number: str = "9876543210",
    *,
    bank_code: str = "008",
    holder: str = VENDOR_NAME,
    reason: str = "surat permohonan vendor no. 12/2026",
    actor: Actor = ADMIN,
    npwp: str = NPWP,
) -> c.ChangeVendorBankAccount:
    return c.ChangeVendorBankAccount(
        idempotency_key=key("bank"),
        actor=actor,
        pemda=PEMDA,
        npwp=npwp,
        bank_code=bank_code,
        account_number=number,
        account_holder=holder,
        reason=reason,
    )


def request(
    spp: str,
    gross: int = 100_000_000,
    spec: c.LineSpec = MEDIA_LINE,
    *,
    actor: Actor = PPTK,
    npwp: str = NPWP,
    deductions: tuple[dict[str, Any], ...] = ({"code": "PPH23", "amount": 2_000_000},),
    idempotency_key: str | None = None,
    pemda: str = PEMDA,
) -> c.RequestDisbursement:
    return c.RequestDisbursement(
        idempotency_key=idempotency_key or key("spp"),
        actor=actor,
        pemda=pemda,
        year=YEAR,
        spp_number=spp,
        line=ref(spec),
        vendor_npwp=npwp,
        gross=gross,
        deductions=deductions,
        description="Publikasi kegiatan",
        documents={"contract": "KONTRAK/01/2026"},
    )


def disbursement_id(spp: str, pemda: str = PEMDA) -> UUID:
    return ids.disbursement_id(pemda, YEAR, spp)


def verify(spp: str, actor: Actor = PPK, **kw: Any) -> c.VerifyDisbursement:
    return c.VerifyDisbursement(
        idempotency_key=kw.get("idempotency_key") or key("verify"),
        actor=actor,
        pemda=kw.get("pemda", PEMDA),
        disbursement_id=disbursement_id(spp, kw.get("pemda", PEMDA)),
    )


def approve(spp: str, actor: Actor = PA, spm: str | None = None, **kw: Any) -> c.ApproveSpm:
    return c.ApproveSpm(
        idempotency_key=kw.get("idempotency_key") or key("spm"),
        actor=actor,
        pemda=kw.get("pemda", PEMDA),
        disbursement_id=disbursement_id(spp, kw.get("pemda", PEMDA)),
        spm_number=spm or f"SPM/{spp}",
    )


def authorise(spp: str, actor: Actor = BUD, sp2d: str | None = None, **kw: Any) -> c.AuthoriseSp2d:
    return c.AuthoriseSp2d(
        idempotency_key=kw.get("idempotency_key") or key("sp2d"),
        actor=actor,
        pemda=kw.get("pemda", PEMDA),
        disbursement_id=disbursement_id(spp, kw.get("pemda", PEMDA)),
        sp2d_number=sp2d or f"SP2D/{spp}",
    )


def send(spp: str, actor: Actor = GATEWAY, reference: str | None = None) -> c.RecordTransferSent:
    return c.RecordTransferSent(
        idempotency_key=key("sent"),
        actor=actor,
        pemda=PEMDA,
        disbursement_id=disbursement_id(spp),
        gateway="iris",
        reference=reference or f"IRIS-{spp}",
    )


def settle(spp: str, actor: Actor = GATEWAY) -> c.RecordSettlement:
    return c.RecordSettlement(
        idempotency_key=key("settle"),
        actor=actor,
        pemda=PEMDA,
        disbursement_id=disbursement_id(spp),
        bank_reference=f"BANK-{spp}",
    )


def fail(spp: str, reason: str = "rekening tidak aktif") -> c.RecordTransferFailed:
    return c.RecordTransferFailed(
        idempotency_key=key("fail"),
        actor=GATEWAY,
        pemda=PEMDA,
        disbursement_id=disbursement_id(spp),
        reason=reason,
    )


def return_(spp: str, reason: str = "nama rekening tidak sesuai") -> c.RecordTransferReturned:
    return c.RecordTransferReturned(
        idempotency_key=key("return"),
        actor=GATEWAY,
        pemda=PEMDA,
        disbursement_id=disbursement_id(spp),
        reason=reason,
    )


def reject(spp: str, actor: Actor, reason: str = "dokumen tidak lengkap") -> c.RejectDisbursement:
    return c.RejectDisbursement(
        idempotency_key=key("reject"),
        actor=actor,
        pemda=PEMDA,
        disbursement_id=disbursement_id(spp),
        reason=reason,
    )


def cancel(
    spp: str, actor: Actor = PPTK, reason: str = "kontrak dibatalkan"
) -> c.CancelDisbursement:
    return c.CancelDisbursement(
        idempotency_key=key("cancel"),
        actor=actor,
        pemda=PEMDA,
        disbursement_id=disbursement_id(spp),
        reason=reason,
    )


def pay_in_full(
    ledger: Ledger, spp: str, gross: int = 100_000_000, spec: c.LineSpec = MEDIA_LINE
) -> None:
    """Run one disbursement from SPP to settlement."""
    for command in (
        request(spp, gross, spec),
        verify(spp),
        approve(spp),
        authorise(spp),
        send(spp),
        settle(spp),
    ):
        ledger.execute(command)


# -- anggaran kas and SPD ----------------------------------------------------------------------
def even_months(pagu: int) -> tuple[int, ...]:
    """A pagu spread over twelve months, the remainder in December."""
    share = pagu // 12
    return (share,) * 11 + (pagu - 11 * share,)


def adopt_cash_plan(
    *specs: c.LineSpec, skpd: str = SKPD, months: tuple[int, ...] | None = None
) -> c.AdoptCashPlan:
    """The anggaran kas of ``specs`` (by default the world's two lines), spread evenly."""
    lines = specs or (MEDIA_LINE, GOODS_LINE)
    return c.AdoptCashPlan(
        idempotency_key=key("kas"),
        actor=ADMIN,
        pemda=PEMDA,
        year=YEAR,
        skpd=skpd,
        document="PERKADA-AK-1-2026",
        lines=tuple(c.LinePlan(line=ref(s), months=months or even_months(s.pagu)) for s in lines),
    )


def issue_spd(
    number: str, amount: int, first: int = 1, last: int = 1, *, skpd: str = SKPD, actor: Actor = BUD
) -> c.IssueSpd:
    return c.IssueSpd(
        idempotency_key=key("spd"),
        actor=actor,
        pemda=PEMDA,
        year=YEAR,
        skpd=skpd,
        spd_number=number,
        first_month=first,
        last_month=last,
        amount=amount,
    )


# A second Kuasa BUD: the one who issued the SP2D may not also pay its returned transfer again.
OTHER_BUD = actor("kuasabud.lain", Role.KUASA_BUD)


def reissue(
    spp: str, actor: Actor = OTHER_BUD, reason: str = "rekening baru sesuai surat penyedia"
) -> c.ReissueReturnedTransfer:
    return c.ReissueReturnedTransfer(
        idempotency_key=key("reissue"),
        actor=actor,
        pemda=PEMDA,
        disbursement_id=disbursement_id(spp),
        reason=reason,
    )
