"""Reconciliation runs recorded in a red-flag ``Scene``: a day's bank statement (the BPD profile's
CSV) reconciled by the real pipeline (``reconciliation.day.match_day``, as ``kasda reconcile``
and the web page run it) and recorded with ``RecordReconciliation``, then an exception resolved."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from uuid import UUID

from ledger import commands as c
from reconciliation.day import match_day, record_command, run_id_of
from tests import factory as f
from tests.redflag_scene import Scene

HEADER = "tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan\n"


def _rupiah(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + ",00"


def debit(day: date, remark: str, amount: int, account: str, bank: str = "110") -> str:
    """A statement line: ``amount`` out of the RKUD to ``account`` at ``bank``."""
    return f"{day:%d/%m/%Y};{remark};{_rupiah(amount)};0,00;;FT;{account};{bank}\n"


def credit(day: date, remark: str, amount: int, account: str, bank: str = "110") -> str:
    """A statement line: ``amount`` into the RKUD from ``account`` at ``bank``."""
    return f"{day:%d/%m/%Y};{remark};0,00;{_rupiah(amount)};;FT;{account};{bank}\n"


def reconcile(
    scene: Scene, folder: Path, day: date, *lines: str, name: str | None = None, window: int = 3
) -> str:
    """Reconcile ``day`` against a statement of ``lines`` and record the run (that evening); the
    run's id. The statement's file is ``name`` (``rkud-<day>.csv`` by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"rkud-{day.isoformat()}.csv")
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    matched = match_day(scene.ledger, pemda=f.PEMDA, day=day, bank=[path], gateway=[],
                        timezone="Asia/Jakarta", window=window)  # fmt: skip
    assert matched.record is not None
    evening = datetime(day.year, day.month, day.day, 19)
    scene.run(record_command(f.PEMDA, f.ADMIN, matched.record), evening)
    return str(run_id_of(f.PEMDA, matched.record))


def resolve(
    scene: Scene, run_id: str, exception_id: str, reason: str, resolution: str = "explained"
) -> None:
    """BPKAD closes exception ``exception_id`` of run ``run_id`` with ``reason``."""
    scene.run(
        c.ResolveReconciliationException(
            idempotency_key=f.key("resolve"), actor=f.ADMIN, pemda=f.PEMDA, run_id=UUID(run_id),
            exception_id=exception_id, resolution=resolution, reason=reason,
        ),
    )  # fmt: skip
