"""``kkpd_without_spj``: a KKPD card purchase that a recorded KKPD run marked ``kkpd_no_spj`` (no SPJ
entry after ``[kkpd] no_spj_days``) is flagged with its card, merchant and days, medium while
open (high when twice as late), low once resolved; purchases with an SPJ entry, purchases still
inside their SPJ time, refunds and fees are not. The runs are recorded by the ledger with
``RecordReconciliation``, as ``kasda reconcile-kkpd`` records them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from uuid import UUID

import polars as pl
import pytest

from ledger import commands as c
from reconciliation import kkpd
from reconciliation.day import record_command, run_id_of
from reconciliation.readers.kkpd_csv import read_card_csv
from tests import factory as f
from tests.redflag_scene import Scene

HEADER = "tanggal_transaksi;tanggal_posting;nomor_kartu;nama_merchant;kode_otorisasi;uraian;debet;kredit\n"
STATEMENT = (
    "02/11/2026;03/11/2026;5264-xxxx-xxxx-1234;TOKO ATK MAJU;A1B2C3;ATK;1.250.000;\n"  # SPJ: no flag
    "03/11/2026;04/11/2026;5264-xxxx-xxxx-1234;HOTEL NUSANTARA;;AKOMODASI;4.000.000;\n"  # planted: 3
    "10/09/2026;11/09/2026;5264-xxxx-xxxx-1234;RM PADANG;;KONSUMSI;900.000;\n"  # planted, old: 4
    "28/11/2026;29/11/2026;5264-xxxx-xxxx-1234;SPBU 34.401;;BBM;300.000;\n"  # still in time
    "12/11/2026;12/11/2026;5264-xxxx-xxxx-1234;;;BIAYA MATERAI;10.000;\n"  # a card fee
    "15/11/2026;15/11/2026;5264-xxxx-xxxx-1234;TOKO ATK MAJU;;RETUR;;50.000\n"  # a refund
)
AS_OF = date(2026, 12, 10)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    yield scene
    scene.close()


def _spj() -> pl.DataFrame:
    return pl.DataFrame(
        [
            (
                "SPJ-1",
                "1.01.01",
                "110:1234",
                date(2026, 11, 2),
                1_250_000,
                "TOKO ATK",
                "A1B2C3",
                "L1",
            )
        ],
        schema=kkpd.SPJ,
        orient="row",
    )


def _record(scene: Scene, folder: Path, as_of: date = AS_OF) -> str:
    """Reconcile the statement as of ``as_of`` and record the run that evening; the run's id."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kkpd-2026-11.csv"
    path.write_text(HEADER + STATEMENT, encoding="utf-8")
    cards = pl.DataFrame([("110:1234", "1.01.01", 50_000_000)], schema=kkpd.CARDS, orient="row")
    params = kkpd.Params(as_of=as_of)
    result = kkpd.reconcile_kkpd(
        read_card_csv(path), _spj(), cards, pl.DataFrame(schema=kkpd.SKPD_LIMITS),
        pl.DataFrame(schema=kkpd.BILL_PAYMENTS), params,
    )  # fmt: skip
    inputs = [
        kkpd.frame_input(path.name, "kkpd_statement", pl.read_csv(path, separator=";")),
        kkpd.parameters_input(params, "110", "bpd_kkpd"),
    ]
    record = kkpd.build_record(result, params, inputs)
    scene.run(
        record_command(f.PEMDA, f.ADMIN, record), datetime(as_of.year, as_of.month, as_of.day, 19)
    )
    return str(run_id_of(f.PEMDA, record))


def test_a_card_purchase_with_no_spj_is_flagged_with_its_card_merchant_and_days(
    scene: Scene, tmp_path: Path
) -> None:
    run = _record(scene, tmp_path / "in")
    found = scene.detect("kkpd_without_spj")
    assert [(f.subject_kind, f.subject_id, f.amount, f.severity) for f in found.flags] == [
        ("line", "2026-09-10/kkpd-2026-11.csv:4", 900_000, "high"),  # 91 days: twice as late
        ("line", "2026-11-03/kkpd-2026-11.csv:3", 4_000_000, "medium"),  # 37 days
    ]
    flag = found.flags[1]
    assert flag.period_start == date(2026, 11, 3) and flag.period_end == AS_OF
    [evidence] = flag.evidence  # the run's Recorded event
    assert (str(evidence.aggregate_id), evidence.version) == (run, 1)
    assert flag.explanation_id == (
        "Transaksi KKPD Rp 4.000.000 di HOTEL NUSANTARA dengan kartu 110:1234 pada 3 Nov 2026 "
        "belum ada SPJ-nya setelah 37 hari (baris tagihan kkpd-2026-11.csv:3); belum diselesaikan."
    )
    assert "after 37 days" in flag.explanation_en and "still open" in flag.explanation_en


def test_a_resolved_purchase_stays_as_low_or_is_left_out(scene: Scene, tmp_path: Path) -> None:
    run = _record(scene, tmp_path / "in")
    scene.run(
        c.ResolveReconciliationException(
            idempotency_key=f.key("resolve"), actor=f.ADMIN, pemda=f.PEMDA, run_id=UUID(run),
            exception_id="kkpd-2026-11.csv:3", resolution="corrected",
            reason="SPJ 77/XI/2026 dicatat terlambat",
        ),
    )  # fmt: skip
    found = scene.detect("kkpd_without_spj")
    assert [(f.subject_id[-1], f.severity) for f in found.flags] == [("4", "high"), ("3", "low")]
    assert "resolved as corrected" in found.flags[1].explanation_en
    quiet = tmp_path / "quiet.toml"
    quiet.write_text("[kkpd_without_spj]\ninclude_resolved = false\n", encoding="utf-8")
    found = scene.detect("kkpd_without_spj", path=quiet)
    assert [f.subject_id[-1] for f in found.flags] == ["4"]


def test_a_statement_reconciled_again_later_is_one_flag_per_line_as_the_later_run_has_it(
    scene: Scene, tmp_path: Path
) -> None:
    _record(scene, tmp_path / "a", date(2026, 12, 1))  # the hotel (28 days) is still in time
    assert [f.subject_id for f in scene.detect("kkpd_without_spj").flags] == [
        "2026-09-10/kkpd-2026-11.csv:4"
    ]
    later = _record(scene, tmp_path / "b", date(2026, 12, 20))
    found = scene.detect("kkpd_without_spj")
    assert [(f.subject_id, f.severity) for f in found.flags] == [
        ("2026-09-10/kkpd-2026-11.csv:4", "high"),
        ("2026-11-03/kkpd-2026-11.csv:3", "medium"),
    ]
    assert all(str(f.evidence[0].aggregate_id) == later for f in found.flags)
    assert "after 101 days" in found.flags[0].explanation_en  # as of the later run
