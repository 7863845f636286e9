"""The files for other systems, from a real ledger (SQLite file, PostgreSQL schema) with payments
that withhold taxes: the taxes withheld per month (``projections.tax``) are the ledger's own (the
deductions of every payment whose SP2D was authorised that month and stands), whatever happened
to the transfer afterwards; the e-Bupot file and the SIPD file sum to the ledger and the LRA; the
XLSX holds the CSV's rows; ``kasda ebupot`` / ``kasda export-sipd`` write them and refuse bad
input with exit 2.

The ledger's clock is set by the test, so that every SP2D falls on a known moment, some of them
at the edge of a month in WIB (a moment that is still January in UTC but February in Jakarta)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from exports import ebupot, sheets, sipd
from kasda.cli import main as cli
from ledger import commands as c
from ledger.application import Ledger
from ledger.cipher import new_key
from ledger.disbursement import Disbursement
from ledger.money import DEFAULT_TAX_RATES, tax_base, withholdings_on_gross
from projections import queries as q
from projections import tax
from projections.runner import Projector
from testkit.world import OTHER_NPWP, OTHER_VENDOR_NAME, PEMDA, VENDOR_NAME, WIB, YEAR
from tests import factory as f
from tests.conftest import make_url

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
OUTCOMES = ("settled", "failed", "returned", "cancelled", "authorised", "requested", "rejected")
# The statuses in which an SP2D stands (its taxes withheld), as the ledger's aggregate has them.
STANDS = {"authorised", "sent", "settled", "failed", "returned"}


class Clock:
    """The ledger's clock: one second per reading, from a moment the test chooses."""

    def __init__(self) -> None:
        self.now = datetime(YEAR, 1, 2, 9, 0, tzinfo=WIB)

    def to(self, moment: datetime) -> None:
        self.now = moment

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass(frozen=True)
class Plan:
    """One payment: its SPP, vendor, line, gross and taxes, when its SP2D is issued and what
    happens to it then."""

    spp: str
    gross: int
    deductions: tuple[dict[str, Any], ...]
    sp2d_at: datetime
    outcome: str
    npwp: str = f.NPWP
    spec: c.LineSpec = f.MEDIA_LINE


def taxes(gross: int, *codes: str) -> tuple[dict[str, Any], ...]:
    return tuple(d.as_dict() for d in withholdings_on_gross(gross, list(codes)))


def book(ledger: Ledger, clock: Clock, plans: list[Plan]) -> None:
    """The APBD, two vendors and every payment of ``plans`` up to its outcome."""
    clock.to(datetime(YEAR, 1, 2, 8, 0, tzinfo=WIB))
    f.adopt(ledger, f.MEDIA_LINE, f.GOODS_LINE)
    f.register_vendor(ledger)
    f.register_vendor(ledger, npwp=OTHER_NPWP, name=OTHER_VENDOR_NAME, kind="company")
    for p in plans:
        clock.to(p.sp2d_at - timedelta(minutes=30))
        ledger.execute(f.request(p.spp, p.gross, p.spec, npwp=p.npwp, deductions=p.deductions))
        if p.outcome == "requested":
            continue
        if p.outcome == "rejected":
            ledger.execute(f.reject(p.spp, f.PPK))
            continue
        ledger.execute(f.verify(p.spp))
        ledger.execute(f.approve(p.spp))
        clock.to(p.sp2d_at - timedelta(seconds=1))
        ledger.execute(f.authorise(p.spp))  # at p.sp2d_at
        then: dict[str, list[Any]] = {
            "settled": [f.send(p.spp), f.settle(p.spp)],
            "failed": [f.send(p.spp), f.fail(p.spp)],
            "returned": [f.send(p.spp), f.settle(p.spp), f.return_(p.spp)],
            "cancelled": [f.cancel(p.spp)],
            "authorised": [],
        }
        for command in then[p.outcome]:
            ledger.execute(command)  # a refusal raises: every step here is one the rules allow


def ledger_withheld(ledger: Ledger, plans: list[Plan]) -> dict[tuple[int, int], dict[str, int]]:
    """(year, month) -> code -> amount, from the ledger's own aggregates: the deductions of every
    payment whose SP2D stands, in the month (WIB) of its SP2D."""
    found: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in plans:
        payment: Disbursement = ledger.repository.get(f.disbursement_id(p.spp))
        if str(payment.status) not in STANDS:
            continue
        assert payment.authorised_at is not None
        day = payment.authorised_at.astimezone(WIB)
        for d in payment.deductions:
            found[(day.year, day.month)][d["code"]] += d["amount"]
    return {k: dict(v) for k, v in found.items()}


def read(url: str) -> Iterator[Projector]:
    ledger = Ledger(url)
    projector = Projector(ledger)
    try:
        projector.catch_up()
        yield projector
    finally:
        projector.close()
        ledger.close()


def withheld(url: str, year: int, month: int) -> tax.TaxMonth:
    for projector in read(url):
        return tax.withheld(projector.db, PEMDA, year, month)
    raise AssertionError("unreachable")


# -- a year with every kind of payment -----------------------------------------------------------
def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(YEAR, month, day, hour, minute, tzinfo=WIB)


PLANS = [
    Plan("SPP-1", 111_000_000, taxes(111_000_000, "PPN", "PPH23"), at(1, 10, 10), "settled"),
    Plan("SPP-2", 55_500_000, taxes(55_500_000, "PPN", "PPH22"), at(1, 31, 23, 30), "settled",
         npwp=OTHER_NPWP, spec=f.GOODS_LINE),
    # 1 February 00:30 WIB is still 31 January in UTC: a February SP2D.
    Plan("SPP-3", 22_200_000, taxes(22_200_000, "PPN", "PPH22"), at(2, 1, 0, 30), "failed",
         npwp=OTHER_NPWP, spec=f.GOODS_LINE),
    Plan("SPP-4", 10_000_000, taxes(10_000_000, "PPH23"), at(2, 3, 9), "returned"),
    Plan("SPP-5", 20_000_000, taxes(20_000_000, "PPH23"), at(2, 4, 9), "cancelled"),
    Plan("SPP-6", 30_000_000, taxes(30_000_000, "PPH23"), at(2, 5, 9), "requested"),
    Plan("SPP-7", 40_000_000, taxes(40_000_000, "PPH23"), at(2, 6, 9), "rejected"),
    # Typed by hand: no whole rate gives 1.234.567 on 50 jt.
    Plan("SPP-8", 50_000_000, ({"code": "PPH23", "amount": 1_234_567},), at(2, 7, 9), "authorised"),
    Plan("SPP-9", 12_000_000, taxes(12_000_000, "PPH23"), at(2, 8, 9), "settled"),
]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def year_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = make_url(str(request.param), tmp_path, request)
    clock = Clock()
    ledger = Ledger(url, clock=clock)
    try:
        book(ledger, clock, PLANS)
        # The SP2D stands after a failed or returned transfer, and a cancelled one is reversed.
        assert ledger_withheld(ledger, PLANS) == {
            (YEAR, 1): {
                "PPN": sum(d["amount"] for p in PLANS[:2] for d in p.deductions if d["code"] == "PPN"),
                "PPH23": PLANS[0].deductions[1]["amount"],
                "PPH22": PLANS[1].deductions[1]["amount"],
            },
            (YEAR, 2): {
                "PPN": PLANS[2].deductions[0]["amount"],
                "PPH22": PLANS[2].deductions[1]["amount"],
                "PPH23": 200_000 + 1_234_567 + 240_000,
            },
        }  # fmt: skip
    finally:
        ledger.close()
    return url


def test_the_months_withholdings_are_the_ledgers(year_url: str) -> None:
    ledger = Ledger(year_url)
    try:
        expected = ledger_withheld(ledger, PLANS)
    finally:
        ledger.close()
    january, february = withheld(year_url, YEAR, 1), withheld(year_url, YEAR, 2)
    assert january.totals() == expected[(YEAR, 1)]
    assert february.totals() == expected[(YEAR, 2)]
    assert withheld(year_url, YEAR, 3).withholdings == []
    assert {w.spp_number for w in february.withholdings} == {"SPP-3", "SPP-4", "SPP-8", "SPP-9"}
    assert {w.status for w in february.withholdings} == {"failed", "returned", "authorised",
                                                         "settled"}  # fmt: skip
    # The DPP and rate are those the amounts were computed with.
    spp2 = {w.code: w for w in january.withholdings if w.spp_number == "SPP-2"}
    dpp = tax_base(55_500_000, DEFAULT_TAX_RATES["PPN"].basis_points)
    assert spp2["PPN"].base == spp2["PPH22"].base == dpp == 50_000_000
    assert (spp2["PPN"].rate_bp, spp2["PPH22"].rate_bp) == (1_100, 150)
    assert spp2["PPN"].sp2d_day == date(YEAR, 1, 31)
    by_hand = next(w for w in february.withholdings if w.spp_number == "SPP-8")
    assert (by_hand.base, by_hand.rate_bp, by_hand.amount) == (50_000_000, None, 1_234_567)
    # Per vendor and tax: the media vendor's PPh 23 at 2% (SPP-4 and SPP-9) and by hand (SPP-8).
    groups = {(g.npwp, g.code, g.rate_bp): g for g in february.by_vendor()}
    media = groups[(f.NPWP_DIGITS, "PPH23", 200)]
    assert [w.spp_number for w in media.payments] == ["SPP-4", "SPP-9"]
    assert (media.base, media.amount, media.last_day) == (22_000_000, 440_000, date(YEAR, 2, 8))
    assert groups[(f.NPWP_DIGITS, "PPH23", None)].amount == 1_234_567
    assert january.position > 0 and january.timezone == "Asia/Jakarta"


def test_the_ebupot_file_sums_to_the_ledger_and_the_xlsx_holds_the_csv(year_url: str) -> None:
    february = withheld(year_url, YEAR, 2)
    rows = list(csv.DictReader(io.StringIO(ebupot.render("csv", february).decode())))
    assert tuple(rows[0]) == ebupot.BUKTI_HEADERS
    # The CSV holds the PPh e-Bupot Unifikasi takes; the PPN is in the workbook's own sheet.
    assert {r["kode_pajak"] for r in rows} == {"PPH22", "PPH23"}
    pph = {k: v for k, v in february.totals().items() if k in ebupot.EBUPOT}
    sums: dict[str, int] = defaultdict(int)
    for r in rows:
        sums[r["kode_pajak"]] += int(r["pph_dipotong"])
    assert sums == pph
    by_hand = next(r for r in rows if r["nomor_sp2d"] == "SP2D/SPP-8")
    assert (by_hand["tarif_persen"], by_hand["sesuai_tarif"]) == ("", "tidak")
    media = next(r for r in rows if r["nomor_sp2d"] == "SP2D/SPP-4; SP2D/SPP-9")
    assert media["npwp_penerima"] == f.NPWP_DIGITS  # in full: the file is for the tax office
    assert (media["dpp"], media["tarif_persen"], media["pph_dipotong"]) == ("22000000", "2.00",
                                                                           "440000")  # fmt: skip
    assert (media["jumlah_sp2d"], media["tanggal_sp2d"]) == ("2", "2026-02-03; 2026-02-08")

    book = load_workbook(io.BytesIO(ebupot.render("xlsx", february)))
    assert book.sheetnames == ["Rekap", "42152223", "Dasar Pemotongan", "Bukan e-Bupot"]
    sheet = [
        [v if v is not None else "" for v in r]
        for r in book["42152223"].iter_rows(values_only=True)
    ]
    assert sheet[0] == list(rows[0]) and [[str(v) for v in r] for r in sheet[1:]] == [
        list(r.values()) for r in rows
    ]
    documents = list(book["Dasar Pemotongan"].iter_rows(values_only=True))[1:]
    others = list(book["Bukan e-Bupot"].iter_rows(values_only=True))[1:]
    assert sum(int(str(r[10])) for r in documents) == sum(pph.values())  # pph per SP2D
    assert sum(int(str(r[8])) for r in others) == february.totals()["PPN"]
    assert {r[2] for r in documents} == {"SP2D/SPP-3", "SP2D/SPP-4", "SP2D/SPP-8", "SP2D/SPP-9"}


def test_the_sipd_file_is_the_lra_line_by_line(year_url: str) -> None:
    for projector in read(year_url):
        lines = q.lra_lines(projector.db, PEMDA, YEAR)
        totals = q.lra_totals(lines)
        january = q.lra_lines(projector.db, PEMDA, YEAR, date(YEAR, 1, 31))
    made = sipd.render("csv", lines, PEMDA, YEAR, None, 1, False)
    rows = list(csv.DictReader(io.StringIO(made.decode())))
    assert tuple(rows[0]) == sipd.HEADERS and len(rows) == lines.height == 2
    assert sum(int(r["pagu"]) for r in rows) == totals["belanja_anggaran"]
    assert sum(int(r["realisasi"]) for r in rows) == totals["belanja_realisasi"]
    media = next(r for r in rows if r["kode_rekening"] == f.MEDIA_LINE.rekening)
    assert (media["kode_urusan"], media["kode_bidang_urusan"]) == ("1", "1.01")
    assert media["nama_bidang_urusan"] == "URUSAN PEMERINTAHAN BIDANG PENDIDIKAN"
    assert media["kode_sub_kegiatan"] == f.SUB_KEGIATAN and media["kode_program"] == "1.01.01"
    assert media["kode_kegiatan"] == "1.01.01.2.02" and media["kode_akun"] == "5"
    assert media["nama_rekening"] == f.MEDIA_LINE.uraian
    # SP2D stand: SPP-1, SPP-4 (returned), SPP-8, SPP-9 on the media line; SPP-5 was cancelled.
    assert int(media["realisasi"]) == 111_000_000 + 10_000_000 + 50_000_000 + 12_000_000
    assert int(media["selisih"]) == int(media["pagu"]) - int(media["realisasi"])
    as_of = list(csv.DictReader(io.StringIO(sipd.render("csv", january, PEMDA, YEAR,
                                                          date(YEAR, 1, 31), 1, False).decode())))  # fmt: skip
    assert {r["kode_rekening"]: int(r["realisasi"]) for r in as_of} == {
        f.MEDIA_LINE.rekening: 111_000_000,
        f.GOODS_LINE.rekening: 55_500_000,
    }
    book = load_workbook(io.BytesIO(sipd.render("xlsx", lines, PEMDA, YEAR, None, 7, False)))
    assert book.sheetnames == ["Realisasi", "Ringkasan"]
    shown = [[str(v) if v is not None else "" for v in r]
             for r in book["Realisasi"].iter_rows(values_only=True)]  # fmt: skip
    assert shown == [list(rows[0]), *(list(r.values()) for r in rows)]
    summary = {r[0]: r[1] for r in book["Ringkasan"].iter_rows(values_only=True)}
    assert (
        summary["posisi_log"] == 7 and summary["belanja_realisasi"] == totals["belanja_realisasi"]
    )


# -- the property: any payments, any months ------------------------------------------------------
payment_plans = st.lists(
    st.tuples(
        st.integers(1_000_000, 100_000_000),  # five fit in the smaller line's pagu
        st.sampled_from([(), ("PPH23",), ("PPN", "PPH23"), ("PPN", "PPH22"), ("PPH22",)]),
        st.integers(1, 12),  # the SP2D's month
        st.integers(0, 23),  # its hour, WIB: late hours are the previous day in UTC
        st.sampled_from(OUTCOMES),
        st.booleans(),  # which vendor
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payment_plans)
def test_withheld_per_month_equals_the_deductions_of_the_sp2d_that_stand(
    tmp_path_factory: pytest.TempPathFactory,
    drawn: list[tuple[int, tuple[str, ...], int, int, str, bool]],
) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('tax') / 'kasda.db'}"
    plans = sorted(
        (
            Plan(f"P-{n}", gross, taxes(gross, *codes), at(month, 1 + n, hour), outcome,
                 npwp=OTHER_NPWP if other else f.NPWP,
                 spec=f.GOODS_LINE if other else f.MEDIA_LINE)
            for n, (gross, codes, month, hour, outcome, other) in enumerate(drawn)
        ),
        key=lambda p: p.sp2d_at,
    )  # fmt: skip
    clock = Clock()
    ledger = Ledger(url, clock=clock)
    try:
        book(ledger, clock, plans)
        expected = ledger_withheld(ledger, plans)
    finally:
        ledger.close()
    for projector in read(url):
        for month in range(1, 13):
            found = tax.withheld(projector.db, PEMDA, YEAR, month)
            assert found.totals() == expected.get((YEAR, month), {}), month
            rows = list(csv.DictReader(io.StringIO(ebupot.render("csv", found).decode())))
            assert sum(int(r["pph_dipotong"]) for r in rows) == sum(
                a for code, a in found.totals().items() if code in ebupot.EBUPOT
            )
            assert all(r["sesuai_tarif"] == "ya" for r in rows)  # computed from the rate table


# -- the commands --------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    clock = Clock()
    ledger = Ledger(url, clock=clock)
    try:
        book(ledger, clock, PLANS)
    finally:
        ledger.close()
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    return url


def test_the_commands_write_the_files(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["ebupot", "--pemda", PEMDA, "--year", str(YEAR), "--month", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed.encode() == ebupot.render("csv", withheld(store, YEAR, 2))
    out = tmp_path / "ebupot.xlsx"
    argv = ["ebupot", "--year", str(YEAR), "--month", "2", "--format", "xlsx", "--out", str(out)]
    assert cli(argv) == 0
    assert load_workbook(out).sheetnames[1] == "42152223"
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert cli(["export-sipd", "--year", str(YEAR), "--as-of", f"{YEAR}-01-31"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sum(int(r["realisasi"]) for r in rows) == 111_000_000 + 55_500_000
    sipd_out = tmp_path / "sipd.xlsx"
    assert (
        cli(["export-sipd", "--year", str(YEAR), "--format", "xlsx", "--out", str(sipd_out)]) == 0
    )
    assert load_workbook(sipd_out).sheetnames == ["Realisasi", "Ringkasan"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["ebupot", "--year", str(YEAR), "--month", "13"], "month must lie in 1..12"),
        (["ebupot", "--year", "1800", "--month", "1"], "--year must lie in"),
        (["ebupot", "--pemda", "32.04", "--year", str(YEAR), "--month", "1"], "no pemda 32.04"),
        (["export-sipd", "--year", str(YEAR + 3)], f"no APBD {YEAR + 3}"),
        (["export-sipd", "--year", str(YEAR), "--format", "xlsx"], "needs --out"),
        (["ebupot", "--year", str(YEAR), "--month", "1", "--format", "xlsx"], "needs --out"),
    ],
)
def test_bad_input_is_a_sentence_and_exit_2(
    store: str, argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(argv) == 2
    assert said in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["export-sipd", "--year", str(YEAR), "--as-of", "2026-02-30"],
        ["export-sipd", "--year", str(YEAR), "--format", "pdf"],
        ["ebupot", "--year", str(YEAR)],
        ["ebupot", "--year", "x", "--month", "1"],
    ],
)
def test_malformed_arguments_exit_2(store: str, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(argv)
    assert exited.value.code == 2


def test_a_text_cell_is_never_a_formula() -> None:
    table = sheets.Table("t", ("a", "b"), [["=HYPERLINK(1)", 5], ["-2", None]])
    assert sheets.csv_bytes(table) == b"a,b\n'=HYPERLINK(1),5\n'-2,\n"
    cells = list(load_workbook(io.BytesIO(sheets.xlsx_bytes(table)))["t"].iter_rows())
    assert cells[1][0].value == "'=HYPERLINK(1)" and cells[1][0].data_type == "s"
    assert cells[1][1].value == 5


@pytest.mark.parametrize(
    ("amount", "base", "rate"),
    [(2_000_000, 100_000_000, 200), (1_234_567, 50_000_000, None), (0, 5, None), (1, 0, None),
     (750, 50_000, 150)],
)  # fmt: skip
def test_implied_rate(amount: int, base: int, rate: int | None) -> None:
    assert tax.implied_rate(amount, base) == rate


@given(st.integers(100_000, 10**13), st.sampled_from([1_000, 1_100, 1_200]))
def test_the_base_is_recovered_from_the_gross_and_its_ppn(gross: int, ppn_bp: int) -> None:
    """The DPP a payment's taxes were levied on is found again from its gross and recorded PPN,
    whatever the PPN rate was (10%, 11%, 12%)."""
    base = tax_base(gross, ppn_bp)
    assert tax.base_of(gross, base * ppn_bp // 10_000) == base
    assert tax.base_of(gross, None) == gross


def test_the_example_files_are_the_layouts() -> None:
    """docs/examples holds files made by these renderers (from the demo year): same headers."""
    for name, headers in (("sipd-lra-32.73-2026.csv", sipd.HEADERS),
                          ("ebupot-32.73-2026-03.csv", ebupot.BUKTI_HEADERS)):  # fmt: skip
        with (EXAMPLES / name).open(encoding="utf-8") as example:
            assert tuple(next(csv.reader(example))) == headers
    book = load_workbook(EXAMPLES / "ebupot-32.73-2026-03.xlsx")
    assert book.sheetnames == ["Rekap", "42152223", "Dasar Pemotongan", "Bukan e-Bupot"]


def test_an_encrypted_store_gives_the_npwp_and_name_in_clear(tmp_path: Path) -> None:
    """With encryption at rest the read models hold NPWP and names sealed: the tax office's
    file opens them (``Sealer.opened``), and only there."""
    env = {"KASDA_CIPHER_KEY": new_key()}
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    clock = Clock()
    ledger = Ledger(url, clock=clock, env=env)
    try:
        book(ledger, clock, PLANS[:2])
        projector = Projector(ledger)
        try:
            projector.catch_up()
            january = tax.withheld(projector.db, PEMDA, YEAR, 1)
        finally:
            projector.close()
    finally:
        ledger.close()
    assert {(w.npwp, w.vendor_name) for w in january.withholdings} == {
        (f.NPWP_DIGITS, VENDOR_NAME),
        (OTHER_NPWP, OTHER_VENDOR_NAME),
    }
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("kasda.db*"))
    assert OTHER_VENDOR_NAME.encode() not in raw
