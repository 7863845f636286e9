"""The whole multi-pass reconciliation, in Polars (``reconciliation.matching``) and the same passes
written for DuckDB (SQL) and pandas, on the same generated inputs, measured in the same run.

    .venv/bin/python benchmarks/bench_reconcile.py [--rows 1000000] [--quick] [--pandas-max 1000000]

Generating the inputs and loading them into DuckDB / pandas is not timed; each engine's time is
prepare + pass 1 (references) + pass 2 (amount + account, one-to-one by rank) + pass 3 (batches) +
classification of every line of both sides. The three must agree on the count of every status, and
Polars must agree with the planted ground truth line for line. The DuckDB and pandas versions do not
check the payee (account substitution), reused references or ambiguous pairs: with them, the inputs
plant none of those (``generate(payee_cases=False)``); ``--engines polars`` plants every case.
Target: 10M x 10M in <= 10 s on 2 cores, faster than DuckDB.

    .venv/bin/python benchmarks/bench_reconcile.py --rows 10000000 --partitions 0,4,16

Partitioned runs (``reconciliation.partitioned``) against the in-memory run, each in a fresh process
from the same canonical Parquet inputs on disk: time (reading the inputs included) and peak RSS
(``VmHWM``), with the load average; the statuses of every line must be the same for every N
(0 = in memory).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb
import numpy as np
import pandas as pd
import polars as pl

from reconciliation.matching import Params, reconcile
from reconciliation.schema import STATUSES
from testkit.reconciliation import Truth, generate

Counts = dict[str, dict[str, int]]


def run_polars(truth: Truth) -> tuple[float, Counts]:
    statement, ledger = truth.statement(), truth.ledger_input()
    gc.collect()
    start = time.perf_counter()
    result = reconcile(statement, ledger, Params(truth.period_end, truth.window_days))
    elapsed = time.perf_counter() - start
    expected = truth.expected_statement()["expected_status"]
    assert (result.statement["status"].cast(pl.String) != expected).sum() == 0, (
        "polars disagrees with truth"
    )
    assert (result.ledger["status"].cast(pl.String) != truth.ledger["expected_status"]).sum() == 0
    return elapsed, result.counts()


# -- DuckDB -------------------------------------------------------------------------------------
DUCK_PASSES = """
CREATE TEMP TABLE lk AS
    SELECT lid, sp2d_number AS key FROM l WHERE sp2d_number IS NOT NULL
    UNION ALL SELECT lid, payout_reference FROM l WHERE payout_reference IS NOT NULL
    UNION ALL SELECT lid, order_id FROM l WHERE order_id IS NOT NULL;
CREATE TEMP TABLE c1 AS
    SELECT s.sid, k.lid, s.source = 'gateway' AS gw,
           (l.kind = 'disbursement' AND s.source = 'bank' AND s.direction = 'C') AS link_return,
           s.amount = CASE WHEN l.kind = 'receipt' AND s.source = 'gateway' THEN l.gross ELSE l.net END
               AS amount_ok,
           s.value_date
    FROM s JOIN lk k ON s.reference = k.key JOIN l ON l.lid = k.lid
    WHERE s.kind IN ('transfer', 'return', 'payout', 'settlement')
      AND ((l.kind = 'disbursement' AND s.source = 'bank' AND s.direction = 'C')
           OR (s.direction = l.direction AND s.kind <> 'return'))
    QUALIFY row_number() OVER (PARTITION BY s.sid ORDER BY k.lid) = 1;
CREATE TEMP TABLE p1 AS
    SELECT *, row_number() OVER (PARTITION BY lid, gw, link_return
                                 ORDER BY amount_ok DESC, value_date, sid) AS rk
    FROM c1;
CREATE TEMP TABLE p2 AS
    WITH b AS (
        SELECT sid, value_date, amount, regexp_replace(counterparty_account, '[\\s.\\-]', '', 'g') AS acct
        FROM s
        WHERE source = 'bank' AND direction = 'D' AND kind = 'transfer'
          AND counterparty_account IS NOT NULL AND NOT EXISTS (SELECT 1 FROM p1 WHERE p1.sid = s.sid)
    ), br AS (
        SELECT *, row_number() OVER (PARTITION BY amount, acct ORDER BY value_date, sid) AS rk FROM b
    ), g AS (
        SELECT lid, coalesce(sent_on, authorised_on, settled_on) AS exp, net AS amount,
               regexp_replace(beneficiary_account, '[\\s.\\-]', '', 'g') AS acct
        FROM l
        WHERE kind = 'disbursement' AND beneficiary_account IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM p1 WHERE p1.lid = l.lid AND p1.rk = 1 AND NOT p1.link_return)
    ), gr AS (
        SELECT *, row_number() OVER (PARTITION BY amount, acct ORDER BY exp, lid) AS rk FROM g
    )
    SELECT br.sid, gr.lid FROM br JOIN gr ON br.amount = gr.amount AND br.acct = gr.acct AND br.rk = gr.rk
    WHERE br.value_date BETWEEN gr.exp AND gr.exp + to_days(CAST($window AS INTEGER));
CREATE TEMP TABLE batches AS
    SELECT batch_id, direction,
           sum(CASE WHEN direction = 'C' THEN amount - fee ELSE amount + fee END) AS total
    FROM s WHERE source = 'gateway' AND batch_id IS NOT NULL GROUP BY ALL;
CREATE TEMP TABLE p3 AS
    SELECT s.sid, b.batch_id, b.direction, s.amount = b.total AS ok,
           row_number() OVER (PARTITION BY b.batch_id, b.direction
                              ORDER BY s.amount = b.total DESC, s.value_date, s.sid) AS rk
    FROM s JOIN batches b ON s.reference = b.batch_id AND s.direction = b.direction
    WHERE s.source = 'bank' AND s.kind = 'transfer'
      AND NOT EXISTS (SELECT 1 FROM p1 WHERE p1.sid = s.sid)
      AND NOT EXISTS (SELECT 1 FROM p2 WHERE p2.sid = s.sid);
CREATE TEMP TABLE bs AS
    SELECT batch_id, direction, CASE WHEN ok THEN 'matched' ELSE 'amount_mismatch' END AS status
    FROM p3 WHERE rk = 1;
CREATE TEMP TABLE s_out AS
    SELECT s.sid, CASE
        WHEN p1.sid IS NOT NULL AND p1.rk > 1 THEN 'duplicate'
        WHEN p1.sid IS NOT NULL AND p1.link_return THEN 'returned'
        WHEN p1.sid IS NOT NULL AND NOT p1.amount_ok THEN 'amount_mismatch'
        WHEN p1.sid IS NOT NULL AND s.source = 'gateway' AND s.batch_id IS NOT NULL
            THEN coalesce(bs.status, 'timing')
        WHEN p1.sid IS NOT NULL THEN 'matched'
        WHEN p2.sid IS NOT NULL THEN 'matched'
        WHEN p3.sid IS NOT NULL THEN
            CASE WHEN p3.rk > 1 THEN 'duplicate' WHEN p3.ok THEN 'matched' ELSE 'amount_mismatch' END
        WHEN s.source = 'bank' AND s.kind IN ('fee', 'interest') THEN 'fee'
        WHEN s.source = 'bank' AND s.kind = 'return' THEN 'returned'
        ELSE 'unmatched_bank' END AS status
    FROM s
    LEFT JOIN p1 ON p1.sid = s.sid
    LEFT JOIN p2 ON p2.sid = s.sid
    LEFT JOIN p3 ON p3.sid = s.sid
    LEFT JOIN bs ON bs.batch_id = s.batch_id AND bs.direction = s.direction;
CREATE TEMP TABLE links AS
    SELECT lid, 0 AS prio, 'returned' AS status FROM p1 WHERE rk = 1 AND link_return
    UNION ALL
    SELECT lid, 1, CASE WHEN amount_ok THEN 'matched' ELSE 'amount_mismatch' END
    FROM p1 WHERE rk = 1 AND NOT link_return AND NOT gw
    UNION ALL
    SELECT p1.lid, 2, CASE WHEN NOT p1.amount_ok THEN 'amount_mismatch'
                           WHEN s.batch_id IS NULL THEN 'matched'
                           ELSE coalesce(bs.status, 'timing') END
    FROM p1 JOIN s ON s.sid = p1.sid LEFT JOIN bs ON bs.batch_id = s.batch_id AND bs.direction = s.direction
    WHERE p1.rk = 1 AND p1.gw AND NOT p1.link_return
    UNION ALL
    SELECT lid, 3, 'matched' FROM p2;
CREATE TEMP TABLE l_out AS
    SELECT l.lid, coalesce(best.status,
        CASE WHEN coalesce(sent_on, authorised_on, settled_on) > CAST($cutoff AS DATE)
             THEN 'timing' ELSE 'unmatched_ledger' END) AS status
    FROM l LEFT JOIN (SELECT lid, arg_min(status, prio) AS status FROM links GROUP BY lid) best
        ON best.lid = l.lid;
"""


def duck_load(truth: Truth, folder: Path) -> duckdb.DuckDBPyConnection:
    """Untimed: the inputs as DuckDB tables with their row positions."""
    truth.statement().write_parquet(folder / "s.parquet")
    truth.ledger_input().write_parquet(folder / "l.parquet")
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(
        "CREATE TABLE s AS SELECT (row_number() OVER () - 1)::UINTEGER AS sid, * FROM read_parquet(?)",
        [str(folder / "s.parquet")],
    )
    con.execute(
        "CREATE TABLE l AS SELECT (row_number() OVER () - 1)::UINTEGER AS lid, * FROM read_parquet(?)",
        [str(folder / "l.parquet")],
    )
    return con


def run_duckdb(truth: Truth, folder: Path) -> tuple[float, Counts]:
    con = duck_load(truth, folder)
    cutoff = truth.period_end - timedelta(days=truth.window_days)
    script = DUCK_PASSES.replace("$window", str(truth.window_days)).replace(
        "$cutoff", f"'{cutoff}'"
    )
    gc.collect()
    start = time.perf_counter()
    for statement in script.split(";"):
        if statement.strip():
            con.execute(statement)
    elapsed = time.perf_counter() - start
    counts = {
        side: {
            str(k): int(v)
            for k, v in con.execute(f"SELECT status, count(*) FROM {table} GROUP BY 1").fetchall()
        }
        for side, table in (("statement", "s_out"), ("ledger", "l_out"))
    }
    con.close()
    return elapsed, counts


# -- pandas -------------------------------------------------------------------------------------
def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """Untimed: without pyarrow, column by column through NumPy."""
    data: dict[str, Any] = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == pl.Date:
            data[name] = pd.to_datetime(column.cast(pl.Datetime("ms")).to_numpy())
        elif column.dtype == pl.String:
            data[name] = np.asarray(column.to_list(), dtype=object)
        else:
            data[name] = column.to_numpy()
    return pd.DataFrame(data)


def _rank(
    frame: pd.DataFrame, group: list[str], order: list[str], ascending: list[bool]
) -> pd.Series:
    ordered = frame.sort_values(order, ascending=ascending, kind="stable")
    return ordered.groupby(group, sort=False, dropna=False).cumcount().reindex(frame.index)


def run_pandas(truth: Truth) -> tuple[float, Counts]:
    s = to_pandas(truth.statement())
    lg = to_pandas(truth.ledger_input())
    s["sid"] = np.arange(len(s))
    lg["lid"] = np.arange(len(lg))
    window = pd.Timedelta(days=truth.window_days)
    cutoff = pd.Timestamp(truth.period_end - timedelta(days=truth.window_days))
    gc.collect()
    start = time.perf_counter()
    p1 = pandas_reference(s, lg)
    taken_s = s["sid"].isin(p1["sid"])
    p2 = pandas_amount_account(s, lg, p1, taken_s, window)
    p3, bs = pandas_batch(s, p2, taken_s)
    status, p1g, p1_status = pandas_classify_statement(s, p1, p2, p3, bs)
    lstatus = pandas_classify_ledger(lg, p2, p1g, p1_status, cutoff)
    elapsed = time.perf_counter() - start
    counts = {
        "statement": {str(k): int(v) for k, v in pd.Series(status).value_counts().items()},
        "ledger": {str(k): int(v) for k, v in pd.Series(lstatus).value_counts().items()},
    }
    return elapsed, counts


def pandas_reference(s: pd.DataFrame, lg: pd.DataFrame) -> pd.DataFrame:
    """Pass 1: statement lines against every SP2D number, payout reference and order id."""
    keys = pd.concat(
        [
            lg[["lid", c]].dropna().rename(columns={c: "key"})
            for c in ("sp2d_number", "payout_reference", "order_id")
        ]
    )
    refs = s[
        s["kind"].isin(["transfer", "return", "payout", "settlement"]) & s["reference"].notna()
    ]
    c = refs[["sid", "source", "direction", "kind", "value_date", "amount", "reference"]].merge(
        keys, left_on="reference", right_on="key"
    )
    c = c.merge(lg[["lid", "kind", "direction", "net", "gross"]], on="lid", suffixes=("", "_l"))
    link_return = (
        (c["kind_l"] == "disbursement") & (c["source"] == "bank") & (c["direction"] == "C")
    )
    normal = (c["direction"] == c["direction_l"]) & (c["kind"] != "return")
    c = c[link_return | normal].copy()
    c["link_return"] = link_return[c.index]
    c["gw"] = c["source"] == "gateway"
    expected = np.where((c["kind_l"] == "receipt") & c["gw"], c["gross"], c["net"])
    c["amount_ok"] = c["amount"] == expected
    c = c.sort_values(["sid", "lid"]).drop_duplicates("sid")
    c["rk"] = _rank(
        c, ["lid", "gw", "link_return"], ["amount_ok", "value_date", "sid"], [False, True, True]
    )
    return c


def pandas_amount_account(
    s: pd.DataFrame, lg: pd.DataFrame, p1: pd.DataFrame, taken_s: pd.Series, window: pd.Timedelta
) -> pd.DataFrame:
    """Pass 2: bank debits left over against disbursements no reference settled, by rank."""
    b = s[~taken_s & (s["source"] == "bank") & (s["direction"] == "D") & (s["kind"] == "transfer")]
    b = b[b["counterparty_account"].notna()][
        ["sid", "value_date", "amount", "counterparty_account"]
    ].copy()
    b["acct"] = b["counterparty_account"].str.replace(r"[\s.\-]", "", regex=True)
    b["rk"] = _rank(b, ["amount", "acct"], ["value_date", "sid"], [True, True])
    taken_l = lg["lid"].isin(p1.loc[(p1["rk"] == 0) & ~p1["link_return"], "lid"])
    g = lg[~taken_l & (lg["kind"] == "disbursement") & lg["beneficiary_account"].notna()].copy()
    g["exp"] = g["sent_on"].fillna(g["authorised_on"]).fillna(g["settled_on"])
    g["acct"] = g["beneficiary_account"].str.replace(r"[\s.\-]", "", regex=True)
    g = g.rename(columns={"net": "amount"})[["lid", "exp", "amount", "acct"]]
    g["rk"] = _rank(g, ["amount", "acct"], ["exp", "lid"], [True, True])
    p2 = b.merge(g, on=["amount", "acct", "rk"])
    return p2[(p2["value_date"] >= p2["exp"]) & (p2["value_date"] <= p2["exp"] + window)][
        ["sid", "lid"]
    ]


def pandas_batch(
    s: pd.DataFrame, p2: pd.DataFrame, taken_s: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pass 3: bank lines against gateway batch totals; the batches found, with their status."""
    gwrows = s[(s["source"] == "gateway") & s["batch_id"].notna()]
    signed = np.where(
        gwrows["direction"] == "C",
        gwrows["amount"] - gwrows["fee"],
        gwrows["amount"] + gwrows["fee"],
    )
    batches = gwrows.assign(t=signed).groupby(["batch_id", "direction"], as_index=False)["t"].sum()
    rest = s[
        ~taken_s & ~s["sid"].isin(p2["sid"]) & (s["source"] == "bank") & (s["kind"] == "transfer")
    ]
    p3 = rest[["sid", "direction", "value_date", "amount", "reference"]].merge(
        batches, left_on=["reference", "direction"], right_on=["batch_id", "direction"]
    )
    p3["ok"] = p3["amount"] == p3["t"]
    p3["rk"] = _rank(
        p3, ["batch_id", "direction"], ["ok", "value_date", "sid"], [False, True, True]
    )
    bs = p3[p3["rk"] == 0][["batch_id", "direction", "ok"]].copy()
    bs["bstatus"] = np.where(bs["ok"], "matched", "amount_mismatch")
    return p3, bs.drop(columns="ok")


def pandas_classify_statement(
    s: pd.DataFrame, p1: pd.DataFrame, p2: pd.DataFrame, p3: pd.DataFrame, bs: pd.DataFrame
) -> tuple[Any, pd.DataFrame, Any]:
    """Every statement line's status; pass 1's links with their batch, and their status."""
    status = np.full(len(s), "unmatched_bank", dtype=object)
    status[((s["source"] == "bank") & s["kind"].isin(["fee", "interest"])).to_numpy()] = "fee"
    status[((s["source"] == "bank") & (s["kind"] == "return")).to_numpy()] = "returned"
    p3_status = np.where(
        p3["rk"] > 0, "duplicate", np.where(p3["ok"], "matched", "amount_mismatch")
    )
    status[p3["sid"].to_numpy()] = p3_status
    status[p2["sid"].to_numpy()] = "matched"
    p1g = p1.merge(s[["sid", "batch_id"]], on="sid", how="left").merge(
        bs, on=["batch_id", "direction"], how="left"
    )
    gateway_status = np.where(p1g["batch_id"].isna(), "matched", p1g["bstatus"].fillna("timing"))
    p1_status = np.where(
        p1g["rk"] > 0,
        "duplicate",
        np.where(
            p1g["link_return"],
            "returned",
            np.where(
                ~p1g["amount_ok"], "amount_mismatch", np.where(p1g["gw"], gateway_status, "matched")
            ),
        ),
    )
    status[p1g["sid"].to_numpy()] = p1_status
    return status, p1g, p1_status


def pandas_classify_ledger(
    lg: pd.DataFrame, p2: pd.DataFrame, p1g: pd.DataFrame, p1_status: Any, cutoff: pd.Timestamp
) -> Any:
    """Every ledger line's status: its primary link's, else timing or unmatched."""
    exp = lg["sent_on"].fillna(lg["authorised_on"]).fillna(lg["settled_on"])
    lstatus = np.where(exp > cutoff, "timing", "unmatched_ledger").astype(object)
    lstatus[p2["lid"].to_numpy()] = "matched"
    primary = p1g[p1g["rk"] == 0]
    for part in (
        primary[primary["gw"] & ~primary["link_return"]],
        primary[~primary["gw"] & ~primary["link_return"]],
        primary[primary["link_return"]],
    ):
        lstatus[part["lid"].to_numpy()] = p1_status[part.index.to_numpy()]
    return lstatus


def table(counts: Counts) -> str:
    return "  ".join(
        f"{side}: "
        + ", ".join(f"{s}={counts[side].get(s, 0)}" for s in STATUSES if counts[side].get(s, 0))
        for side in ("statement", "ledger")
    )


PROBE = "--probe"


def _hwm_kib() -> int:
    status = Path("/proc/self/status").read_text(encoding="ascii")
    return int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1])


def probe(folder: Path, partitions: int) -> int:
    """One run in this (fresh) process; prints seconds, peak RSS and a digest of every status."""
    from reconciliation.partitioned import reconcile_files

    params = Params(period_end=date(2026, 11, 21), window_days=3)
    before = _hwm_kib()
    start = time.perf_counter()
    if partitions == 0:
        result = reconcile(
            pl.read_parquet(folder / "statement.parquet"),
            pl.read_parquet(folder / "ledger.parquet"),
            params,
        )
        s_codes = result.statement_rows["status"].to_physical()
        l_codes = result.ledger_rows["status"].to_physical()
    else:
        s_dense, l_dense = reconcile_files(
            folder / "statement.parquet",
            folder / "ledger.parquet",
            params,
            partitions,
            folder / f"work-{partitions}",
        )
        s_codes, l_codes = s_dense["status"], l_dense["status"]
    elapsed = time.perf_counter() - start
    digest = pl.concat([s_codes.cast(pl.UInt8), l_codes.cast(pl.UInt8)]).hash(7).sum()
    print(f"{elapsed:.3f} {_hwm_kib()} {before} {digest}")
    return 0


def run_partitions(rows: int, variants: list[int]) -> int:
    """The in-memory run and partitioned runs, each in a fresh process, on the same files."""
    import os
    import subprocess

    start = time.perf_counter()
    truth = generate(rows, seed=7, period_end=date(2026, 11, 21))
    lines = truth.bank.height + truth.gateway.height
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        truth.statement().write_parquet(folder / "statement.parquet")
        truth.ledger_input().write_parquet(folder / "ledger.parquet")
        ledger_lines = truth.ledger.height
        del truth
        gc.collect()
        print(
            f"{lines:,} statement lines and {ledger_lines:,} ledger lines written to Parquet in "
            f"{time.perf_counter() - start:.1f} s (not timed)"
        )
        digests = set()
        for n in variants:
            load = os.getloadavg()
            done = subprocess.run(
                [sys.executable, __file__, PROBE, str(folder), str(n)],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds, peak, base, digest = done.stdout.split()
            digests.add(digest)
            after = os.getloadavg()
            label = "in memory" if n == 0 else f"{n} partitions"
            print(
                f"{label:14s} {float(seconds):7.2f} s  peak RSS {int(peak) / 1024**2:6.2f} GiB "
                f"({(int(peak) - int(base)) / 1024**2:5.2f} GiB above the interpreter)  "
                f"load avg {load[0]:.2f} -> {after[0]:.2f}"
            )
    if len(digests) != 1:
        print("the runs DISAGREE on the statuses")
        return 1
    print("every run gives the same status to every line")
    return 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == PROBE:
        return probe(Path(sys.argv[2]), int(sys.argv[3]))
    args = _parser().parse_args()
    rows = 100_000 if args.quick else args.rows
    if args.partitions:
        return run_partitions(rows, [int(n) for n in args.partitions.split(",")])
    repeat = 1 if args.quick else args.repeat
    engines = args.engines.split(",")
    start = time.perf_counter()
    # The DuckDB and pandas versions run the passes without the payee, reused-reference and
    # ambiguity checks; when they run, the inputs carry none of those cases so all three agree.
    classic = any(e in engines for e in ("duckdb", "pandas"))
    truth = generate(rows, seed=7, period_end=date(2026, 11, 21), payee_cases=not classic)
    statement_rows = truth.bank.height + truth.gateway.height
    print(
        f"generated {statement_rows:,} statement lines and {truth.ledger.height:,} ledger lines "
        f"in {time.perf_counter() - start:.1f} s (not timed below)"
    )
    results = run_engines(truth, engines, repeat, pandas=rows <= args.pandas_max)
    return report(results)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="ledger lines (about as many statement lines)"
    )
    parser.add_argument("--quick", action="store_true", help="100,000 rows, one repetition")
    parser.add_argument(
        "--repeat", type=int, default=3, help="repetitions per engine (median is reported)"
    )
    parser.add_argument(
        "--pandas-max", type=int, default=1_000_000, help="skip pandas above this many rows"
    )
    parser.add_argument("--engines", default="polars,duckdb,pandas")
    parser.add_argument(
        "--partitions",
        help="comma-separated partition counts to compare instead of the engines (0 = in memory)",
    )
    return parser


def run_engines(
    truth: Truth, engines: list[str], repeat: int, *, pandas: bool
) -> dict[str, tuple[float, Counts]]:
    """Each engine ``repeat`` times on the same inputs: its median time and its counts."""
    results: dict[str, tuple[float, Counts]] = {}
    runners: dict[str, Callable[[], tuple[float, Counts]]] = {"polars": lambda: run_polars(truth)}
    with tempfile.TemporaryDirectory() as folder:
        runners["duckdb"] = lambda: run_duckdb(truth, Path(folder))
        if pandas:
            runners["pandas"] = lambda: run_pandas(truth)
        for engine in engines:
            if engine not in runners:
                print(f"{engine}: skipped (rows above --pandas-max)")
                continue
            times: list[float] = []
            counts: Counts = {}
            for _ in range(repeat):
                elapsed, counts = runners[engine]()
                times.append(elapsed)
            results[engine] = (statistics.median(times), counts)
            print(
                f"{engine:7s} median {statistics.median(times):7.2f} s  "
                f"runs {', '.join(f'{t:.2f}' for t in times)}"
            )
    return results


def report(results: dict[str, tuple[float, Counts]]) -> int:
    """Every engine's counts against Polars', then the time of each against Polars'."""
    reference = results["polars"][1] if "polars" in results else None
    for engine, (_, counts) in results.items():
        agree = reference is None or all(
            {k: v for k, v in counts[side].items() if v}
            == {k: v for k, v in reference[side].items() if v}
            for side in ("statement", "ledger")
        )
        print(f"{engine:7s} counts {'agree' if agree else 'DISAGREE'}: {table(counts)}")
        if not agree:
            return 1
    if "polars" in results:
        base = results["polars"][0]
        for engine, (elapsed, _) in results.items():
            print(f"{engine:7s} / polars = {elapsed / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
