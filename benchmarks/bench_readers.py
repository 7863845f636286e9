"""Bank files at the speed of the disk (issue 17): the MT940 and camt.053 readers against Polars
reading the same statement lines as CSV, in one run; the peak memory of reading a large statement;
and ``kasda reconcile`` end to end.

    .venv/bin/python benchmarks/bench_readers.py --lines 1000000 [--repeat 3] [--old]
    .venv/bin/python benchmarks/bench_readers.py --stream 10000000
    .venv/bin/python benchmarks/bench_readers.py --e2e 10000000 [--formats mt940,camt053]

``--lines``: the bank lines of ``testkit.reconciliation.generate`` (about 3/4 of ``rows``; the rows
are scaled so the statement has about N lines) written as MT940, camt.053 and a CSV of the canonical
columns (the reference: ``pl.read_csv`` of that CSV, every column typed, no checks), each read in
this process ``--repeat`` times (median). ``--old`` also times the readers as they were before issue
17 (``tests/mt940_reference.py``; camt.053 by expat alone: ``read_camt053_xml``), which is slow.
Ratio = reader / reference; the target is <= 10 for each.

``--stream N``: an MT940 and a camt.053 statement of N lines, each read in a fresh process the way a
partitioned ``kasda reconcile`` reads it (piece by piece, each piece written to Parquet); the peak
RSS of that process (``ru_maxrss``) against a process that only imports Polars and the readers.
Target: <= 1 GiB.

``--e2e N``: ``generate(N)``: the bank side as one MT940 (or camt.053) statement, the Midtrans
payout and settlement reports, the ledger as canonical Parquet; ``kasda reconcile --no-record
--memory-limit 3G`` in a fresh process, report included; its wall time and peak RSS. Target: <= 60 s
and <= 4 GiB on 2 cores.

Files are generated with vectorised writers that write what ``testkit.reconciliation``'s writers
write, byte for byte (``tests/test_reconcile_fast_readers.py`` checks it), and cached in
``--cache`` (default ``/tmp/kasda-bench-readers``), never in the repository.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl

from reconciliation.schema import STATEMENT
from testkit.reconciliation import generate

CACHE = Path("/tmp/kasda-bench-readers")
PERIOD_END = date(2026, 11, 21)
OPENING = 10**15
ACCOUNT = "0011223344"
BANK_SHARE = 0.75  # bank lines per generated row, about


# -- writers (vectorised; the same bytes as testkit.reconciliation's) -----------------------------
def _write_lines(head: list[str], body: pl.DataFrame, tail: list[str], path: Path) -> None:
    """``head`` lines, then the one string column of ``body`` (each value written as it is, no
    quoting), then ``tail`` lines."""
    with path.open("wb") as handle:
        handle.write(("\n".join(head) + "\n").encode() if head else b"")
        if body.height:
            body.write_csv(handle, include_header=False, quote_style="never", separator="\x1f")
        handle.write(("\n".join(tail) + "\n").encode() if tail else b"")


def _signed() -> pl.Expr:
    """A bank line's amount, negative for a debit."""
    return pl.when(pl.col("direction") == "D").then(-pl.col("amount")).otherwise("amount")


def _mt940_entry() -> pl.Expr:
    """A bank line's ``:61:`` and ``:86:`` lines, as ``testkit.reconciliation.write_mt940``."""
    mark = pl.when(pl.col("direction") == "D").then(pl.lit("D")).otherwise(pl.lit("C"))
    account_part = pl.when(pl.col("counterparty_account").is_not_null()).then(
        pl.format(
            " REK:{} BANK:{}",
            pl.col("counterparty_account"),
            pl.col("counterparty_bank").fill_null(""),
        )
    )
    entry = pl.format(
        ":61:{}{}{}{},00NTRFNONREF//{}",
        pl.col("value_date").dt.strftime("%y%m%d"),
        pl.col("value_date").dt.strftime("%m%d"),
        mark,
        pl.col("amount"),
        pl.col("bank_ref").fill_null("NONE").str.slice(0, 16),
    )
    remark = pl.concat_str([pl.lit(":86:"), pl.col("remark"), account_part.fill_null("")])
    return pl.concat_list(entry, remark)


def write_mt940_fast(bank: pl.DataFrame, path: Path, account: str = ACCOUNT) -> None:
    """``testkit.reconciliation.write_mt940``, vectorised."""
    end = bank["value_date"].max() if bank.height else PERIOD_END
    assert isinstance(end, date)
    closing = OPENING + int(bank.select(_signed().sum()).item() or 0)
    body = bank.select(line=_mt940_entry()).explode("line")
    head = [":20:KASDA-RKUD", f":25:{account}", ":28C:1/1", f":60F:C{end:%y%m%d}IDR{OPENING},00"]
    tail = [f":62F:{'C' if closing >= 0 else 'D'}{end:%y%m%d}IDR{abs(closing)},00"]
    _write_lines(head, body, tail, path)


def write_mt940_daily(bank: pl.DataFrame, path: Path, account: str = ACCOUNT) -> None:
    """The bank lines as MT940, one statement per run of lines of one value date, each opening at
    10^15: the balance of one statement of 10M generated lines would pass the readers' 10^16 rupiah
    limit (the generator's amounts grow with the row number), and the reader refuses it."""
    rows = bank.with_columns(
        block=(pl.col("value_date") != pl.col("value_date").shift()).fill_null(True).cum_sum(),
        order=pl.int_range(pl.len(), dtype=pl.Int64),
    )
    entries = rows.select("block", "order", line=_mt940_entry())
    blocks = rows.group_by("block").agg(
        day=pl.col("value_date").first().dt.strftime("%y%m%d"),
        first=pl.col("order").first(),
        last=pl.col("order").last(),
        closing=_signed().sum() + OPENING,
    )
    heads = blocks.select(
        "block",
        order=pl.col("first") - 1,
        line=pl.concat_list(
            pl.format(":20:KASDA-RKUD-{}", "block"),
            pl.lit(f":25:{account}"),
            pl.format(":28C:{}/1", "block"),
            pl.format(":60F:C{}IDR{},00", "day", pl.lit(OPENING)),
        ),
    )
    tails = blocks.select(
        "block",
        order=pl.col("last"),
        line=pl.concat_list(
            pl.format(
                ":62F:{}{}IDR{},00",
                pl.when(pl.col("closing") >= 0).then(pl.lit("C")).otherwise(pl.lit("D")),
                "day",
                pl.col("closing").abs(),
            )
        ),
    )
    body = (
        pl.concat([heads.with_columns(k=0), entries.with_columns(k=1), tails.with_columns(k=2)])
        .sort("block", "k", "order")
        .select(pl.col("line").explode())
    )
    _write_lines([], body, [], path)


def _xml(text: pl.Expr) -> pl.Expr:
    return (
        text.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def write_camt053_fast(bank: pl.DataFrame, path: Path, account: str = ACCOUNT) -> None:
    """``testkit.reconciliation.write_camt053``, vectorised."""
    debit = pl.col("direction") == "D"
    party = pl.when(debit).then(pl.lit("Cdtr")).otherwise(pl.lit("Dbtr"))
    code = (
        pl.when(pl.col("kind") == "fee")
        .then(pl.lit("CHRG"))
        .when(pl.col("kind") == "interest")
        .then(pl.lit("INTR"))
        .otherwise(pl.lit("OTHR"))
    )
    related = pl.when(
        pl.col("counterparty_account").is_not_null() & (pl.col("counterparty_account") != "")
    ).then(
        pl.format(
            "<RltdPties><{}Acct><Id><Othr><Id>{}</Id></Othr></Id></{}Acct></RltdPties><RltdAgts>"
            "<{}Agt><FinInstnId><ClrSysMmbId><MmbId>{}</MmbId></ClrSysMmbId></FinInstnId></{}Agt>"
            "</RltdAgts>",
            party,
            pl.col("counterparty_account"),
            party,
            party,
            pl.col("counterparty_bank").fill_null(""),
            party,
        )
    )
    day = pl.col("value_date").dt.strftime("%Y-%m-%d")
    entry = pl.format(
        '    <Ntry>\n      <Amt Ccy="IDR">{}.00</Amt>\n      <CdtDbtInd>{}</CdtDbtInd>{}\n'
        "      <Sts><Cd>BOOK</Cd></Sts>\n      <BookgDt><Dt>{}</Dt></BookgDt>\n"
        "      <ValDt><Dt>{}</Dt></ValDt>\n      <AcctSvcrRef>{}</AcctSvcrRef>\n"
        "      <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>{}</SubFmlyCd></Fmly>"
        "</Domn></BkTxCd>\n      <NtryDtls><TxDtls>{}<RmtInf><Ustrd>{}</Ustrd></RmtInf></TxDtls>"
        "</NtryDtls>\n    </Ntry>",
        pl.col("amount"),
        pl.when(debit).then(pl.lit("DBIT")).otherwise(pl.lit("CRDT")),
        pl.when(pl.col("kind") == "return")
        .then(pl.lit("<RvslInd>true</RvslInd>"))
        .otherwise(pl.lit("")),
        day,
        day,
        pl.col("bank_ref").fill_null(""),
        code,
        related.fill_null(""),
        _xml(pl.col("remark")),
    )
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">',
        "  <BkToCstmrStmt>",
        "   <GrpHdr><MsgId>KASDA-RKUD</MsgId><CreDtTm>2026-11-22T01:00:00+07:00</CreDtTm></GrpHdr>",
        "   <Stmt>",
        "    <Id>RKUD</Id>",
        f"    <Acct><Id><Othr><Id>{account}</Id></Othr></Id></Acct>",
    ]
    tail = ["   </Stmt>", "  </BkToCstmrStmt>", "</Document>"]
    _write_lines(head, bank.select(entry), tail, path)


def write_midtrans_fast(gateway: pl.DataFrame, payouts: Path, settlements: Path) -> None:
    """``testkit.reconciliation.write_midtrans``, vectorised."""
    day = pl.col("value_date").dt.strftime("%Y-%m-%d")
    pay = gateway.filter(pl.col("kind") == "payout").select(
        pl.format(
            "{},{},completed,{},{},{}.00,{}.00,{} 10:00:00",
            "reference",
            "batch_id",
            "counterparty_bank",
            "counterparty_account",
            "amount",
            "fee",
            day,
        )
    )
    stl = gateway.filter(pl.col("kind") != "payout").select(
        pl.concat_str(
            [
                pl.col("reference"),
                pl.lit(","),
                pl.col("batch_id"),
                pl.lit(","),
                day,
                pl.lit(" 09:00:00,qris,"),
                pl.col("amount").cast(pl.String),
                pl.lit(".00,"),
                pl.col("fee").cast(pl.String),
                pl.lit(".00,"),
                (pl.col("amount") - pl.col("fee")).cast(pl.String),
                pl.lit(".00"),
            ]
        )
    )
    header = (
        "reference_no,batch_id,status,beneficiary_bank,beneficiary_account,amount,fee,completed_at"
    )
    _write_lines([header], pay, [], payouts)
    _write_lines(
        ["order_id,batch_id,settlement_time,payment_type,gross_amount,fee,net_amount"],
        stl,
        [],
        settlements,
    )


# -- inputs ---------------------------------------------------------------------------------------
def bank_lines(lines: int, cache: Path) -> pl.DataFrame:
    """``lines`` bank lines: those of ``generate`` (at most 10M rows, cached as Parquet), repeated
    if more are asked for (a statement may hold the same payment twice; the readers do not care)."""
    rows = min(max(int(lines / BANK_SHARE), 10), 10_000_000)
    cached = cache / f"truth-{rows}" / "bank.parquet"
    fresh = not cached.exists()
    bank = generate(rows, seed=7, period_end=PERIOD_END).bank if fresh else pl.read_parquet(cached)
    while bank.height < lines:
        bank = pl.concat([bank, bank.head(lines - bank.height)])
    return bank.head(lines)


def statement_files(lines: int, cache: Path) -> dict[str, Path]:
    """An MT940, a camt.053 and the reference CSV of ``lines`` bank lines (cached)."""
    folder = cache / f"statement-{lines}"
    files = {
        "csv": folder / "rkud.csv",
        "mt940": folder / "rkud.sta",
        "camt053": folder / "rkud.xml",
    }
    if all(p.exists() for p in files.values()):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    bank = bank_lines(lines, cache)
    bank.select(STATEMENT.names()).drop("file", "line_no").write_csv(files["csv"])
    write_mt940_daily(bank, files["mt940"])
    write_camt053_fast(bank, files["camt053"])
    print(f"{bank.height:,} bank lines written in {time.perf_counter() - start:.1f} s (not timed)")
    return files


def reference_read(path: Path) -> pl.DataFrame:
    """What the readers are measured against: Polars reading the same lines as CSV, typed."""
    return pl.read_csv(path, schema_overrides={"value_date": pl.Date, "amount": pl.Int64})


def _timed(read: Callable[[], pl.DataFrame], repeat: int) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = read().height
        times.append(time.perf_counter() - start)
    return statistics.median(times), rows


def run_readers(lines: int, repeat: int, old: bool, cache: Path) -> int:
    from reconciliation.readers.camt053 import read_camt053, read_camt053_xml
    from reconciliation.readers.mt940 import read_mt940

    files = statement_files(lines, cache)
    runs: dict[str, Callable[[], pl.DataFrame]] = {
        "Polars read_csv (reference)": lambda: reference_read(files["csv"]),
        "MT940 reader": lambda: read_mt940(files["mt940"]),
        "camt.053 reader": lambda: read_camt053(files["camt053"]),
        "camt.053 reader, no accelerator": lambda: _without_accelerator(read_camt053, files),
        "Polars, raw lines of the MT940": lambda: _raw_lines(files["mt940"]),
        "Polars, raw lines of the camt.053": lambda: _raw_lines(files["camt053"]),
    }
    if old:
        from tests.mt940_reference import read_mt940 as read_mt940_before

        runs["MT940 before issue 17"] = lambda: read_mt940_before(files["mt940"])
        runs["camt.053 before (expat)"] = lambda: read_camt053_xml(files["camt053"])
    load = os.getloadavg()[0]
    results = {name: _timed(read, repeat) for name, read in runs.items()}
    reference = results["Polars read_csv (reference)"][0]
    print(f"load avg {load:.2f} -> {os.getloadavg()[0]:.2f}; median of {repeat}")
    for name, (seconds, rows) in results.items():
        size = ""
        print(
            f"{name:36s} {seconds:8.3f} s  {rows / seconds / 1e3:9.0f}k rows/s  "
            f"{seconds / reference:6.1f}x the reference{size}"
        )
    met = True
    for name in ("MT940 reader", "camt.053 reader"):
        ratio = results[name][0] / reference
        ok = ratio <= 10
        met &= ok
        print(
            f"target {name} within 10x of Polars reading CSV: {ratio:.1f}x {'MET' if ok else 'NOT MET'}"
        )
    return 0 if met else 1


def _without_accelerator(
    read: Callable[[Path], pl.DataFrame], files: dict[str, Path]
) -> pl.DataFrame:
    """The camt.053 reader as it is where its C accelerator is not built (the Polars patterns)."""
    from reconciliation.readers import camt053_layout

    built, camt053_layout.accelerator = camt053_layout.accelerator, None
    try:
        return read(files["camt053"])
    finally:
        camt053_layout.accelerator = built


def _raw_lines(path: Path) -> pl.DataFrame:
    return pl.read_csv(
        path, has_header=False, separator="\x1f", quote_char=None, schema={"text": pl.String}
    )


# -- streaming: peak memory -----------------------------------------------------------------------
PROBE = "--probe-stream"


def probe_stream(path: Path, out: Path) -> int:
    """Read one statement piece by piece into Parquet (as a partitioned run does); print seconds,
    lines and this process's peak RSS (KiB)."""
    from reconciliation.readers import bank_statement_pieces

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    lines, files = 0, 0
    for piece in bank_statement_pieces(path):
        if piece is None:
            continue
        piece.write_parquet(out / f"piece-{files}.parquet")
        files += 1
        lines += piece.height
    elapsed = time.perf_counter() - start
    print(f"{elapsed:.3f} {lines} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
    return 0


def run_stream(lines: int, cache: Path) -> int:
    files = statement_files(lines, cache)
    base = subprocess.run(
        [sys.executable, "-c", "import resource, polars, reconciliation.readers; "
         "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    base_kib = int(base.stdout.split()[-1])
    met = True
    for name in ("mt940", "camt053"):
        path = files[name]
        done = subprocess.run(
            [sys.executable, __file__, PROBE, str(path), str(cache / f"stream-{name}")],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds, count, peak = done.stdout.split()
        gib = int(peak) / 1024**2
        ok = gib <= 1.0
        met &= ok
        print(
            f"{name:8s} {path.stat().st_size / 1e9:6.2f} GB, {int(count):,} lines in {float(seconds):.1f} s, "
            f"peak RSS {gib:.2f} GiB ({base_kib / 1024**2:.2f} GiB for the interpreter and Polars): "
            f"<= 1 GiB {'MET' if ok else 'NOT MET'}"
        )
    return 0 if met else 1


# -- end to end -----------------------------------------------------------------------------------
def _generate(flag: str, rows: int, cache: Path) -> None:
    """Make the inputs in a child process: the children measured later inherit this process's
    high-water mark on Linux (``ru_maxrss`` counts the memory a child had before its exec), so this
    one must never hold the generated rows (8.7 GiB was once reported for a 0.3 GiB reader)."""
    subprocess.run([sys.executable, __file__, flag, str(rows), str(cache)], check=True)


def e2e_files(rows: int, cache: Path) -> dict[str, Path]:
    folder = cache / f"e2e-{rows}"
    files = {
        "mt940": folder / "rkud-2026-11-21.sta",
        "camt053": folder / "rkud-2026-11-21.xml",
        "payouts": folder / "iris-2026-11-21.csv",
        "settlements": folder / "settlement-2026-11-21.csv",
        "ledger": folder / "ledger.parquet",
    }
    if all(p.exists() for p in files.values()):
        return files
    truth_bank = cache / f"truth-{rows}" / "bank.parquet"
    if files["ledger"].exists() and truth_bank.exists():  # the statement only
        write_mt940_daily(pl.read_parquet(truth_bank), files["mt940"])
        write_camt053_fast(pl.read_parquet(truth_bank), files["camt053"])
        return files
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    truth = generate(rows, seed=7, period_end=PERIOD_END)
    (cache / f"truth-{rows}").mkdir(parents=True, exist_ok=True)
    truth.bank.write_parquet(cache / f"truth-{rows}" / "bank.parquet")
    truth.ledger_input().write_parquet(files["ledger"])
    write_midtrans_fast(truth.gateway, files["payouts"], files["settlements"])
    write_mt940_daily(truth.bank, files["mt940"])
    write_camt053_fast(truth.bank, files["camt053"])
    print(
        f"{truth.bank.height:,} bank + {truth.gateway.height:,} gateway lines, "
        f"{truth.ledger.height:,} ledger lines written in {time.perf_counter() - start:.1f} s (not timed)"
    )
    return files


def run_e2e(rows: int, formats: list[str], cache: Path, memory: str) -> int:
    files = e2e_files(rows, cache)
    kasda = Path(sys.executable).parent / "kasda"
    met = True
    for name in formats:
        out = cache / f"e2e-{rows}-report-{name}"
        command = [
            str(kasda), "reconcile", "--date", "2026-11-21", "--since", "2026-10-01",
            "--bank", str(files[name]), "--gateway", str(files["payouts"]),
            "--gateway", str(files["settlements"]), "--ledger", str(files["ledger"]),
            "--out", str(out), "--no-record", "--memory-limit", memory,
        ]  # fmt: skip
        load = os.getloadavg()[0]
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        stdout, stderr = child.communicate(timeout=60)
        code = os.waitstatus_to_exitcode(status)
        gib = usage.ru_maxrss / 1024**2
        ok = code == 0 and elapsed <= 60 and gib <= 4
        met &= ok
        print(stderr.strip())
        print(stdout.strip())
        print(
            f"e2e {name}: exit {code}, {elapsed:.1f} s, peak RSS {gib:.2f} GiB, load avg {load:.2f} -> "
            f"{os.getloadavg()[0]:.2f}: <= 60 s and <= 4 GiB {'MET' if ok else 'NOT MET'}"
        )
    return 0 if met else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=0, help="readers against read_csv")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old", action="store_true", help="also time the readers before issue 17")
    parser.add_argument("--stream", type=int, default=0, help="peak RSS of reading N lines")
    parser.add_argument("--e2e", type=int, default=0, help="kasda reconcile of N rows a side")
    parser.add_argument("--formats", default="mt940,camt053")
    parser.add_argument("--memory-limit", default="3G")
    parser.add_argument("--cache", type=Path, default=CACHE)
    return parser


# Internal: inputs made in a process of their own (``_generate``).
GENERATE: dict[str, Callable[[int, Path], object]] = {
    "--generate-e2e-inputs": e2e_files,
    "--generate-statement": statement_files,
}


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == PROBE:
        return probe_stream(Path(sys.argv[2]), Path(sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] in GENERATE:
        GENERATE[sys.argv[1]](int(sys.argv[2]), Path(sys.argv[3]))
        return 0
    args = _parser().parse_args()
    code = 0
    if args.lines:
        code |= run_readers(args.lines, args.repeat, args.old, args.cache)
    if args.e2e:
        _generate("--generate-e2e-inputs", args.e2e, args.cache)  # the statement reuses its lines
    if args.stream:
        _generate("--generate-statement", args.stream, args.cache)
        code |= run_stream(args.stream, args.cache)
    if args.e2e:
        code |= run_e2e(args.e2e, args.formats.split(","), args.cache, args.memory_limit)
    return code


if __name__ == "__main__":
    sys.exit(main())
