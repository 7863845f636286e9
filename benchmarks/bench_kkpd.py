"""KKPD reconciliation (``reconciliation.kkpd``): a card statement of N rows against about N SPJ
entries, with Polars reading the same statement CSV as the reference, in the same run.

    .venv/bin/python benchmarks/bench_kkpd.py [--rows 1000000] [--repeat 3]

Generating the inputs and writing the CSV are not timed. Timed, each the median of ``--repeat``:

- ``read``: ``read_card_csv`` (profile ``bpd_kkpd``: every field checked, dates, amounts, kinds,
  cards in normal form; a bad line would be named) against ``pl.read_csv`` of the same file with
  its types inferred (no checks): the reference;
- ``match``: ``reconcile_kkpd`` on the frames in memory (both passes, bill payments, every status,
  the limits) and ``exceptions`` of the run, against one plain inner join of the same two frames on
  card + amount (the floor of any matching: a reference, not an alternative).

The planted outcome is checked: 60 % of the purchases have an SPJ entry with their authorisation
code, 25 % one without (date up to 2 days off), 5 % one with the code and another amount, 10 % none;
2 % of the rows are fees, refunds and bill payments; SPJ entries with no card row make up the rest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import polars as pl

from reconciliation import kkpd
from reconciliation.readers.kkpd_csv import BPD_KKPD, read_card_csv

T = TypeVar("T")
START = date(2026, 11, 1)
AS_OF = date(2026, 12, 31)
CARDS = 5_000


def generate(
    n: int, seed: int = 7
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """The statement as the bank writes it (strings), the SPJ entries, the cards, and the planted
    count of each statement status."""
    rng = np.random.default_rng(seed)
    card = rng.integers(0, CARDS, n)
    day = rng.integers(0, 30, n)
    amount = rng.integers(20, 100_000, n) * 500  # Rp 10.000 .. Rp 50 juta, multiples of Rp 500
    auth = rng.permutation(n) + 0x100000
    kind = rng.choice(4, n, p=[0.98, 0.01, 0.005, 0.005])  # purchase, fee, refund, payment
    fate = rng.choice(4, n, p=[0.60, 0.25, 0.05, 0.10])  # code, no code, other amount, no SPJ
    base = pl.date(2026, 11, 1)
    rows = pl.DataFrame({"card": card, "day": day, "amount": amount, "auth": auth, "kind": kind,
                         "fate": fate}).with_row_index("i")  # fmt: skip
    words = pl.Series(["BELANJA", "BIAYA MATERAI", "REFUND", "PEMBAYARAN TAGIHAN"])
    purchase = pl.col("kind") == 0
    code = pl.col("auth").map_elements(lambda a: f"{a:06X}", pl.String)  # not timed
    statement = rows.select(
        tanggal_transaksi=(base + pl.duration(days="day")).dt.strftime("%d/%m/%Y"),
        tanggal_posting=(base + pl.duration(days=pl.col("day") + 1)).dt.strftime("%d/%m/%Y"),
        nomor_kartu=pl.format("5264-xxxx-xxxx-{}", pl.col("card").cast(pl.String).str.zfill(4)),
        nama_merchant=pl.when(purchase).then(pl.format("TOKO {}", pl.col("i") % 9973)).otherwise(pl.lit("")),
        kode_otorisasi=pl.when(purchase).then(code).otherwise(pl.lit("")),
        uraian=pl.col("kind").map_elements(lambda k: words[k], pl.String),
        debet=pl.when(pl.col("kind") <= 1).then(pl.col("amount").cast(pl.String)).otherwise(pl.lit("")),
        kredit=pl.when(pl.col("kind") >= 2).then(pl.col("amount").cast(pl.String)).otherwise(pl.lit("")),
    )  # fmt: skip
    spent = base + pl.duration(days=pl.col("day") + pl.col("i") % 3 - 1)
    has_spj = purchase & (pl.col("fate") < 3)
    spj = rows.filter(has_spj).select(
        spj_id=pl.format("SPJ-{}", "i"),
        skpd=pl.format("1.01.{}", pl.col("card") % 50),
        card=pl.format("110:{}", pl.col("card").cast(pl.String).str.zfill(4)),
        spent_on=pl.when(pl.col("fate") == 1).then(spent).otherwise(base + pl.duration(days="day")),
        amount=pl.when(pl.col("fate") == 2).then(pl.col("amount") + 1_000).otherwise("amount"),
        merchant=pl.format("TOKO {}", pl.col("i") % 9973),
        reference=pl.when(pl.col("fate") != 1).then(code),
        line_id=pl.lit("5.1.02.01.01.0024"),
    )  # fmt: skip
    extra = n - spj.height  # SPJ entries with no card row: amounts never a multiple of Rp 500
    spj = pl.concat([spj, pl.DataFrame({
        "spj_id": [f"X-{k}" for k in range(extra)], "skpd": "1.01.0",
        "card": [f"110:{c:04d}" for c in rng.integers(0, CARDS, extra)],
        "spent_on": [START] * extra, "amount": rng.integers(1, 1_000, extra) * 500 + 1,
        "merchant": "TOKO X", "reference": None, "line_id": "L"}, schema=kkpd.SPJ)])  # fmt: skip
    cards = pl.DataFrame({"card": [f"110:{c:04d}" for c in range(CARDS)],
                          "skpd": [f"1.01.{c % 50}" for c in range(CARDS)],
                          "limit": [10**12] * CARDS}, schema=kkpd.CARDS)  # fmt: skip
    purchases = rows.filter(purchase)
    planted = {
        "matched": purchases.filter(pl.col("fate") <= 1).height,
        "amount_mismatch": purchases.filter(pl.col("fate") == 2).height,
        "kkpd_no_spj": purchases.filter(pl.col("fate") == 3).height,
    }
    return statement, spj.cast(dict(kkpd.SPJ)), cards, planted  # type: ignore[arg-type]


def timed(repeat: int, work: Callable[[], T]) -> tuple[float, list[float], T]:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = work()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), seconds, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    statement, spj, cards, planted = generate(args.rows)
    print(f"load average before: {os.getloadavg()}; polars {pl.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kkpd.csv"
        statement.write_csv(path, separator=";")
        size = path.stat().st_size / 2**20
        ours, ours_all, rows = timed(args.repeat, lambda: read_card_csv(path, BPD_KKPD))
        ref, ref_all, _ = timed(args.repeat, lambda: pl.read_csv(path, separator=";"))
    assert rows.height == args.rows
    print(f"read {args.rows:,} rows ({size:.0f} MiB): read_card_csv {ours:.2f} s "
          f"{[round(s, 2) for s in ours_all]}, pl.read_csv {ref:.2f} s "
          f"{[round(s, 2) for s in ref_all]}, ratio {ours / ref:.1f}")  # fmt: skip
    empty_limits, no_bills = (
        pl.DataFrame(schema=kkpd.SKPD_LIMITS),
        pl.DataFrame(schema=kkpd.BILL_PAYMENTS),
    )
    params = kkpd.Params(as_of=AS_OF)

    def match() -> tuple[kkpd.KkpdResult, pl.DataFrame]:
        result = kkpd.reconcile_kkpd(rows, spj, cards, empty_limits, no_bills, params)
        return result, kkpd.exceptions(result)

    seconds, every, (result, found) = timed(args.repeat, match)
    join, _, _ = timed(args.repeat, lambda: rows.join(spj, on=["card", "amount"]).height)
    counts = result.counts()["statement"]
    for status, n in planted.items():
        assert counts[status] == n, (status, counts[status], n)
    print(f"match {args.rows:,} card rows x {spj.height:,} SPJ entries: {seconds:.2f} s "
          f"{[round(s, 2) for s in every]}; {found.height:,} exceptions; statement {counts}")  # fmt: skip
    print(f"reference: one inner join of the two frames on card + amount {join:.2f} s, "
          f"ratio {seconds / join:.1f}")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
