"""The BPD bulk-transfer file: export with a control total (no SP2D in two batches), and the
bank's result imported all-or-nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from gateways.bankfile import BankFileError, bank_result, export_batch, import_result
from ledger.application import Ledger
from tests.gateway_support import VENDOR_B_NPWP, authorise, did, ledger_with_vendors, status_of

ON = date(2026, 3, 2)


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    app = ledger_with_vendors()
    authorise(app, "S1", 100_000_000)
    authorise(app, "S2", 50_000_000)
    authorise(app, "S3", 20_000_000, npwp=VENDOR_B_NPWP)
    yield app
    app.close()


def export(
    ledger: Ledger, batch: str = "BPD-20260302-01", spps: tuple[str, ...] = ("S1", "S2", "S3")
) -> str:
    return export_batch(
        ledger, [did(s) for s in spps], batch, rkud_account="0001000100010", on=ON
    ).text


def test_export_has_header_lines_and_control_total(ledger: Ledger) -> None:
    text = export(ledger)
    rows = [line.split(",") for line in text.splitlines()]
    assert rows[0] == ["H", "BPD-20260302-01", "0001000100010", "2026-03-02", "3", "164000000"]
    assert [r[0] for r in rows] == ["H", "D", "D", "D", "T"]
    assert rows[-1] == ["T", "3", "164000000"]
    assert rows[1][2] == "SP2D/S1" and rows[1][4:8] == [
        "110",
        "0012345678",
        "PT Pikiran Rakyat Bandung",
        "98000000",
    ]
    assert {status_of(ledger, s) for s in ("S1", "S2", "S3")} == {"sent"}


def test_export_again_gives_the_same_file_and_another_batch_is_refused(ledger: Ledger) -> None:
    first = export(ledger)
    assert export(ledger) == first
    with pytest.raises(BankFileError, match="S1"):
        export(ledger, batch="BPD-20260302-02", spps=("S1",))


def test_result_settles_and_fails_lines(ledger: Ledger) -> None:
    text = export(ledger)
    result = bank_result(text, failing_accounts=frozenset({"0098765432"}))
    summary = import_result(ledger, result)
    assert (summary.settled, summary.failed, summary.already_recorded) == (2, 1, 0)
    assert [status_of(ledger, s) for s in ("S1", "S2", "S3")] == ["settled", "settled", "failed"]
    again = import_result(ledger, result)
    assert (again.settled, again.failed, again.already_recorded) == (0, 0, 3)


@pytest.mark.parametrize(
    ("mutate", "line", "message"),
    [
        (lambda rows: rows[2].__setitem__(3, "1"), 3, "amount 1"),
        (lambda rows: rows[3].__setitem__(4, "MAYBE"), 4, "neither SUCCESS"),
        (lambda rows: rows[-1].__setitem__(2, "5"), 5, "control total 5"),
        (lambda rows: rows[0].__setitem__(2, "2"), 1, "count 2"),
        (
            lambda rows: rows[1].__setitem__(2, "ksbaaaaaaaaaaaaaaaaaaaaaaaaaa01"),
            2,
            "no disbursement",
        ),
        (lambda rows: rows[1].__setitem__(2, "SOMETHING"), 2, "not a kasda bank-file transfer"),
        (lambda rows: rows[2].__setitem__(3, "98000000x"), 3, "not a whole number"),
    ],
)
def test_a_bad_line_applies_nothing(
    ledger: Ledger, mutate: object, line: int, message: str
) -> None:
    result = bank_result(export(ledger))
    rows = [r.split(",") for r in result.splitlines()]
    assert callable(mutate)
    mutate(rows)
    if message == "amount 1":  # keep the totals consistent so the line check is what fails
        rows[0][3] = rows[-1][2] = str(sum(int(r[3]) for r in rows[1:-1]))
    with pytest.raises(BankFileError, match=message) as caught:
        import_result(ledger, "\n".join(",".join(r) for r in rows) + "\n")
    assert caught.value.line == line
    assert {status_of(ledger, s) for s in ("S1", "S2", "S3")} == {"sent"}


def test_bank_sent_transfers_are_not_iris_business(ledger: Ledger) -> None:
    from gateways.payouts import PayoutService
    from gateways.references import reference_channel
    from gateways.simulator import Simulator
    from tests.gateway_support import iris_client

    export(ledger, spps=("S1",))
    ref = ledger.disbursement(did("S1")).gateway_reference or ""
    assert reference_channel(ref) == "bank" and ref.startswith("ksb")
    with Simulator() as sim:
        payer = PayoutService(ledger, iris_client(sim))
        assert payer.sync() == []  # Iris is not asked about a bank-file transfer
        [s2, s3] = payer.pay_all()  # the others go through Iris
        assert (s2.spp_number, s3.spp_number) == ("S2", "S3")
        assert {p.reference_no[:3] for p in sim.payouts()} == {"ksd"}
    assert status_of(ledger, "S1") == "sent"
