"""Partitioned reconciliation: the same passes and the same result as ``matching.reconcile``, line for
line, with inputs on disk (canonical Parquet, scanned lazily) and each pass run in ``n`` partitions.

No single key keeps every possible match inside one partition: pass 1 joins on references, pass 2 on
(amount, account), pass 3 on the batch id. So each pass is partitioned on its own key, and what a pass
decided is carried forward to the next in small dense per-line columns (status, pass, link: about 8
bytes a line on each side), never in the inputs:

1. **reference**, in two steps. (a) Partition ``k`` holds the statement lines whose reference hashes to
   ``k`` and the ledger keys (SP2D number, payout reference, order id) hashing to ``k``: every pair of
   a reference and a ledger key is inside one partition, and so are all the candidates of one
   statement line (it has one reference), so "one ledger line per statement line" is decided there.
   The pairs go to disk bucketed by ledger line. (b) Bucket ``j`` holds every candidate of the ledger
   lines ``lid % n == j``, across all their keys, so the ranking per ledger line, source and kind
   (match, then duplicates) is decided there.
2. **amount + account**: partitioned on the account's hash. An (amount, account) group, which is
   where the ranks live, never spans two partitions. Lines taken by pass 1 are left out through the
   dense columns.
3. **batches**: gateway rows on the hash of their batch id, bank lines on the hash of their
   reference: a batch and the bank lines naming it are in one partition, and so are all the bank
   lines of one (reference, direction), which is where the duplicates are ranked.

Classification is then done on the dense columns: a gateway row matched in pass 1 takes its batch's
status, and so does a ledger line whose match is a gateway row. Each pass writes its candidates once
from the slim files into ``n`` bucket folders (``_Buckets``), so a partition reads only its own rows.
``lazy_result`` then writes every line with its status in ``n`` slices a side, both sides at once.
Memory: the dense columns plus one partition of one pass (or a half slice of each side), whatever
the size of the inputs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Final

import polars as pl

from reconciliation.expressions import (
    AMBIGUOUS_AGREED,
    PASS_CODE,
    PASS_ENUM,
    PASSES,
    REFERENCE_KINDS,
    STATUS_CODE,
    account_key,
    agreed_text,
    bank_key,
    expected_on,
    pack_ledger,
    pack_statement,
    reference_keys,
    unpaired_ledger,
    unpaired_statement,
)
from reconciliation.matching import (
    LazyResult,
    Params,
    Progress,
    Result,
    bank_mismatch_links,
    batch_core,
    first_ledger_line,
    link_status,
    pair_amount_account,
    reused_references,
    settled_by_reference,
)
from reconciliation.schema import STATUS_ENUM, STATUSES

# Peak of an in-memory run, per input line (both sides, inputs included), measured at 10M lines a
# side (docs/benchmarks.md); a partitioned run keeps ~16 bytes a line and 1/n of the rest.
BYTES_PER_LINE = 450
DENSE_BYTES_PER_LINE = 24
BASE_BYTES = 400 << 20  # the interpreter, Polars and its thread pools
MAX_PARTITIONS = 256
# The most lines computed at once for the report, both sides together (each side, written at the
# same time as the other, computes half): about 0.25 GiB of a statement's lines, whatever the
# number of partitions.
LINES_PER_SLICE = 1_000_000
# The work files are written once and read back once or twice: LZ4 writes and reads them several
# times faster than Parquet's default zstd; they are written without column statistics (nothing
# reads them to skip row groups).
WORK_COMPRESSION: Final = "lz4"


def partitions_for(lines: int, memory_limit: int) -> int:
    """The number of partitions that should keep a run of ``lines`` (both sides) under the limit:
    1 (in memory) when it fits."""
    budget = memory_limit - BASE_BYTES - DENSE_BYTES_PER_LINE * lines
    if BYTES_PER_LINE * lines <= budget:
        return 1
    if budget <= 0:
        return MAX_PARTITIONS
    return min(MAX_PARTITIONS, max(2, -(-BYTES_PER_LINE * lines // budget)))


def slim_statement(statement: pl.LazyFrame) -> pl.LazyFrame:
    """What the passes read of a statement line (as ``matching._prepare``, plus the partition keys
    and the status the line has if no pass takes it)."""
    gateway = pl.col("source") == "gateway"
    is_fee = pl.col("kind").is_in(["fee", "interest"])
    is_return = pl.col("kind") == "return"
    credit = pl.col("direction") == "C"
    return statement.with_row_index("sid").select(
        "sid",
        gateway=gateway,
        credit=credit,
        by_reference=pl.col("kind").is_in(REFERENCE_KINDS),
        is_transfer=pl.col("kind") == "transfer",
        has_batch=pl.col("batch_id").is_not_null(),
        value_date="value_date",
        amount="amount",
        fee="fee",
        acct=account_key("counterparty_account"),
        sbank=bank_key("counterparty_bank"),
        packed=pack_statement(pl.col("amount"), gateway, credit, is_return),
        default=unpaired_statement(gateway, is_fee, is_return),
        **reference_keys("reference", "r"),
        **reference_keys("batch_id", "b"),
    )


def slim_ledger(ledger: pl.LazyFrame, params: Params) -> pl.LazyFrame:
    cutoff = params.period_end - timedelta(days=params.window_days)
    expected = expected_on()
    receipt = pl.col("kind") == "receipt"
    return ledger.with_row_index("lid").select(
        "lid",
        receipt=receipt,
        net="net",
        expected_on=expected,
        expect_gateway=pl.when(receipt).then(pl.col("gross")).otherwise(pl.col("net")),
        acct=pl.when(~receipt).then(account_key("beneficiary_account")),
        lbank=bank_key("beneficiary_bank"),
        lpacked=pack_ledger(pl.col("net"), receipt, pl.col("direction") == "C"),
        default=unpaired_ledger(expected, cutoff),
        **reference_keys("sp2d_number", "s"),
        **reference_keys("payout_reference", "p"),
        **reference_keys("order_id", "o"),
    )


class _State:
    """The dense per-line columns carried from pass to pass: what each pass decided about a line is
    written here, and the next pass reads only these columns, never the inputs."""

    def __init__(self, s_default: pl.Series, s_gateway: pl.Series, l_default: pl.Series) -> None:
        ns, nl = len(s_default), len(l_default)
        self.s_status = s_default.rechunk()
        self.s_pass = pl.repeat(PASS_CODE["classify"], ns, dtype=pl.UInt8, eager=True)
        self.s_lid = pl.repeat(None, ns, dtype=pl.UInt32, eager=True)
        self.s_gateway = s_gateway.rechunk()
        self.s_agreed = pl.repeat(None, ns, dtype=pl.UInt8, eager=True)
        self.batch_of_row = pl.repeat(None, ns, dtype=pl.UInt8, eager=True)
        self.l_status = l_default.rechunk()
        self.l_pass = pl.repeat(PASS_CODE["classify"], nl, dtype=pl.UInt8, eager=True)
        self.l_sid = pl.repeat(None, nl, dtype=pl.UInt32, eager=True)
        self.l_taken = pl.zeros(nl, pl.Boolean, eager=True)
        self.l_return = pl.zeros(nl, pl.Boolean, eager=True)
        self.l_mismatch = pl.repeat(None, nl, dtype=pl.UInt32, eager=True)

    @classmethod
    def unpaired(cls, slim_s: pl.LazyFrame, slim_l: pl.LazyFrame) -> _State:
        """Every line with the status it has if no pass takes it."""
        first = slim_s.select("default", "gateway").collect()
        return cls(
            first["default"], first["gateway"], slim_l.select("default").collect()["default"]
        )

    def untaken_statement(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(self.s_pass.gather(frame["sid"]) == PASS_CODE["classify"])

    def untaken_ledger(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The ledger lines no reference settled (pass 2 may still pay them)."""
        return frame.filter(~self.l_taken.gather(frame["lid"]))

    def record_links(self, links: pl.DataFrame) -> None:
        """Pass 1's links of one bucket of ledger lines (every candidate of those lines)."""
        self.s_status.scatter(links["sid"], links["status"])
        self.s_pass.scatter(links["sid"], PASS_CODE["reference"])
        self.s_lid.scatter(links["sid"], links["lid"])
        self.s_agreed.scatter(links["sid"], links["agreed"])
        primary = links.filter(pl.col("primary"))
        # A return link is written last: it is stronger than any other link of its ledger line.
        for group in (
            primary.filter(pl.col("gateway")),
            primary.filter(~pl.col("gateway") & ~pl.col("link_return")),
            primary.filter(pl.col("link_return")),
        ):
            self.l_status.scatter(group["lid"], group["status"])
            self.l_pass.scatter(group["lid"], PASS_CODE["reference"])
            self.l_sid.scatter(group["lid"], group["sid"])
        self.l_taken.scatter(settled_by_reference(links)["lid"], True)
        self.l_return.scatter(primary.filter(pl.col("link_return"))["lid"], True)
        bank_mismatch_links(links, 0, into=self.l_mismatch)

    def record_amount_account(
        self, found: pl.DataFrame, unsure_s: pl.DataFrame, unsure_l: pl.DataFrame
    ) -> None:
        """Pass 2's pairs and ambiguous lines of one partition."""
        self.s_status.scatter(found["sid"], found["status"])
        self.s_pass.scatter(found["sid"], PASS_CODE["amount_account"])
        self.s_lid.scatter(found["sid"], found["lid"])
        self.s_agreed.scatter(found["sid"], found["agreed"])
        self.s_status.scatter(unsure_s["sid"], STATUS_CODE["ambiguous"])
        self.s_pass.scatter(unsure_s["sid"], PASS_CODE["amount_account"])
        self.s_agreed.scatter(unsure_s["sid"], AMBIGUOUS_AGREED)
        self.s_status.scatter(
            reused_references(self.l_mismatch, found), STATUS_CODE["reference_reused"]
        )
        # A ledger line with a return link keeps it (a return is stronger than anything else).
        free = found.filter(~self.l_return.gather(found["lid"]))
        self.l_status.scatter(free["lid"], free["status"])
        self.l_pass.scatter(free["lid"], PASS_CODE["amount_account"])
        self.l_sid.scatter(free["lid"], free["sid"])
        unsure = unsure_l.filter(~self.l_return.gather(unsure_l["lid"]))
        self.l_status.scatter(unsure["lid"], STATUS_CODE["ambiguous"])
        self.l_pass.scatter(unsure["lid"], PASS_CODE["amount_account"])
        self.l_sid.scatter(unsure["lid"], None)

    def record_batches(self, decided: pl.DataFrame, rows: pl.DataFrame) -> None:
        """Pass 3's bank lines of one partition, and the status each gateway row's batch gives."""
        self.s_status.scatter(decided["sid"], decided["status"])
        self.s_pass.scatter(decided["sid"], PASS_CODE["batch"])
        self.s_agreed.scatter(decided["sid"], decided["agreed"])
        self.batch_of_row.scatter(rows["sid"], rows["status"])


class _Buckets:
    """The candidates of one side of one pass, written once (one streaming pass over the slim file)
    into ``n`` folders by key; each partition then reads only its own folder."""

    def __init__(self, frame: pl.LazyFrame, key: pl.Expr, n: int, folder: Path) -> None:
        self.schema = frame.collect_schema()
        self.folder = folder
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        frame.with_columns(_part=(key % n).cast(pl.UInt32)).sink_parquet(
            pl.PartitionBy(folder, key="_part", include_key=False),
            mkdir=True,
            compression=WORK_COMPRESSION,
            statistics=False,
        )

    def get(self, k: int) -> pl.DataFrame:
        files = sorted((self.folder / f"_part={k}").glob("*.parquet"))
        if not files:
            return pl.DataFrame(schema=self.schema)
        return pl.read_parquet(files, hive_partitioning=False)

    def drop(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def reconcile_files(
    statement: Path | list[Path],
    ledger: Path,
    params: Params,
    partitions: int,
    work: Path,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Run every pass in ``partitions`` partitions over canonical Parquet inputs (scanned, never
    loaded whole). Returns the dense results: (status, match_pass, ledger_row) per statement line and
    (status, match_pass, statement_row) per ledger line, in input order."""
    say = progress or (lambda _message: None)
    n = max(1, partitions)
    work.mkdir(parents=True, exist_ok=True)
    say(f"writing the slim inputs to {work}")
    slim_s, slim_l = _write_slim(statement, ledger, params, work)
    state = _State.unpaired(slim_s, slim_l)
    say(f"pass 1: references, {n} partition(s)")
    pairs = _reference_pairs(slim_s, slim_l, n, work)
    _rank_links(pairs, n, state)
    say(f"pass 2: amount + account within the date window, {n} partition(s)")
    _pass_amount_account(slim_s, slim_l, params, n, work, state)
    say(f"pass 3: gateway batches, {n} partition(s)")
    _pass_batch(slim_s, n, work, state)
    say("classifying")
    return _finish(state)


def _write_slim(
    statement: Path | list[Path], ledger: Path, params: Params, work: Path
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The slim inputs, streamed to Parquet in ``work`` once and scanned by every pass."""
    s_path, l_path = work / "statement-slim.parquet", work / "ledger-slim.parquet"
    slim_statement(pl.scan_parquet(statement)).sink_parquet(
        s_path, compression=WORK_COMPRESSION, statistics=False
    )
    slim_ledger(pl.scan_parquet(ledger), params).sink_parquet(
        l_path, compression=WORK_COMPRESSION, statistics=False
    )
    return pl.scan_parquet(s_path), pl.scan_parquet(l_path)


def _reference_pairs(slim_s: pl.LazyFrame, slim_l: pl.LazyFrame, n: int, work: Path) -> Path:
    """Pass 1, step (a): in partition ``k``, the statement lines whose reference hashes to ``k``
    against the ledger keys hashing to ``k``; one ledger line per statement line. The pairs are
    written to ``work/pairs/<j>/<k>.parquet``, bucket ``j`` holding the ledger lines ``lid % n == j``."""
    lines = _Buckets(
        slim_s.filter(pl.col("by_reference") & pl.col("r1").is_not_null()).select(
            "sid", "r1", "r2", "packed", "value_date", sacct="acct", sbank="sbank"
        ),
        pl.col("r1"),
        n,
        work / "p1-statement",
    )
    keys = _Buckets(_ledger_keys(slim_l), pl.col("key1"), n, work / "p1-ledger")
    pairs_dir = work / "pairs"
    shutil.rmtree(pairs_dir, ignore_errors=True)
    for k in range(n):
        pairs = _first_ledger_line(_join_references(lines.get(k), keys.get(k)))
        for bucket, part in _buckets(pairs, n):
            folder = pairs_dir / str(bucket)
            folder.mkdir(parents=True, exist_ok=True)
            part.write_parquet(
                folder / f"{k}.parquet", compression=WORK_COMPRESSION, statistics=False
            )
        del pairs
    lines.drop()
    keys.drop()
    return pairs_dir


def _ledger_keys(slim_l: pl.LazyFrame) -> pl.LazyFrame:
    """Every SP2D number, payout reference and order id of the ledger, with what pass 1 compares."""
    return pl.concat(
        [
            slim_l.select(
                "lid",
                "lpacked",
                "expect_gateway",
                key1=pl.col(f"{p}1"),
                key2=pl.col(f"{p}2"),
                lacct="acct",
                lbank="lbank",
            ).filter(pl.col("key1").is_not_null())
            for p in ("s", "p", "o")
        ],
        how="vertical",
    )


def _join_references(lines: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """The (statement line, ledger line) pairs whose two reference hashes agree."""
    return (
        lines.lazy()
        .join(keys.lazy(), left_on="r1", right_on="key1", how="inner")
        .filter(pl.col("r2") == pl.col("key2"))
        .select(
            "sid",
            "lid",
            "packed",
            "lpacked",
            "expect_gateway",
            "sacct",
            "lacct",
            "sbank",
            "lbank",
            "value_date",
        )
        .collect()
    )


def _first_ledger_line(pairs: pl.DataFrame) -> pl.DataFrame:
    """One ledger line per statement line: a statement line meets two only if a reference is written
    on two ledger lines, and then names the one it paid (``matching.first_ledger_line``)."""
    many = pairs["sid"].is_duplicated()
    if not many.any():
        return pairs
    return pl.concat([pairs.filter(~many), first_ledger_line(pairs.filter(many))])


def _rank_links(pairs_dir: Path, n: int, state: _State) -> None:
    """Pass 1, step (b): bucket ``j`` holds every candidate of its ledger lines, across all their
    keys, so the ranking per ledger line, source and kind is decided there."""
    for j in range(n):
        folder = pairs_dir / str(j)
        if not folder.exists():
            continue
        facts = pl.read_parquet(folder / "*.parquet")
        state.record_links(link_status(facts.drop("value_date"), _only_link, _dates_from(facts)))
        del facts
    shutil.rmtree(pairs_dir, ignore_errors=True)


def _pass_amount_account(
    slim_s: pl.LazyFrame, slim_l: pl.LazyFrame, params: Params, n: int, work: Path, state: _State
) -> None:
    """Pass 2, partitioned on the account's hash: an (amount, account) group never spans two
    partitions. Lines pass 1 took are left out through the dense columns."""
    debits = _Buckets(
        slim_s.filter(
            ~pl.col("gateway")
            & ~pl.col("credit")
            & pl.col("is_transfer")
            & pl.col("acct").is_not_null()
        ).select("sid", "value_date", "amount", "acct", "sbank"),
        pl.col("acct"),
        n,
        work / "p2-statement",
    )
    payments = _Buckets(
        slim_l.filter(pl.col("acct").is_not_null()).select(
            "lid", "expected_on", "lbank", amount="net", acct="acct"
        ),
        pl.col("acct"),
        n,
        work / "p2-ledger",
    )
    for k in range(n):
        bank = state.untaken_statement(debits.get(k))
        ledger_lines = state.untaken_ledger(payments.get(k))
        state.record_amount_account(
            *pair_amount_account(bank.lazy(), ledger_lines.lazy(), params.window_days)
        )
    debits.drop()
    payments.drop()


def _pass_batch(slim_s: pl.LazyFrame, n: int, work: Path, state: _State) -> None:
    """Pass 3: gateway rows on the hash of their batch id, bank lines on the hash of their
    reference, so a batch and every bank line naming it are in one partition."""
    rows_of = _Buckets(
        slim_s.filter(pl.col("gateway") & pl.col("has_batch")).select(
            "sid", "credit", "amount", "fee", "b1", "b2", batch_id=pl.lit(None, pl.String)
        ),
        pl.col("b1").fill_null(0),
        n,
        work / "p3-gateway",
    )
    named = _Buckets(
        slim_s.filter(
            ~pl.col("gateway") & pl.col("is_transfer") & pl.col("r1").is_not_null()
        ).select("sid", "credit", "value_date", "amount", "r1", "r2"),
        pl.col("r1"),
        n,
        work / "p3-bank",
    )
    for k in range(n):
        bank = state.untaken_statement(named.get(k))
        state.record_batches(*batch_core(rows_of.get(k), bank.lazy()))
    rows_of.drop()
    named.drop()


def _only_link(linked: pl.DataFrame) -> pl.Series:
    return ~linked["lid"].is_duplicated()


def _dates_from(facts: pl.DataFrame) -> Callable[[pl.DataFrame], pl.Series]:
    """The value date of each link's statement line (a statement line has one link at most)."""
    dates = facts.select("sid", "value_date")

    def value_dates(many: pl.DataFrame) -> pl.Series:
        found = many.select("sid").join(dates, on="sid", how="left", maintain_order="left")
        return found["value_date"]

    return value_dates


def _buckets(pairs: pl.DataFrame, n: int) -> list[tuple[int, pl.DataFrame]]:
    if n == 1:
        return [(0, pairs)]
    bucket = (pairs["lid"] % n).alias("_bucket")
    parts = pairs.with_columns(bucket).partition_by("_bucket", as_dict=True, include_key=False)
    return [(int(key[0]), part) for key, part in parts.items()]


def _finish(state: _State) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A gateway row matched in pass 1 is only ``matched`` when its batch is on the statement with the
    right total; a ledger line whose match is such a row takes the same status."""
    matched = STATUS_CODE["matched"]
    statement = pl.DataFrame(
        {
            "code": state.s_status,
            "pass": state.s_pass,
            "ledger_row": state.s_lid,
            "gateway": state.s_gateway,
            "batch": state.batch_of_row,
            "agreed": state.s_agreed,
        }
    ).select(
        status=pl.when(
            (pl.col("pass") == PASS_CODE["reference"])
            & pl.col("gateway")
            & (pl.col("code") == matched)
        )
        .then(pl.coalesce("batch", pl.lit(matched, pl.UInt8)))
        .otherwise(pl.col("code")),
        match_pass=pl.col("pass"),
        ledger_row="ledger_row",
        agreed="agreed",
    )
    sid = state.l_sid
    ledger = pl.DataFrame(
        {
            "code": state.l_status,
            "pass": state.l_pass,
            "statement_row": sid,
            "via_gateway": state.s_gateway.gather(sid),
            "batch": state.batch_of_row.gather(sid),
            "agreed": state.s_agreed.gather(sid),
        }
    ).select(
        status=pl.when(
            (pl.col("pass") == PASS_CODE["reference"])
            & pl.col("via_gateway").fill_null(False)
            & (pl.col("code") == matched)
        )
        .then(pl.coalesce("batch", pl.lit(matched, pl.UInt8)))
        .otherwise(pl.col("code")),
        match_pass=pl.col("pass"),
        statement_row="statement_row",
        agreed="agreed",
    )
    return statement, ledger


def attach(
    statement: pl.DataFrame, ledger: pl.DataFrame, dense: tuple[pl.DataFrame, pl.DataFrame]
) -> Result:
    """The ``Result`` of ``matching.reconcile`` from the inputs and the dense columns."""
    s_dense, l_dense = dense
    statuses = pl.Series(STATUSES, dtype=STATUS_ENUM)
    passes = pl.Series(PASSES, dtype=PASS_ENUM)
    statement_rows = statement.with_columns(
        status=statuses.gather(s_dense["status"]),
        match_pass=passes.gather(s_dense["match_pass"]),
        ledger_row=s_dense["ledger_row"],
        matched_batch=pl.when(s_dense["match_pass"] == PASS_CODE["batch"]).then(
            pl.col("reference")
        ),
        agreed=agreed_text(s_dense["agreed"]),
    )
    ledger_rows = ledger.rename({"status": "ledger_status"}).with_columns(
        status=statuses.gather(l_dense["status"]),
        match_pass=passes.gather(l_dense["match_pass"]),
        statement_row=l_dense["statement_row"],
        agreed=agreed_text(l_dense["agreed"]),
    )
    return Result(statement_rows, ledger_rows)


def lazy_result(
    statement: Path | list[Path],
    ledger: Path,
    dense: tuple[pl.DataFrame, pl.DataFrame],
    work: Path,
    chunks: int = 1,
) -> LazyResult:
    """The lines of ``Result.statement`` / ``Result.ledger``, computed in ``2 * chunks`` slices of
    rows a side (``LINES_PER_SLICE / 2`` at most) and written once, as they are computed, as the
    report's Parquet and CSV files in ``work``, both sides at the same time
    (``report.write_sides``); the frames scan that Parquet, and the report links both files. The
    links (ledger id; matched file and line) are read once per side, a few bytes a line (the file
    name as a category), and gathered by row for each slice; no step holds a whole side."""
    from reconciliation.report import write_sides

    s_dense, l_dense = dense
    s_scan, l_scan = pl.scan_parquet(statement), pl.scan_parquet(ledger)
    sides = {
        "statement": _slices(
            s_scan,
            s_dense,
            l_scan.select("ledger_id"),
            "ledger_row",
            chunks,
            lambda frame: frame.with_columns(
                matched_batch=pl.when(pl.col("match_pass") == "batch").then(pl.col("reference"))
            ),
        ),
        "ledger": _slices(
            l_scan.rename({"status": "ledger_status"}),
            l_dense,
            s_scan.select(
                matched_file=pl.col("file").cast(pl.Categorical), matched_line_no="line_no"
            ),
            "statement_row",
            chunks,
            lambda frame: frame,
        ),
    }
    folder = work / "lines"
    folder.mkdir(parents=True, exist_ok=True)
    written = {name: (folder / f"{name}.parquet", folder / f"{name}.csv") for name in sides}
    write_sides({name: (slices, *written[name]) for name, slices in sides.items()})
    return LazyResult(
        pl.scan_parquet(written["statement"][0]), pl.scan_parquet(written["ledger"][0]), written
    )


def _slices(
    lines: pl.LazyFrame,
    dense: pl.DataFrame,
    other: pl.LazyFrame,
    link: str,
    chunks: int,
    finish: Callable[[pl.DataFrame], pl.DataFrame],
) -> Iterator[pl.DataFrame]:
    """Every line of one side with its status, in order, one slice of rows at a time (one slice,
    empty, for a side with no lines). ``other`` is the other side's link columns, gathered by the
    row ``link`` names (null where the line has none); a category comes back as text."""
    codes = pl.Series(STATUSES, dtype=STATUS_ENUM)
    passes = pl.Series(PASSES, dtype=PASS_ENUM)
    linked = other.collect()
    step = min(max(1, -(-dense.height // max(1, 2 * chunks))), LINES_PER_SLICE // 2)
    for start in range(0, max(dense.height, 1), step):
        part = dense.slice(start, step)
        found = linked.select(pl.all().gather(part[link])).with_columns(
            pl.col(pl.Categorical).cast(pl.String)
        )
        frame = (
            lines.slice(start, step)
            .collect()
            .with_columns(
                status=codes.gather(part["status"]),
                match_pass=passes.gather(part["match_pass"]),
                **{link: part[link]},
            )
        )
        yield finish(frame).with_columns(agreed=agreed_text(part["agreed"])).hstack(found)
        del frame, found


def reconcile_partitioned(
    statement: pl.DataFrame,
    ledger: pl.DataFrame,
    params: Params,
    partitions: int,
    work: Path,
    progress: Progress | None = None,
) -> Result:
    """``matching.reconcile`` in partitions: the frames go to Parquet in ``work`` and the passes read
    them back one partition at a time."""
    work.mkdir(parents=True, exist_ok=True)
    statement.write_parquet(
        work / "statement.parquet", compression=WORK_COMPRESSION, statistics=False
    )
    ledger.write_parquet(work / "ledger.parquet", compression=WORK_COMPRESSION, statistics=False)
    dense = reconcile_files(
        work / "statement.parquet", work / "ledger.parquet", params, partitions, work, progress
    )
    return attach(statement, ledger, dense)
