"""A store written by kasda as of issue 12 (main at 5c22705), kept as a fixture: one pemda's year in
which every kind of event kasda stores happens at least once.

``tests/fixtures/stored_v1.jsonl`` holds each stored row exactly as that code wrote it (aggregate id,
version, topic, the stored body's bytes and the chain link at its position);
``tests/fixtures/stored_v1.expected.json`` what that code read back from it. The scenario uses the
public commands only, so the same module regenerates the fixture on any older checkout:

    git archive 5c22705 | tar -x -C /tmp/kasda-v1
    cp tests/stored_v1.py /tmp/kasda-v1/tests/
    cd /tmp/kasda-v1 && PYTHONPATH=. python -m tests.stored_v1 OUT_DIR

``tests/test_stored_events_stay_readable.py`` loads the rows into a store of today's code.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.roles import Actor, Role

FIXTURES = Path(__file__).parent / "fixtures"
ROWS = FIXTURES / "stored_v1.jsonl"
EXPECTED = FIXTURES / "stored_v1.expected.json"

PEMDA = "32.73"
YEAR = 2026
SKPD = "1.01.0.00.0.00.01.0000"
ADMIN = Actor("bpkad.admin", Role.BPKAD_ADMIN)
PPTK = Actor("pptk.ani", Role.PPTK, SKPD)
PPK = Actor("ppk.budi", Role.PPK, SKPD)
PA = Actor("kadis.citra", Role.PA_KPA, SKPD)
BUD = Actor("kuasabud.dedi", Role.KUASA_BUD)
GATEWAY = Actor("gateway.iris", Role.GATEWAY)

MEDIA = c.LineSpec(
    skpd=SKPD,
    sub_kegiatan="1.01.01.2.02.0001",
    rekening="5.1.02.02.01.0055",
    uraian="Belanja Jasa Iklan/Reklame, Film, dan Pemotretan",
    pagu=1_000_000_000,
)
GOODS = c.LineSpec(
    skpd=SKPD,
    sub_kegiatan="1.01.01.2.02.0001",
    rekening="5.1.02.01.01.0024",
    uraian="Belanja Alat Tulis Kantor",
    pagu=500_000_000,
)
HOTEL_TAX = c.LineSpec(
    skpd="5.02.0.00.0.00.01.0000",
    sub_kegiatan=None,
    rekening="4.1.01.06.01.0001",
    uraian="Pajak Hotel",
    pagu=2_000_000_000,
)
PRINTING = c.LineSpec(
    skpd=SKPD,
    sub_kegiatan="1.01.01.2.02.0001",
    rekening="5.1.02.01.01.0026",
    uraian="Belanja Bahan Cetak",
    pagu=300_000_000,
)
MEDIA_NPWP = "01.234.567.8-901.000"
PRINTER_NPWP = "02.345.678.9-012.000"


class Clock:
    """One second per reading, from 2026-01-02 08:00 WIB: every ``at`` is known in advance."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 8, 0, tzinfo=timezone(timedelta(hours=7)))

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _ref(spec: c.LineSpec) -> c.LineRef:
    return c.LineRef(skpd=spec.skpd, sub_kegiatan=spec.sub_kegiatan, rekening=spec.rekening)


def _budget() -> Iterator[c.Command]:
    yield c.AdoptBudget(
        idempotency_key="v1-adopt",
        actor=ADMIN,
        pemda=PEMDA,
        year=YEAR,
        document="PERDA-1-2025",
        lines=(MEDIA, GOODS, HOTEL_TAX),
    )
    yield c.AmendBudget(
        idempotency_key="v1-amend",
        actor=ADMIN,
        pemda=PEMDA,
        year=YEAR,
        document="PERDA-7-2026",
        lines=(c.LineSpec(**{**MEDIA.__dict__, "pagu": 1_200_000_000}), PRINTING),
    )
    yield c.ShiftBudget(
        idempotency_key="v1-shift",
        actor=ADMIN,
        pemda=PEMDA,
        year=YEAR,
        document="SK-12/2026",
        from_line=_ref(GOODS),
        to_line=_ref(MEDIA),
        amount=50_000_000,
    )
    for n, kind in enumerate((c.BlockLine, c.UnblockLine)):
        yield kind(
            idempotency_key=f"v1-block-{n}",
            actor=ADMIN,
            pemda=PEMDA,
            year=YEAR,
            line=_ref(GOODS),
            reason="menunggu hasil reviu APIP",
        )


def _vendors() -> Iterator[c.Command]:
    for n, (npwp, name, kind, account) in enumerate(
        [
            (MEDIA_NPWP, "PT Pikiran Rakyat Bandung", "media", "0012345678"),
            (PRINTER_NPWP, "CV Percetakan Sumber Ilmu", "company", "0098765432"),
        ]
    ):
        yield c.RegisterVendor(
            idempotency_key=f"v1-vendor-{n}",
            actor=ADMIN,
            pemda=PEMDA,
            npwp=npwp,
            name=name,
            kind=kind,
            bank_code="110",
            account_number=account,
            account_holder=name,
        )
    yield c.ChangeVendorBankAccount(
        idempotency_key="v1-bank",
        actor=ADMIN,
        pemda=PEMDA,
        npwp=MEDIA_NPWP,
        bank_code="008",
        account_number="9876543210",
        account_holder="PT Pikiran Rakyat Bandung",
        reason="surat permohonan vendor no. 12/2026",
    )
    for n, change in enumerate((c.DeactivateVendor, c.ReactivateVendor)):
        yield change(
            idempotency_key=f"v1-active-{n}",
            actor=ADMIN,
            pemda=PEMDA,
            npwp=PRINTER_NPWP,
            reason="klarifikasi daftar hitam LKPP",
        )


def _step(kind: type[c.DisbursementCommand], spp: str, actor: Actor, **fields: Any) -> c.Command:
    return kind(
        idempotency_key=f"v1-{spp}-{kind.__name__}-{fields.get('reference', '')}",
        actor=actor,
        pemda=PEMDA,
        disbursement_id=ids.disbursement_id(PEMDA, YEAR, spp),
        **fields,
    )


def request_spp(spp: str, gross: int, spec: c.LineSpec, npwp: str) -> c.Command:
    return c.RequestDisbursement(
        idempotency_key=f"v1-{spp}",
        actor=PPTK,
        pemda=PEMDA,
        year=YEAR,
        spp_number=spp,
        line=_ref(spec),
        vendor_npwp=npwp,
        gross=gross,
        deductions=(
            {"code": "PPH23", "amount": gross // 50},
            {"code": "PPN", "amount": gross // 10},
        ),
        description="Publikasi kegiatan",
        documents={"contract": f"KONTRAK/{spp}"},
    )


def approvals(spp: str) -> Iterator[c.Command]:
    yield _step(c.VerifyDisbursement, spp, PPK)
    yield _step(c.ApproveSpm, spp, PA, spm_number=f"SPM/{spp}")
    yield _step(c.AuthoriseSp2d, spp, BUD, sp2d_number=f"SP2D/{spp}")


def _payments() -> Iterator[c.Command]:
    # Paid after a refused and a failed attempt, then bounced by the bank.
    yield request_spp("SPP-1", 100_000_000, MEDIA, MEDIA_NPWP)
    yield from approvals("SPP-1")
    yield _step(
        c.RecordTransferRejected,
        "SPP-1",
        GATEWAY,
        gateway="iris",
        reference="IRIS-1-1",
        reason="approver menolak",
    )
    yield _step(c.RecordTransferSent, "SPP-1", GATEWAY, gateway="iris", reference="IRIS-1-2")
    yield _step(c.RecordTransferFailed, "SPP-1", GATEWAY, reason="rekening tidak aktif")
    yield _step(c.RecordTransferSent, "SPP-1", GATEWAY, gateway="iris", reference="IRIS-1-3")
    yield _step(c.RecordSettlement, "SPP-1", GATEWAY, bank_reference="BANK-1")
    yield _step(c.RecordTransferReturned, "SPP-1", GATEWAY, reason="nama rekening tidak sesuai")
    # Rejected at verification; withdrawn by its maker; cancelled after its SP2D.
    yield request_spp("SPP-2", 40_000_000, GOODS, PRINTER_NPWP)
    yield _step(c.RejectDisbursement, "SPP-2", PPK, reason="dokumen tidak lengkap")
    yield request_spp("SPP-3", 30_000_000, PRINTING, PRINTER_NPWP)
    yield _step(c.CancelDisbursement, "SPP-3", PPTK, reason="kontrak dibatalkan")
    yield request_spp("SPP-4", 70_000_000, MEDIA, MEDIA_NPWP)
    yield from approvals("SPP-4")
    yield _step(c.CancelDisbursement, "SPP-4", ADMIN, reason="SP2D ditarik")


def _income_and_reconciliation() -> Iterator[c.Command]:
    for n, fee in enumerate((105_000, 0)):
        yield c.RecordRevenue(
            idempotency_key=f"v1-revenue-{n}",
            actor=GATEWAY,
            pemda=PEMDA,
            year=YEAR,
            line=_ref(HOTEL_TAX),
            channel="midtrans:qris",
            reference=f"PBJT-2026-{n:04}",
            payer="Hotel Savoy Homann",
            gross=15_000_000,
            fee=fee,
        )
    yield c.ReverseRevenue(
        idempotency_key="v1-reverse",
        actor=GATEWAY,
        pemda=PEMDA,
        year=YEAR,
        channel="midtrans:qris",
        reference="PBJT-2026-0000",
        reason="chargeback",
    )
    record = c.RecordReconciliation(
        idempotency_key="v1-rekon",
        actor=ADMIN,
        pemda=PEMDA,
        business_date="2026-03-10",
        inputs=({"name": "rkud-20260310.sta", "kind": "mt940", "sha256": "ab" * 32, "rows": 3},),
        counts={"matched": 2, "unmatched_bank": 1},
        exceptions=(
            {
                "id": "B-000017",
                "status": "unmatched_bank",
                "amount": 48_500_000,
                "reference": "TRF 8812",
                "detail": "debit with no SP2D behind it",
            },
        ),
    )
    yield record


def scenario() -> Iterator[c.Command]:
    """Every command of the year, in order (the last one depends on the run's id)."""
    yield from _budget()
    yield from _vendors()
    yield from _payments()
    yield from _income_and_reconciliation()


def run(ledger: Ledger) -> None:
    run_id = ""
    for command in scenario():
        run_id = ledger.execute(command).id
    ledger.execute(
        c.ResolveReconciliationException(
            idempotency_key="v1-resolve",
            actor=BUD,
            pemda=PEMDA,
            run_id=UUID(run_id),
            exception_id="B-000017",
            resolution="explained",
            reason="biaya administrasi bank",
        )
    )


def stored_rows(ledger: Ledger) -> list[dict[str, Any]]:
    """Every stored event as written: position, aggregate id, version, topic, body bytes."""
    head = ledger.recorder.max_notification_id() or 0
    return [
        {
            "position": n.id,
            "originator_id": str(n.originator_id),
            "originator_version": n.originator_version,
            "topic": n.topic,
            "state_b64": base64.b64encode(n.state).decode(),
        }
        for n in ledger.recorder.select_notifications(start=1, limit=head)
    ]


def read_back(ledger: Ledger) -> dict[str, Any]:
    """What kasda reads from the store: the books, and the state of every line and payment."""
    from ledger.budget import BudgetLine
    from ledger.disbursement import Disbursement
    from ledger.postings import trial_balance

    events = [
        ledger.mapper.to_domain_event(n)
        for n in ledger.recorder.select_notifications(
            start=1, limit=ledger.recorder.max_notification_id() or 0
        )
    ]
    budget = ledger.budget(PEMDA, YEAR)
    lines = [ledger.aggregate(UUID(i), BudgetLine) for i in budget.line_ids]
    payments = [
        ledger.aggregate(ids.disbursement_id(PEMDA, YEAR, f"SPP-{n}"), Disbursement)
        for n in range(1, 5)
    ]
    return {
        "trial_balance": {k: v for k, v in sorted(trial_balance(events).items()) if v},
        "lines": [
            [line.rekening, line.pagu, line.committed, line.realised, line.blocked]
            for line in lines
        ],
        "payments": [[d.spp_number, str(d.status), d.attempts, d.performers] for d in payments],
    }


def make(out: Path) -> None:
    """Write the fixture with whatever kasda this module is imported into."""
    from ledger.verify import stored_links

    path = out / "make.db"
    path.unlink(missing_ok=True)
    ledger = Ledger(f"sqlite:///{path}", clock=Clock())
    try:
        run(ledger)
        links = {position: link for position, _, link in stored_links(ledger) if link}
        rows = [{**row, "chain_hash": links[row["position"]].hex()} for row in stored_rows(ledger)]
        (out / ROWS.name).write_text("".join(json.dumps(row) + "\n" for row in rows))
        (out / EXPECTED.name).write_text(json.dumps(read_back(ledger), indent=1) + "\n")
    finally:
        ledger.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    make(Path(sys.argv[1]))
