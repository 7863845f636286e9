"""The matching engine: statement lines (bank and gateway) against ledger lines, in passes, on Polars
(LazyFrames for the joins and windows; dense scatter/gather by row position for the results) with no
Python loop over rows.

1. **reference**: the line's reference equals an SP2D number, payout reference or order id (joined on a
   64-bit hash; a pair counts only if a second, independently seeded hash agrees too). A link is
   ``matched`` only when the amount agrees and, where the statement line gives them, the counterparty
   account and kode bank: another payee is ``account_mismatch`` (account substitution). Per ledger
   line and source, the best candidate is the primary link (``matched``, ``amount_mismatch`` or
   ``account_mismatch``); a further one is a ``duplicate`` (debited twice: same amount and payee) or
   ``reference_reused`` (the reference on another amount). A bank credit naming a disbursement is its
   return (``returned``).
2. **amount_account**: bank debits left over, against disbursements no reference settled (a bank
   link with another amount or payee leaves the disbursement open), on equal amount and beneficiary
   account with the bank date in ``[expected_on, expected_on + window_days]``. Clusters of overlapping
   windows pair one-to-one by rank when every line of the cluster is paid; otherwise the cluster is
   ``ambiguous``. A disbursement paid here whose bank link had another amount makes that link
   ``reference_reused``.
3. **batch**: gateway rows grouped by ``batch_id`` (payouts: sum of amount + fee; settlements: sum of
   gross - fee) against bank lines whose reference is the batch id; equal sums match, other sums are
   ``amount_mismatch``, a second bank line for one batch is a ``duplicate``.
4. **classify** the rest: bank fee and interest lines ``fee``; bank returns ``returned``; other bank
   and gateway lines ``unmatched_bank``; gateway rows whose batch is not on the statement yet
   ``timing``; ledger lines ``timing`` when expected within ``window_days`` before the end of the
   period (in transit across the cut-off), else ``unmatched_ledger``.

Every input line ends with exactly one status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from reconciliation.expressions import (
    AGREED,
    AMBIGUOUS_AGREED,
    PASS_CODE,
    PASS_ENUM,
    PASSES,
    REFERENCE_KINDS,
    SEED,
    STATUS_CODE,
    account_key,
    agreed_text,
    bank_key,
    expected_on,
    pack_ledger,
    pack_statement,
    reference_keys,
    status_code,
    unpack_ledger,
    unpack_statement,
    unpaired_ledger,
    unpaired_statement,
)
from reconciliation.schema import STATUS_ENUM, STATUSES

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Params:
    period_end: date  # the last day the statement covers (the cut-off)
    window_days: int = 3  # a bank line may follow the ledger date by this many days


class Result:
    """Both sides with a status per line. ``statement_rows`` / ``ledger_rows`` are the inputs plus
    ``status``, ``match_pass`` and the position of the matching line on the other side
    (``ledger_row`` / ``statement_row``); ``statement`` and ``ledger`` add the readable links
    (``ledger_id``; ``matched_file`` and ``matched_line_no``), built on first use."""

    def __init__(self, statement_rows: pl.DataFrame, ledger_rows: pl.DataFrame) -> None:
        self.statement_rows = statement_rows
        self.ledger_rows = ledger_rows
        self._statement: pl.DataFrame | None = None
        self._ledger: pl.DataFrame | None = None

    @property
    def statement(self) -> pl.DataFrame:
        """STATEMENT + status, match_pass, ledger_row, matched_batch, ledger_id."""
        if self._statement is None:
            ids = self.ledger_rows["ledger_id"]
            self._statement = self.statement_rows.with_columns(
                ledger_id=ids.gather(self.statement_rows["ledger_row"])
            )
        return self._statement

    @property
    def ledger(self) -> pl.DataFrame:
        """LEDGER (its ``status`` renamed ``ledger_status``) + status, match_pass, statement_row,
        matched_file, matched_line_no."""
        if self._ledger is None:
            rows = self.ledger_rows["statement_row"]
            self._ledger = self.ledger_rows.with_columns(
                matched_file=self.statement_rows["file"].gather(rows),
                matched_line_no=self.statement_rows["line_no"].gather(rows),
            )
        return self._ledger

    def counts(self) -> dict[str, dict[str, int]]:
        """Lines per status, for the statement side and the ledger side."""
        out: dict[str, dict[str, int]] = {}
        for side, frame in (("statement", self.statement_rows), ("ledger", self.ledger_rows)):
            grouped = frame.group_by("status").len()
            out[side] = {str(k): int(n) for k, n in grouped.iter_rows()}
        return out


class LazyResult:
    """A result too large to hold: every line with its status, in Parquet files the frames scan.
    ``statement`` / ``ledger`` have the columns of ``Result.statement`` / ``Result.ledger``.
    ``written`` names, per side, the report's files (Parquet, CSV) that already hold its lines, when
    the run wrote them as it computed them (``partitioned.lazy_result``): the report links them
    instead of encoding 20M rows a second time."""

    def __init__(
        self,
        statement: pl.LazyFrame,
        ledger: pl.LazyFrame,
        written: Mapping[str, tuple[Path, Path]] | None = None,
    ) -> None:
        self.statement = self.statement_rows = statement
        self.ledger = self.ledger_rows = ledger
        self.written: Mapping[str, tuple[Path, Path]] = written or {}


def _rank(frame: pl.LazyFrame, group: list[str], order: list[pl.Expr]) -> pl.LazyFrame:
    """Add ``rank`` (0, 1, ...) within each group in ``order``. Most groups have one row: those get 0
    from a cheap hash check, and only the rows of larger groups are ranked with a window."""
    key = pl.col(group[0]) if len(group) == 1 else pl.struct(group).hash(SEED)
    marked = frame.with_columns(_many=key.is_duplicated())
    single = marked.filter(~pl.col("_many")).with_columns(rank=pl.lit(0, pl.Int64))
    many = marked.filter(pl.col("_many")).with_columns(
        rank=pl.int_range(pl.len(), dtype=pl.Int64).over(group, order_by=order)
    )
    return pl.concat([single, many], how="vertical").drop("_many")


def _once(index: pl.Series, n: int) -> pl.Series:
    """True where a dense row index (0..n-1) occurs only once in ``index``: a counting pass, no hashing."""
    values = index.to_numpy()
    return pl.Series(np.bincount(values, minlength=n)[values] == 1)


def _prepare(statement: pl.DataFrame, ledger: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Slim frames of what the passes use; text becomes hashes and flags once. ``packed`` holds a
    statement line's amount and flags in one integer (amount * 8 + gateway + 2 credit + 4 return),
    ``lpacked`` a ledger line's net and flags (net * 4 + receipt + 2 credit), so pass 1 fetches
    them in one gather each."""
    s = (
        statement.lazy()
        .select(
            sid=pl.int_range(pl.len(), dtype=pl.UInt32),
            gateway=pl.col("source") == "gateway",
            credit=pl.col("direction") == "C",
            by_reference=pl.col("kind").is_in(REFERENCE_KINDS),
            is_return=pl.col("kind") == "return",
            is_transfer=pl.col("kind") == "transfer",
            is_fee=pl.col("kind").is_in(["fee", "interest"]),
            value_date="value_date",
            amount="amount",
            fee="fee",
            sacct=account_key("counterparty_account"),
            sbank=bank_key("counterparty_bank"),
            **reference_keys("reference", "r"),
        )
        .with_columns(
            packed=pack_statement(
                pl.col("amount"), pl.col("gateway"), pl.col("credit"), pl.col("is_return")
            )
        )
    )
    lg = (
        ledger.lazy()
        .select(
            lid=pl.int_range(pl.len(), dtype=pl.UInt32),
            receipt=pl.col("kind") == "receipt",
            lcredit=pl.col("direction") == "C",
            net="net",
            expect_gateway=pl.when(pl.col("kind") == "receipt")
            .then(pl.col("gross"))
            .otherwise(pl.col("net")),
            expected_on=expected_on(),
            lacct=pl.when(pl.col("kind") != "receipt").then(account_key("beneficiary_account")),
            lbank=bank_key("beneficiary_bank"),
            **reference_keys("sp2d_number", "s"),
            **reference_keys("payout_reference", "p"),
            **reference_keys("order_id", "o"),
        )
        .with_columns(lpacked=pack_ledger(pl.col("net"), pl.col("receipt"), pl.col("lcredit")))
    )
    prepared = pl.collect_all([s, lg])
    # Inputs concatenated from several files arrive in chunks; the slim frames are made contiguous
    # once, so every later gather and scatter by position is a plain array access.
    return prepared[0].rechunk(), prepared[1].rechunk()


def _ledger_keys(lg: pl.DataFrame) -> pl.LazyFrame:
    """(key1, key2, lid) of every SP2D number, payout reference and order id."""
    parts = [
        lg.lazy()
        .select("lid", key1=pl.col(f"{p}1"), key2=pl.col(f"{p}2"))
        .filter(pl.col("key1").is_not_null())
        for p in ("s", "p", "o")
    ]
    return pl.concat(parts, how="vertical")


def pass_reference(s: pl.DataFrame, lg: pl.DataFrame) -> pl.DataFrame:
    """Pass 1: (sid, lid, gateway, link_return, primary, status code) for each statement line that
    names a ledger line. The join carries only the keys; the other facts are gathered by position."""
    pairs = (
        s.lazy()
        .filter(pl.col("by_reference") & pl.col("r1").is_not_null())
        .select("sid", "r1", "r2")
        .join(_ledger_keys(lg), left_on="r1", right_on="key1", how="inner")
        .filter(pl.col("r2") == pl.col("key2"))
        .select("sid", "lid")
        .collect()
    )
    # One ledger line per statement line: only if a reference is written on two ledger lines does
    # a statement line meet two; it then names the one it paid (``first_ledger_line``).
    once = _once(pairs["sid"], s.height)
    if not once.all():
        many = pairs.filter(~once)
        many = many.with_columns(
            sacct=s["sacct"].gather(many["sid"]),
            lacct=lg["lacct"].gather(many["lid"]),
            sbank=s["sbank"].gather(many["sid"]),
            lbank=lg["lbank"].gather(many["lid"]),
        )
        pairs = pl.concat([pairs.filter(once), first_ledger_line(many).select("sid", "lid")])
    sid, lid = pairs["sid"], pairs["lid"]
    facts = pl.DataFrame(
        [
            sid,
            lid,
            s["packed"].gather(sid),
            lg["lpacked"].gather(lid),
            lg["expect_gateway"].gather(lid),
            s["sacct"].gather(sid),
            lg["lacct"].gather(lid),
            s["sbank"].gather(sid),
            lg["lbank"].gather(lid),
        ]
    )
    return link_status(
        facts,
        lambda linked: _once(linked["lid"], lg.height),
        lambda many: s["value_date"].gather(many["sid"]),
    )


def first_ledger_line(many: pl.DataFrame) -> pl.DataFrame:
    """Of the ledger lines one statement line meets (a reference written on several: an SP2D whose
    returned transfer was paid again to a new account is a line per transfer), the one whose payee
    agrees with the line's counterparty (account, then kode bank), else the first. So the first
    debit, its return and the second debit of one SP2D each find their own transfer, and none
    reads as the SP2D debited twice."""
    order = [
        ~(pl.col("sacct") == pl.col("lacct")).fill_null(False),
        ~(pl.col("sbank") == pl.col("lbank")).fill_null(False),
        pl.col("lid"),
    ]
    return many.filter(pl.int_range(pl.len()).over("sid", order_by=order) == 0)


def link_status(
    facts: pl.DataFrame,
    once_of: Callable[[pl.DataFrame], pl.Series],
    value_dates: Callable[[pl.DataFrame], pl.Series],
) -> pl.DataFrame:
    """Pass 1 after the join: from (sid, lid, packed, lpacked, expect_gateway, sacct, lacct, sbank,
    lbank) pairs, the link kind, the rank per ledger line, source and kind, the status code and the
    ``agreed`` bits of each pair. ``once_of`` says which links are the only one of their ledger line;
    ``value_dates`` gives the value date of the statement line of each of the other links.

    A link is ``matched`` only when everything the line carries agrees: the amount, and the
    counterparty account and kode bank wherever the statement line gives them. A line that names
    an SP2D but paid another account is ``account_mismatch`` (account substitution), never matched
    and never a mere duplicate. Per ledger line, source and kind the best candidate is the primary
    one (fully right, then right payee, then right amount, then the earliest, then file order);
    every further candidate is a ``duplicate`` only if it is a second payment of the same amount to
    the same payee, else ``reference_reused`` (the reference on another amount)."""
    facts = facts.select(
        "sid",
        "lid",
        **unpack_statement(),
        **unpack_ledger(),
        expect_gateway="expect_gateway",
        account_same=pl.col("sacct") == pl.col("lacct"),
        bank_same=pl.col("sbank") == pl.col("lbank"),
    )
    link_return = ~pl.col("receipt") & ~pl.col("gateway") & pl.col("credit")
    normal = (pl.col("credit") == pl.col("lcredit")) & ~pl.col("is_return")
    expected = pl.when(pl.col("gateway")).then(pl.col("expect_gateway")).otherwise(pl.col("net"))
    # Null where one side does not carry the field: not compared, so neither agreed nor different.
    payee_ok = link_return | (
        pl.col("account_same").fill_null(True) & pl.col("bank_same").fill_null(True)
    )
    linked = facts.filter(link_return | normal).select(
        "sid",
        "lid",
        "gateway",
        link_return=link_return,
        amount_ok=pl.col("amount") == expected,
        payee_ok=payee_ok,
        agreed=(
            pl.lit(AGREED["reference"])
            + pl.when(pl.col("amount") == expected).then(AGREED["amount"]).otherwise(0)
            + pl.when(pl.col("account_same")).then(AGREED["account"]).otherwise(0)
            + pl.when(pl.col("bank_same")).then(AGREED["bank"]).otherwise(0)
        ).cast(pl.UInt8),
    )
    # Per ledger line, source and kind of link, the first candidate is the primary one. Ledger
    # lines with one candidate skip the window.
    once = once_of(linked)
    single = linked.filter(once).with_columns(rank=pl.lit(0, pl.Int64))
    many = linked.filter(~once)
    many = many.with_columns(value_date=value_dates(many)).with_columns(
        rank=pl.int_range(pl.len(), dtype=pl.Int64).over(
            ["lid", "gateway", "link_return"],
            order_by=[
                ~(pl.col("amount_ok") & pl.col("payee_ok")),
                ~pl.col("payee_ok"),
                ~pl.col("amount_ok"),
                pl.col("value_date"),
                pl.col("sid"),
            ],
        )
    )
    return pl.concat([single, many.drop("value_date")]).select(
        "sid",
        "lid",
        "gateway",
        "link_return",
        primary=pl.col("rank") == 0,
        status=pl.when(pl.col("link_return"))
        .then(
            pl.when(pl.col("rank") > 0)
            .then(status_code("duplicate"))
            .otherwise(status_code("returned"))
        )
        .when(~pl.col("payee_ok"))
        .then(status_code("account_mismatch"))
        .when(pl.col("rank") > 0)
        .then(
            pl.when(pl.col("amount_ok"))
            .then(status_code("duplicate"))
            .otherwise(status_code("reference_reused"))
        )
        .when(pl.col("amount_ok"))
        .then(status_code("matched"))
        .otherwise(status_code("amount_mismatch")),
        agreed="agreed",
    )


def settled_by_reference(p1: pl.DataFrame) -> pl.DataFrame:
    """The pass-1 links that settle their ledger line, so pass 2 leaves it out: a matched bank
    line, or any gateway row (its batch decides). A ledger line whose only bank link has another
    amount or payee stays open: its real payment may be a debit without the reference."""
    return p1.filter(
        pl.col("primary")
        & ~pl.col("link_return")
        & (pl.col("gateway") | (pl.col("status") == STATUS_CODE["matched"]))
    )


def _mask(n: int, indices: pl.Series) -> pl.Series:
    """A dense boolean column of ``n`` rows, true at ``indices``."""
    return pl.zeros(n, pl.Boolean, eager=True).scatter(indices, True)


def pass_amount_account(
    s: pl.DataFrame, lg: pl.DataFrame, p1: pl.DataFrame, window_days: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Pass 2 on the lines pass 1 left: bank debits that name no ledger line, against
    disbursements that no reference settled (see ``pair_amount_account``)."""
    taken_s = _mask(s.height, p1["sid"])
    taken_l = _mask(lg.height, settled_by_reference(p1)["lid"])
    bank = (
        s.lazy()
        .with_columns(taken=taken_s)
        .filter(
            ~pl.col("taken")
            & ~pl.col("gateway")
            & ~pl.col("credit")
            & pl.col("is_transfer")
            & pl.col("sacct").is_not_null()
        )
        .select("sid", "value_date", "amount", acct="sacct", sbank="sbank")
    )
    ledger = (
        lg.lazy()
        .with_columns(taken=taken_l)
        .filter(~pl.col("taken") & ~pl.col("receipt") & pl.col("lacct").is_not_null())
        .select("lid", "expected_on", amount="net", acct="lacct", lbank="lbank")
    )
    return pair_amount_account(bank, ledger, window_days)


def pair_amount_account(
    bank: pl.LazyFrame, ledger: pl.LazyFrame, window_days: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Pass 2 on its candidates: bank (sid, value_date, amount, acct, sbank) against ledger (lid,
    expected_on, amount, acct, lbank). A bank line may pay a ledger line of the same amount and
    account when its date is in ``[expected_on, expected_on + window]``.

    Within one (amount, account), the ledger lines whose windows overlap form a cluster (sorted by
    date: a gap wider than the window starts a new one), and a bank line belongs to the cluster
    whose window holds its date. When a cluster has as many bank lines as ledger lines with a
    candidate, and the n-th of each in date order pair within the window, every line is paid and
    they pair so. Otherwise which line is left over is a guess (a debit without SP2D for the same
    amount and account as a real payment): every line of the cluster is ``ambiguous`` instead of
    one being chosen silently. A pair whose kode bank differ is ``account_mismatch``.

    Returns (sid, lid, status, agreed) pairs, and the ambiguous (sid) and (lid)."""
    window = timedelta(days=window_days)
    group = ["amount", "acct"]
    bank = bank.join(ledger.select(group), on=group, how="semi")
    ledger = ledger.join(bank.select(group), on=group, how="semi")
    ledger = (
        ledger.sort([*group, "expected_on", "lid"])
        .with_columns(
            cluster=(
                (pl.col("amount") != pl.col("amount").shift(1))
                | (pl.col("acct") != pl.col("acct").shift(1))
                | ((pl.col("expected_on") - pl.col("expected_on").shift(1)) > window)
            )
            .fill_null(True)
            .cum_sum()
            .cast(pl.UInt32)
        )
        .collect()
        .lazy()
    )
    points = (
        bank.sort("value_date")
        .join_asof(
            ledger.select(*group, "cluster", start="expected_on").sort("start"),
            left_on="value_date",
            right_on="start",
            by=group,
            strategy="backward",
            check_sortedness=False,
        )
        .filter(pl.col("start").is_not_null() & (pl.col("value_date") <= pl.col("start") + window))
        .select("sid", "value_date", "sbank", "cluster")
    )
    contest = (
        ledger.sort("expected_on")
        .join_asof(
            bank.select(*group, seen="value_date").sort("seen"),
            left_on="expected_on",
            right_on="seen",
            by=group,
            strategy="forward",
            check_sortedness=False,
        )
        .filter(pl.col("seen").is_not_null() & (pl.col("seen") <= pl.col("expected_on") + window))
        .select("lid", "expected_on", "lbank", "cluster")
    )
    points = _rank(points, ["cluster"], [pl.col("value_date"), pl.col("sid")])
    contest = _rank(contest, ["cluster"], [pl.col("expected_on"), pl.col("lid")])
    in_window = (pl.col("value_date") >= pl.col("expected_on")) & (
        pl.col("value_date") <= pl.col("expected_on") + window
    )
    found = (
        points.join(contest, on=["cluster", "rank"], how="full", coalesce=True)
        .with_columns(
            good=(pl.col("sid").is_not_null() & pl.col("lid").is_not_null() & in_window)
            .fill_null(False)
            .all()
            .over("cluster")
        )
        .collect()
    )
    near = AGREED["amount"] + AGREED["account"] + AGREED["date"]
    bank_same = pl.col("sbank") == pl.col("lbank")
    pairs = found.filter(pl.col("good")).select(
        "sid",
        "lid",
        status=pl.when(bank_same.fill_null(True))
        .then(status_code("matched"))
        .otherwise(status_code("account_mismatch")),
        agreed=(pl.lit(near) + pl.when(bank_same).then(AGREED["bank"]).otherwise(0)).cast(pl.UInt8),
    )
    unsure = found.filter(~pl.col("good"))
    return pairs, unsure.select("sid").drop_nulls(), unsure.select("lid").drop_nulls()


def reused_references(bank_mismatch: pl.Series, pairs: pl.DataFrame) -> pl.Series:
    """Statement lines that named a ledger line with another amount, when pass 2 then found that
    ledger line's real payment: the reference was reused on another amount, and the real debit is
    the payment. ``bank_mismatch`` holds, per ledger line, the statement line of its primary bank
    link if that link is an ``amount_mismatch`` (else null)."""
    paid = pairs.filter(pl.col("status") == STATUS_CODE["matched"])["lid"]
    return bank_mismatch.gather(paid).drop_nulls()


def bank_mismatch_links(p1: pl.DataFrame, n: int, into: pl.Series | None = None) -> pl.Series:
    """Per ledger line (``n`` of them), the statement line of its primary bank link when that link
    is an ``amount_mismatch`` (see ``reused_references``); written into ``into`` if given."""
    out = into if into is not None else pl.repeat(None, n, dtype=pl.UInt32, eager=True)
    links = p1.filter(
        pl.col("primary")
        & ~pl.col("gateway")
        & ~pl.col("link_return")
        & (pl.col("status") == STATUS_CODE["amount_mismatch"])
    )
    out.scatter(links["lid"], links["sid"])
    return out


def pass_batch(
    s: pl.DataFrame, batch_ids: pl.Series, taken_sids: list[pl.Series]
) -> tuple[pl.DataFrame, pl.Series]:
    """Pass 3: bank lines against gateway batches. Returns (sid, batch_id, status code) of the bank
    lines that name a batch, and for every statement line the status code its batch gives a gateway
    row matched to the ledger (``matched`` / ``amount_mismatch``; ``timing`` when the batch is not on
    the statement; null for lines without a batch)."""
    gateway = (
        s.lazy()
        .with_columns(batch_id=batch_ids)
        .filter(pl.col("gateway") & pl.col("batch_id").is_not_null())
        .select("sid", "credit", "amount", "fee", "batch_id", **reference_keys("batch_id", "b"))
    ).collect()
    taken = _mask(s.height, pl.concat(taken_sids))
    bank = (
        s.lazy()
        .with_columns(taken=taken)
        .filter(
            ~pl.col("taken")
            & ~pl.col("gateway")
            & pl.col("is_transfer")
            & pl.col("r1").is_not_null()
        )
        .select("sid", "credit", "value_date", "amount", "r1", "r2")
    )
    decided, rows = batch_core(gateway, bank)
    row_status = pl.repeat(None, s.height, dtype=pl.UInt8, eager=True)
    row_status.scatter(rows["sid"], rows["status"])
    return decided.select("sid", "batch_id", "status", "agreed"), row_status


def batch_core(gateway: pl.DataFrame, bank: pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pass 3 on its candidates: gateway rows (sid, credit, amount, fee, batch_id, b1, b2) against
    bank lines (sid, credit, value_date, amount, r1, r2). Returns the decided bank lines (sid,
    batch_id, status, ...) and each gateway row's batch status (sid, status)."""
    batches = (
        gateway.lazy()
        .group_by("b1", "b2", "credit")
        .agg(
            batch_id=pl.col("batch_id").first(),
            total=pl.when(pl.col("credit"))
            .then(pl.col("amount") - pl.col("fee"))
            .otherwise(pl.col("amount") + pl.col("fee"))
            .sum(),
        )
    )
    pairs = bank.join(
        batches, left_on=["r1", "r2", "credit"], right_on=["b1", "b2", "credit"], how="inner"
    ).with_columns(amount_ok=pl.col("amount") == pl.col("total"))
    ranked = _rank(
        pairs, ["r1", "credit"], [~pl.col("amount_ok"), pl.col("value_date"), pl.col("sid")]
    )
    decided = ranked.with_columns(
        status=pl.when(pl.col("rank") > 0)
        .then(status_code("duplicate"))
        .when(pl.col("amount_ok"))
        .then(status_code("matched"))
        .otherwise(status_code("amount_mismatch")),
        agreed=(
            pl.lit(AGREED["reference"])
            + pl.when(pl.col("amount_ok")).then(AGREED["amount"]).otherwise(0)
        ).cast(pl.UInt8),
    ).collect()
    found = decided.filter(pl.col("rank") == 0).select(
        b1="r1", b2="r2", credit="credit", batch_status="status"
    )
    rows = gateway.join(found, on=["b1", "b2", "credit"], how="left").select(
        "sid", status=pl.coalesce("batch_status", status_code("timing"))
    )
    return decided, rows


def reconcile(
    statement: pl.DataFrame | pl.LazyFrame,
    ledger: pl.DataFrame | pl.LazyFrame,
    params: Params,
    progress: Progress | None = None,
) -> Result:
    """Run every pass and classify every line of both sides."""
    say = progress or (lambda _message: None)
    st = statement.collect() if isinstance(statement, pl.LazyFrame) else statement
    ld = ledger.collect() if isinstance(ledger, pl.LazyFrame) else ledger
    say(f"preparing {st.height} statement lines and {ld.height} ledger lines")
    s, lg = _prepare(st, ld)
    say("pass 1: references")
    p1 = pass_reference(s, lg)
    say("pass 2: amount + account within the date window")
    p2, unsure_s, unsure_l = pass_amount_account(s, lg, p1, params.window_days)
    reused = reused_references(bank_mismatch_links(p1, lg.height), p2)
    say("pass 3: gateway batches")
    p3, batch_of_row = pass_batch(s, st["batch_id"], [p1["sid"], p2["sid"], unsure_s["sid"]])
    say("classifying")
    s_status, s_pass, s_lid, s_batch, s_agreed = _classify_statement(
        s, p1, p2, unsure_s, p3, batch_of_row, reused
    )
    l_status, l_pass, l_sid = _classify_ledger(lg, p1, p2, unsure_l, batch_of_row, params)
    statuses = pl.Series(STATUSES, dtype=STATUS_ENUM)
    passes = pl.Series(PASSES, dtype=PASS_ENUM)
    statement_rows = st.with_columns(
        status=statuses.gather(s_status),
        match_pass=passes.gather(s_pass),
        ledger_row=s_lid,
        matched_batch=s_batch,
        agreed=agreed_text(s_agreed),
    )
    ledger_rows = ld.rename({"status": "ledger_status"}).with_columns(
        status=statuses.gather(l_status),
        match_pass=passes.gather(l_pass),
        statement_row=l_sid,
        agreed=agreed_text(s_agreed.gather(l_sid)),
    )
    say("done")
    return Result(statement_rows, ledger_rows)


def _decided(links: pl.DataFrame, batch_of_row: pl.Series) -> pl.Series:
    """Status codes of pass-1 links: a gateway row matched to the ledger is only ``matched`` when its
    batch is on the statement with the right total."""
    batch = batch_of_row.gather(links["sid"])
    return links.select(
        pl.when(pl.col("gateway") & (pl.col("status") == STATUS_CODE["matched"]))
        .then(pl.coalesce(batch, status_code("matched")))
        .otherwise(pl.col("status"))
    ).to_series()


def _classify_statement(
    s: pl.DataFrame,
    p1: pl.DataFrame,
    p2: pl.DataFrame,
    unsure: pl.DataFrame,
    p3: pl.DataFrame,
    batch_of_row: pl.Series,
    reused: pl.Series,
) -> tuple[pl.Series, pl.Series, pl.Series, pl.Series, pl.Series]:
    """Dense per-line columns in statement order: status code, pass code, lid, matched batch,
    agreed bits. The default comes from the line's kind; each pass then writes over the lines it
    decided, the strongest pass last."""
    n = s.height
    status = s.select(
        unpaired_statement(pl.col("gateway"), pl.col("is_fee"), pl.col("is_return"))
    ).to_series()
    passed = pl.repeat(PASS_CODE["classify"], n, dtype=pl.UInt8, eager=True)
    lid = pl.repeat(None, n, dtype=pl.UInt32, eager=True)
    batch = pl.repeat(None, n, dtype=pl.String, eager=True)
    agreed = pl.repeat(None, n, dtype=pl.UInt8, eager=True)
    status.scatter(p3["sid"], p3["status"])
    passed.scatter(p3["sid"], PASS_CODE["batch"])
    batch.scatter(p3["sid"], p3["batch_id"])
    agreed.scatter(p3["sid"], p3["agreed"])
    status.scatter(p2["sid"], p2["status"])
    passed.scatter(p2["sid"], PASS_CODE["amount_account"])
    lid.scatter(p2["sid"], p2["lid"])
    agreed.scatter(p2["sid"], p2["agreed"])
    status.scatter(unsure["sid"], STATUS_CODE["ambiguous"])
    passed.scatter(unsure["sid"], PASS_CODE["amount_account"])
    agreed.scatter(unsure["sid"], AMBIGUOUS_AGREED)
    status.scatter(p1["sid"], _decided(p1, batch_of_row))
    passed.scatter(p1["sid"], PASS_CODE["reference"])
    lid.scatter(p1["sid"], p1["lid"])
    agreed.scatter(p1["sid"], p1["agreed"])
    status.scatter(reused, STATUS_CODE["reference_reused"])
    return status, passed, lid, batch, agreed


def _classify_ledger(
    lg: pl.DataFrame,
    p1: pl.DataFrame,
    p2: pl.DataFrame,
    unsure: pl.DataFrame,
    batch_of_row: pl.Series,
    params: Params,
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """Dense per-line columns in ledger order: status code, pass code, sid of the matching line.
    Unmatched lines are ``timing`` when expected within the window before the cut-off; links are
    then written weakest first (gateway row, bank line, the amount + account pass, return): pass 2
    only sees ledger lines no reference settled, so its answer (the real payment, or ``ambiguous``)
    overrides a bank line that named them with another amount or payee."""
    n = lg.height
    cutoff = params.period_end - timedelta(days=params.window_days)
    status = lg.select(unpaired_ledger(pl.col("expected_on"), cutoff)).to_series()
    passed = pl.repeat(PASS_CODE["classify"], n, dtype=pl.UInt8, eager=True)
    sid = pl.repeat(None, n, dtype=pl.UInt32, eager=True)
    primary = p1.filter(pl.col("primary"))
    # Within each group a ledger line appears once (pass 1 ranks per ledger line, source and kind
    # of link; pass 2 pairs one to one).
    for links in (
        primary.filter(pl.col("gateway")),
        primary.filter(~pl.col("gateway") & ~pl.col("link_return")),
    ):
        status.scatter(links["lid"], _decided(links, batch_of_row))
        passed.scatter(links["lid"], PASS_CODE["reference"])
        sid.scatter(links["lid"], links["sid"])
    status.scatter(p2["lid"], p2["status"])
    passed.scatter(p2["lid"], PASS_CODE["amount_account"])
    sid.scatter(p2["lid"], p2["sid"])
    status.scatter(unsure["lid"], STATUS_CODE["ambiguous"])
    passed.scatter(unsure["lid"], PASS_CODE["amount_account"])
    sid.scatter(unsure["lid"], None)
    back = primary.filter(pl.col("link_return"))
    status.scatter(back["lid"], _decided(back, batch_of_row))
    passed.scatter(back["lid"], PASS_CODE["reference"])
    sid.scatter(back["lid"], back["sid"])
    return status, passed, sid


def scope_ledger(
    ledger: pl.DataFrame | pl.LazyFrame,
    period_start: date,
    period_end: date,
    *,
    paid_in: pl.Series | None = None,
    window_days: int = 0,
) -> pl.LazyFrame:
    """The ledger lines a statement of ``[period_start, period_end]`` should account for: money
    that moved or may move (not failed or cancelled), expected by the end of the period, and not
    already settled before the period began (those were on an earlier statement).

    A receipt reaches the RKUD after the ledger recorded it: Midtrans pays a day's QRIS and virtual
    account receipts into the RKUD the next day (over a weekend, later). So a receipt received up
    to ``window_days`` before the period is in it too when a credit of the period names it
    (``paid_in``: the references of the statement lines and settlement rows that put money in):
    the period's settlement report lists it and the settlement batch on the statement pays it."""
    expected = expected_on()
    in_period = (
        ~pl.col("status").is_in(["failed", "cancelled"])
        & (expected <= period_end)
        & ~(pl.col("settled_on").is_not_null() & (pl.col("settled_on") < period_start))
    )
    if paid_in is not None and window_days > 0:
        earliest = period_start - timedelta(days=window_days)
        paid_late = (
            (pl.col("kind") == "receipt")
            & (pl.col("status") == "received")
            & pl.col("settled_on").is_between(earliest, period_start, closed="left")
            & pl.col("order_id").is_in(paid_in.drop_nulls().unique().implode())
        )
        in_period = in_period | paid_late
    return ledger.lazy().filter(in_period)
