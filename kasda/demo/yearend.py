"""Tutup tahun in the demo: on the year's last afternoon three SPPs are still waiting for their SP2D,
the APBD of the next year is adopted (small, with its penggunaan SiLPA line at BPKAD), and the PPKD
closes the year: two SPPs lapse, the contract of the third carries over into the next year's DPA
(DPAL), and the SiLPA becomes the next year's financing receipt (``ledger.yearend``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kasda.demo.pemda import PEMDA, WIB, YEAR
from kasda.demo.year import DemoYear
from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.budget import BudgetLine
from ledger.codes import SILPA_REKENING, is_spending
from ledger.vendor import normalise_npwp

NEXT = YEAR + 1
BPKAD = "5.02.0.00.0.00.01.0000"  # the SKPKD: it budgets the pemda's financing
DOCUMENT = f"900/KEP.PPKD/{YEAR}"
CLOSE_AT = datetime(YEAR, 12, 31, 16, 0, tzinfo=WIB)
# (gross, carried over): the first is a contract whose work goes on into the next year.
LATE_SPPS = ((180_000_000, True), (42_500_000, False), (12_750_000, False))


@dataclass(frozen=True)
class YearEnd:
    """What the close did, for the summary."""

    lapsed: int
    lapsed_amount: int
    carried: list[str]
    carried_amount: int
    silpa: int

    def describe(self) -> str:
        return (
            f"tutup tahun {YEAR} ({DOCUMENT}): SPP kedaluwarsa {self.lapsed} "
            f"({_rp(self.lapsed_amount)}), luncuran ke {NEXT}: {', '.join(self.carried)} "
            f"({_rp(self.carried_amount)}), SiLPA {_rp(self.silpa)}"
        )


def _rp(amount: int) -> str:
    return "Rp " + f"{amount:,}".replace(",", ".")


def _open_lines(ledger: Ledger) -> list[BudgetLine]:
    """Spending lines of a sub kegiatan with room for the late SPPs, largest first."""
    need = sum(gross for gross, _ in LATE_SPPS)
    lines = [
        line
        for line in ledger.budget_lines(PEMDA, YEAR)
        if is_spending(line.rekening) and line.sub_kegiatan and not line.blocked
        and line.available >= need and line.rekening.startswith("5.")
    ]  # fmt: skip
    return sorted(lines, key=lambda line: (-line.available, str(line.id)))


def close_the_year(ledger: Ledger, plan: DemoYear) -> YearEnd:
    """The year's last afternoon: late SPPs, the next APBD, the close."""
    plan.clock.now = max(plan.clock.now, CLOSE_AT)  # after the last of the year's work
    line = _open_lines(ledger)[0]
    skpd = plan.people.skpd_by_short[_short(plan, line.skpd)]
    vendor = next(
        lc.vendor
        for lc in plan.lifecycles
        if ledger.vendor(ids.vendor_id(PEMDA, normalise_npwp(lc.vendor.npwp))).active
    )
    ref = c.LineRef(skpd=line.skpd, sub_kegiatan=line.sub_kegiatan, rekening=line.rekening)
    carried = []
    for n, (gross, carry) in enumerate(LATE_SPPS, 1):
        spp = f"{PEMDA}/{9000 + n:05d}/SPP-LS/{skpd.spec.short}/{YEAR}"
        documents = {"kontrak": f"{900 + n:03d}/SPK/{skpd.spec.short}/XII/{YEAR}"} if carry else {}
        ledger.execute(
            c.RequestDisbursement(
                idempotency_key=f"demo-late-spp-{n}", actor=skpd.pptk[0], pemda=PEMDA, year=YEAR,
                spp_number=spp, line=ref, vendor_npwp=vendor.npwp, gross=gross,
                description=f"{line.uraian}: pekerjaan akhir tahun", documents=documents,
            )
        )  # fmt: skip
        if carry:
            carried.append(ids.disbursement_id(PEMDA, YEAR, spp))
    _adopt_next(ledger, plan, line)
    admin = plan.people.admins[0]
    result = ledger.execute(
        c.CloseYear(
            idempotency_key="demo-tutup-tahun", actor=admin, pemda=PEMDA, year=YEAR,
            document=DOCUMENT, carry_over=tuple(carried),
            silpa_line=c.LineRef(skpd=BPKAD, sub_kegiatan=None, rekening=SILPA_REKENING),
        )
    ).data  # fmt: skip
    return YearEnd(
        result["lapsed"], result["lapsed_amount"], [str(x["spp_number"]) for x in result["carried"]],
        result["carried_amount"], result["silpa"],
    )  # fmt: skip


def _short(plan: DemoYear, code: str) -> str:
    return next(s.spec.short for s in plan.people.skpds if s.spec.code == code)


def _adopt_next(ledger: Ledger, plan: DemoYear, line: BudgetLine) -> None:
    """The APBD of the next year (its Perda adopted in December): a few lines of this year's,
    without the line the carried contract continues on (the carry-over creates it), and the
    penggunaan SiLPA, budgeted at an estimate until the audited figure is known."""
    keep = [
        x
        for x in ledger.budget_lines(PEMDA, YEAR)
        if x.id != line.id and x.pagu > 0 and not x.rekening.startswith("6")
    ][:12]
    specs = [
        c.LineSpec(skpd=x.skpd, sub_kegiatan=x.sub_kegiatan, rekening=x.rekening,
                   uraian=x.uraian, pagu=x.pagu)
        for x in keep
    ]  # fmt: skip
    specs.append(
        c.LineSpec(skpd=BPKAD, sub_kegiatan=None, rekening=SILPA_REKENING,
                   uraian="Sisa Lebih Perhitungan Anggaran Tahun Anggaran Sebelumnya",
                   pagu=50_000_000_000)
    )  # fmt: skip
    ledger.execute(
        c.AdoptBudget(
            idempotency_key="demo-apbd-next", actor=plan.people.admins[0], pemda=PEMDA,
            year=NEXT, document=f"PERDA-APBD-{NEXT}", lines=tuple(specs),
        )
    )  # fmt: skip
