"""KKPD (Kartu Kredit Pemerintah Daerah, Permendagri 79/2022): the issuing BPD's card statement
matched to the bendahara's SPJ entries, its bill payments to the ledger's, and the limits checked.

The frame contract (the ledger side produces the last four; ``validate`` checks any of them):

``SPJ``: one row per SPJ entry paid by card; ``CARDS``: one row per registered card (its limit is
the kepala daerah's decision); ``SKPD_LIMITS``: the UP-KKPD ceiling of each SKPD; ``BILL_PAYMENTS``:
the card bills the bendahara paid from the UP. ``CARD_STATEMENT`` is what the statement reader
(``readers.kkpd_csv``) gives. A card is known everywhere by one normal form, ``<kode bank>:<last 4
digits>`` (``110:1234``): the bank writes it masked (``5264-xxxx-xxxx-1234``), the bendahara as she
finds it on the slip; ``card_key`` turns either into the normal form.

Matching, in Polars (joins, one sort, rounds of mutual best choice; no loop over rows):

1. **authorisation**: a purchase and an SPJ entry of the same card with the same authorisation code
   (kode otorisasi) pair; equal amounts are ``matched``, other amounts ``amount_mismatch``.
2. **card_amount_date**: the purchases and SPJ entries left, of the same card and amount, whose
   dates are at most ``window_days`` apart, pair: ``matched`` (those of the same day first).
3. **bill**: a bill payment received on the statement pairs with a ledger bill payment of the same
   card and amount paid at most ``window_days`` before it was posted: ``matched``.

Each row pairs at most once: among the candidates, the pair that is the best for both rows (the
equal amount first, then the nearest date, then the first row) is taken, round after round, so a
shuffled input gives the same pairs. The rest is classified: a purchase with no SPJ entry is
``kkpd_pending`` for ``no_spj_days`` days after the transaction, then ``kkpd_no_spj``; refunds are
``kkpd_refund``, interest and late charges ``kkpd_interest``, card fees ``fee``; a bill payment of
either side with no partner is ``kkpd_bill_unmatched`` (a ledger payment within the window before
the statement's last day is ``timing``); an SPJ entry with no purchase is
``kkpd_spj_without_card`` (``timing`` within the window before the statement's last day).

Limits (``breaches``): a purchase above ``payee_ceiling`` (``kkpd_over_payee_ceiling``), a card whose
outstanding (purchases, fees and interest less refunds and payments, at the end of each posting
day) passes its limit (``kkpd_card_over_limit``), an SKPD whose cards together pass its ceiling
(``kkpd_skpd_over_limit``), a card on the statement that is not registered
(``kkpd_card_unregistered``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from ledger.reconciliation import inputs_digest
from reconciliation.errors import StatementError
from reconciliation.record import Record

# -- the contract --------------------------------------------------------------------------------
SPJ = pl.Schema(
    {
        "spj_id": pl.String,  # unique
        "skpd": pl.String,  # normalised SKPD code
        "card": pl.String,  # normal form (``card_key``)
        "spent_on": pl.Date,
        "amount": pl.Int64,  # rupiah, > 0
        "merchant": pl.String,
        "reference": pl.String,  # the authorisation code of the card slip; null if not recorded
        "line_id": pl.String,  # the budget line charged
    }
)
CARDS = pl.Schema({"card": pl.String, "skpd": pl.String, "limit": pl.Int64})
SKPD_LIMITS = pl.Schema({"skpd": pl.String, "limit": pl.Int64})
BILL_PAYMENTS = pl.Schema(
    {"payment_id": pl.String, "card": pl.String, "paid_on": pl.Date, "amount": pl.Int64}
)
CARD_STATEMENT = pl.Schema(
    {
        "file": pl.String,
        "line_no": pl.Int64,
        "transacted_on": pl.Date,
        "posted_on": pl.Date,
        "card": pl.String,  # normal form
        "card_masked": pl.String,  # as the bank wrote it
        "merchant": pl.String,
        "authorisation": pl.String,  # trimmed, upper case; null if absent
        "remark": pl.String,
        "kind": pl.String,  # purchase | refund | payment | fee | interest
        "direction": pl.String,  # D: owed to the bank more; C: owed less
        "amount": pl.Int64,  # positive rupiah
    }
)
KINDS = ("purchase", "refund", "payment", "fee", "interest")
ROW_STATUSES = (
    "matched",
    "amount_mismatch",
    "kkpd_pending",
    "kkpd_no_spj",
    "kkpd_refund",
    "kkpd_interest",
    "fee",
    "kkpd_bill_unmatched",
    "kkpd_spj_without_card",
    "timing",
)
BREACHES = (
    "kkpd_over_payee_ceiling",
    "kkpd_card_over_limit",
    "kkpd_skpd_over_limit",
    "kkpd_card_unregistered",
)
# Not exceptions: paired rows, card fees, purchases still inside their SPJ time, rows in transit;
# an SPJ entry's amount mismatch is its purchase's exception (which names both).
NOT_EXCEPTIONS = frozenset({"matched", "fee", "kkpd_pending", "timing"})
EXCEPTION = pl.Schema(
    {
        "id": pl.String,
        "status": pl.String,
        "amount": pl.Int64,
        "reference": pl.String,
        "detail": pl.String,
    }
)
MAX_ID = 64  # ledger.fields.MAX_NUMBER


@dataclass(frozen=True, slots=True)
class Params:
    as_of: date  # the business date: how old a purchase without SPJ is
    window_days: int = 3  # card and SPJ dates, or bill paid and posted, at most this far apart
    no_spj_days: int = 30  # a purchase without SPJ is an exception after this many days
    payee_ceiling: int = 200_000_000  # per payee per transaction (Permendagri 79/2022 Pasal 19)

    @classmethod
    def of(cls, as_of: date, table: Mapping[str, Any]) -> Params:
        """From the ``[kkpd]`` thresholds table (``audit/thresholds.toml``)."""
        values = {k: table[k] for k in ("window_days", "no_spj_days", "payee_ceiling")}
        assert all(type(v) is int and v >= 0 for v in values.values()), values
        return cls(as_of=as_of, **values)


def card_key(card: pl.Expr, bank_code: str) -> pl.Expr:
    """The normal form ``<kode bank>:<last 4 digits>`` of a card number however it is written
    (``5264-xxxx-xxxx-1234``, ``526412******1234``, ``1234``); a text already in normal form stays;
    null without four digits. The kode bank is the issuing BPD's (one statement, one issuer)."""
    text = card.str.strip_chars()
    last4 = text.str.replace_all(r"\D", "").str.slice(-4)
    return (
        pl.when(text.str.contains(r"^\d{3}:\d{4}$"))
        .then(text)
        .when(last4.str.len_chars() == 4)
        .then(pl.lit(f"{bank_code}:") + last4)
    )


Frame = pl.DataFrame | pl.LazyFrame


def validate(frame: Frame, schema: pl.Schema, what: str) -> pl.DataFrame:
    """``frame`` collected, in the contract's ``schema`` (columns in its order; extra columns are
    dropped); a missing column, another type, a null key or a non-positive amount is refused."""
    found = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    wrong = [f"{n} ({found.get(n, 'missing')}, expected {t})" for n, t in schema.items()
             if found.get(n) != t]  # fmt: skip
    if wrong:
        raise StatementError(what, 0, f"not the KKPD {what} contract: {', '.join(wrong)}")
    data = frame.lazy().select(list(schema)).collect()
    keys = [n for n in schema if n not in ("reference", "merchant", "authorisation", "remark")]
    money = [n for n in ("amount", "limit") if n in schema]
    bad = data.with_row_index("_i", offset=1).filter(
        pl.any_horizontal(pl.col(keys).is_null())
        | pl.any_horizontal(pl.col(m) <= (0 if m == "amount" else -1) for m in money)
    )
    if bad.height:
        raise StatementError(what, int(bad["_i"][0]), "a required field is empty or an amount <= 0")
    unique = {
        "spj": "spj_id",
        "cards": "card",
        "skpd limits": "skpd",
        "bill payments": "payment_id",
    }
    key = unique.get(what)
    if key is not None and data[key].is_duplicated().any():
        twice = data.filter(pl.col(key).is_duplicated())[key][0]
        raise StatementError(what, 0, f"{key} {twice!r} appears twice")
    return data


@dataclass(frozen=True, slots=True)
class KkpdResult:
    """Every row with its status: ``statement`` (CARD_STATEMENT + status, match_pass, spj_id,
    payment_id, expected, selisih, days_open, skpd), ``spj`` (SPJ + status, match_pass, file,
    line_no), ``payments`` (BILL_PAYMENTS + status, file, line_no) and ``breaches`` (in the shape
    of an exception: id, status, amount, reference, detail)."""

    statement: pl.DataFrame
    spj: pl.DataFrame
    payments: pl.DataFrame
    breaches: pl.DataFrame
    period_end: date | None  # the statement's last posting day

    def counts(self) -> dict[str, dict[str, int]]:
        out = {}
        for side, frame in (("statement", self.statement), ("spj", self.spj),
                            ("payments", self.payments), ("breach", self.breaches)):  # fmt: skip
            found = dict(frame.group_by("status").len().iter_rows())
            names = BREACHES if side == "breach" else ROW_STATUSES
            out[side] = {s: int(found.get(s, 0)) for s in names}
        return out

    def amounts(self) -> dict[str, dict[str, int]]:
        out = {}
        for side, frame in (("statement", self.statement), ("spj", self.spj),
                            ("payments", self.payments)):  # fmt: skip
            found = dict(frame.group_by("status").agg(pl.col("amount").sum()).iter_rows())
            out[side] = {s: int(found.get(s, 0)) for s in ROW_STATUSES}
        return out


def pair(candidates: pl.DataFrame) -> pl.DataFrame:
    """One-to-one pairs (a, b) from candidate (a, b, cost) rows: in each round every row takes its
    cheapest partner (ties: the smaller id), and the pairs that chose each other are kept and leave
    the contest. The globally cheapest pair always chooses itself, so every round pairs something;
    rounds stop when no candidate is left. The result does not depend on the input order."""
    found: list[pl.DataFrame] = []
    left = candidates.select("a", "b", "cost").sort("cost", "a", "b")
    while left.height:
        by_a = left.unique("a", keep="first", maintain_order=True).select("a", "b")
        by_b = left.unique("b", keep="first", maintain_order=True).select("a", "b")
        mutual = by_a.join(by_b, on=["a", "b"], how="semi")
        found.append(mutual)
        left = left.filter(~pl.col("a").is_in(mutual["a"].implode())).filter(
            ~pl.col("b").is_in(mutual["b"].implode())
        )
    return pl.concat(found) if found else pl.DataFrame(schema={"a": pl.UInt32, "b": pl.UInt32})


def _days(a: str, b: str) -> pl.Expr:
    return (pl.col(a) - pl.col(b)).dt.total_days().abs()


def _pass_authorisation(purchases: pl.LazyFrame, spj: pl.LazyFrame) -> pl.DataFrame:
    """(a: sid, b: lid, status) pairs of card + authorisation code."""
    candidates = (
        purchases.filter(pl.col("authorisation").is_not_null())
        .join(
            spj.filter(pl.col("reference").is_not_null()),
            left_on=["card", "authorisation"],
            right_on=["card", "reference"],
        )
        .select(
            a="sid",
            b="lid",
            same=pl.col("amount") == pl.col("amount_right"),
            cost=(pl.col("amount") != pl.col("amount_right")).cast(pl.Int64) * (1 << 32)
            + _days("transacted_on", "spent_on"),
        )
        .collect()
    )
    pairs = pair(candidates)
    return pairs.join(candidates.select("a", "b", "same"), on=["a", "b"]).select(
        "a",
        "b",
        status=pl.when("same").then(pl.lit("matched")).otherwise(pl.lit("amount_mismatch")),
        match_pass=pl.lit("authorisation"),
    )


def _rank(frame: pl.LazyFrame, group: list[str], order: str) -> pl.LazyFrame:
    """``rank`` (0, 1, ...) of each row within ``group`` by ``order``. Most groups have one row:
    they get 0 from a cheap duplicate check; only the rest are ranked with a window."""
    marked = frame.with_columns(_many=pl.struct(group).is_duplicated())
    single = marked.filter(~pl.col("_many")).with_columns(rank=pl.lit(0, pl.Int64))
    many = marked.filter(pl.col("_many")).with_columns(
        rank=pl.int_range(pl.len(), dtype=pl.Int64).over(group, order_by=order)
    )
    return pl.concat([single, many]).drop("_many")


def _pass_amount_date(
    purchases: pl.LazyFrame, spj: pl.LazyFrame, taken: pl.DataFrame, window: int
) -> pl.DataFrame:
    """(a: sid, b: lid, status) pairs of card + amount within the date window, among rows pass 1
    left. Rows of the same card, amount and day pair first, n-th with n-th in key order (a card
    that pays the same parking fee twenty times a day would otherwise give 400 candidates and
    twenty rounds); the rest compete within the window."""
    day = ["card", "amount", "on"]
    left = purchases.join(taken.lazy().select(sid="a"), on="sid", how="anti")
    left = _rank(left.select("sid", "card", "amount", on="transacted_on"), day, "sid")
    open_ = spj.join(taken.lazy().select(lid="b"), on="lid", how="anti")
    open_ = _rank(open_.select("lid", "card", "amount", on="spent_on"), day, "lid")
    same_day = left.join(open_, on=[*day, "rank"]).select(a="sid", b="lid").collect()
    candidates = (
        left.join(same_day.lazy().select(sid="a"), on="sid", how="anti")
        .join(
            open_.join(same_day.lazy().select(lid="b"), on="lid", how="anti"), on=["card", "amount"]
        )
        .select(a="sid", b="lid", cost=_days("on", "on_right"))
        .filter(pl.col("cost") <= window)
        .collect()
    )
    return pl.concat([same_day, pair(candidates)]).with_columns(
        status=pl.lit("matched"), match_pass=pl.lit("card_amount_date")
    )


def _pass_bill(bills: pl.LazyFrame, payments: pl.LazyFrame, window: int) -> pl.DataFrame:
    """(a: sid, b: pid) pairs of a bill payment posted on the statement and one in the ledger."""
    candidates = (
        bills.join(payments, on=["card", "amount"])
        .select(a="sid", b="pid", cost=(pl.col("posted_on") - pl.col("paid_on")).dt.total_days())
        .filter(pl.col("cost").is_between(0, window))
        .collect()
    )
    return pair(candidates).with_columns(status=pl.lit("matched"), match_pass=pl.lit("bill"))


def reconcile_kkpd(
    statement: Frame,
    spj: Frame,
    cards: Frame,
    skpd_limits: Frame,
    payments: Frame,
    params: Params,
) -> KkpdResult:
    """Match a card statement (``CARD_STATEMENT``) against the ledger side's frames (DataFrames or
    LazyFrames in the contract) and check the limits."""
    # Rows are numbered in key order, so ties break the same way whatever order they came in.
    rows = validate(statement, CARD_STATEMENT, "statement").sort("file", "line_no")
    rows = rows.with_row_index("sid")
    entries = validate(spj, SPJ, "spj").sort("spj_id").with_row_index("lid")
    paid = validate(payments, BILL_PAYMENTS, "bill payments").sort("payment_id")
    paid = paid.with_row_index("pid")
    registered = validate(cards, CARDS, "cards")
    ceilings = validate(skpd_limits, SKPD_LIMITS, "skpd limits")
    purchases = rows.lazy().filter(pl.col("kind") == "purchase")
    p1 = _pass_authorisation(purchases, entries.lazy())
    p2 = _pass_amount_date(purchases, entries.lazy(), p1, params.window_days)
    p3 = _pass_bill(
        rows.lazy().filter(pl.col("kind") == "payment"), paid.lazy(), params.window_days
    )
    card_links = pl.concat([p1, p2])
    period_end = rows["posted_on"].max()
    end = period_end if isinstance(period_end, date) else params.as_of
    skpd_of = registered.select("card", "skpd")
    statement_out = _statement_rows(rows, entries, paid, card_links, p3, skpd_of, params)
    spj_out = _spj_rows(rows, entries, card_links, end, params.window_days)
    payments_out = _payment_rows(rows, paid, p3, end, params.window_days)
    breaches = _breaches(statement_out, registered, ceilings, params)
    return KkpdResult(statement_out, spj_out, payments_out, breaches, period_end)  # type: ignore[arg-type]


def _statement_rows(
    rows: pl.DataFrame,
    entries: pl.DataFrame,
    paid: pl.DataFrame,
    card_links: pl.DataFrame,
    bill_links: pl.DataFrame,
    skpd_of: pl.DataFrame,
    params: Params,
) -> pl.DataFrame:
    days_open = (pl.lit(params.as_of) - pl.col("transacted_on")).dt.total_days()
    kind = pl.col("kind")
    status = (
        pl.when(pl.col("_status").is_not_null())
        .then(pl.col("_status"))
        .when(kind == "purchase")
        .then(
            pl.when(days_open > params.no_spj_days)
            .then(pl.lit("kkpd_no_spj"))
            .otherwise(pl.lit("kkpd_pending"))
        )
        .when(kind == "refund")
        .then(pl.lit("kkpd_refund"))
        .when(kind == "interest")
        .then(pl.lit("kkpd_interest"))
        .when(kind == "fee")
        .then(pl.lit("fee"))
        .otherwise(pl.lit("kkpd_bill_unmatched"))
    )
    links = pl.concat(
        [
            card_links.join(entries.select(b="lid", _spj_id="spj_id", _expected="amount"), on="b"),
            bill_links.join(paid.select(b="pid", _payment_id="payment_id"), on="b"),
        ],
        how="diagonal",
    ).rename({"a": "sid", "status": "_status"})
    return (
        rows.join(links.drop("b"), on="sid", how="left")
        .join(skpd_of, on="card", how="left")
        .sort("sid")
        .select(
            *CARD_STATEMENT,
            status=status,
            match_pass=pl.col("match_pass"),
            spj_id=pl.col("_spj_id"),
            payment_id=pl.col("_payment_id"),
            expected=pl.col("_expected"),
            selisih=pl.col("amount") - pl.col("_expected"),
            days_open=pl.when((kind == "purchase") & pl.col("_status").is_null()).then(days_open),
            skpd=pl.col("skpd"),
        )
    )


def _spj_rows(
    rows: pl.DataFrame, entries: pl.DataFrame, links: pl.DataFrame, end: date, window: int
) -> pl.DataFrame:
    late = (pl.lit(end) - pl.col("spent_on")).dt.total_days() < window
    where = rows.select(a="sid", file="file", line_no="line_no")
    return (
        entries.join(links.join(where, on="a").rename({"b": "lid"}), on="lid", how="left")
        .sort("lid")
        .select(
            *SPJ,
            status=pl.when(pl.col("status").is_not_null())
            .then(pl.col("status"))
            .when(late)
            .then(pl.lit("timing"))
            .otherwise(pl.lit("kkpd_spj_without_card")),
            match_pass=pl.col("match_pass"),
            file="file",
            line_no="line_no",
        )
    )


def _payment_rows(
    rows: pl.DataFrame, paid: pl.DataFrame, links: pl.DataFrame, end: date, window: int
) -> pl.DataFrame:
    late = (pl.lit(end) - pl.col("paid_on")).dt.total_days() < window
    where = rows.select(a="sid", file="file", line_no="line_no")
    return (
        paid.join(links.join(where, on="a").rename({"b": "pid"}), on="pid", how="left")
        .sort("pid")
        .select(
            *BILL_PAYMENTS,
            status=pl.when(pl.col("status").is_not_null())
            .then(pl.col("status"))
            .when(late)
            .then(pl.lit("timing"))
            .otherwise(pl.lit("kkpd_bill_unmatched")),
            file="file",
            line_no="line_no",
        )
    )


def _peaks(statement: pl.DataFrame, by: str) -> pl.LazyFrame:
    """Per ``by`` (card or skpd), the highest outstanding at the end of a posting day and that day:
    debits owe the bank more, credits (refunds, payments) less, from zero at the statement's start."""
    signed = pl.when(pl.col("direction") == "D").then("amount").otherwise(-pl.col("amount"))
    return (
        statement.lazy()
        .filter(pl.col(by).is_not_null())
        .group_by(by, "posted_on")
        .agg(day=signed.sum())
        .sort(by, "posted_on")
        .with_columns(outstanding=pl.col("day").cum_sum().over(by))
        .sort(by, "outstanding", "posted_on", descending=[False, True, False])
        .group_by(by, maintain_order=True)
        .first()
        .select(by, "posted_on", "outstanding")
    )


def _breaches(
    statement: pl.DataFrame, cards: pl.DataFrame, ceilings: pl.DataFrame, params: Params
) -> pl.DataFrame:
    name = pl.col("file").str.extract(r"([^/\\]*)$")
    over_payee = statement.lazy().filter(
        (pl.col("kind") == "purchase") & (pl.col("amount") > params.payee_ceiling)
    ).select(
        id=pl.concat_str(name, pl.lit(":"), pl.col("line_no").cast(pl.String), pl.lit("/payee")),
        status=pl.lit("kkpd_over_payee_ceiling"),
        amount="amount",
        reference="authorisation",
        detail=pl.format(
            "side=card card={} ceiling={} posted={} merchant={}",
            "card", pl.lit(params.payee_ceiling), "posted_on", pl.col("merchant").fill_null(""),
        ),
    )  # fmt: skip
    over_card = (
        _peaks(statement, "card")
        .join(cards.lazy(), on="card")
        .filter(pl.col("outstanding") > pl.col("limit"))
        .select(
            id=pl.concat_str(pl.lit("card:"), "card"),
            status=pl.lit("kkpd_card_over_limit"),
            amount="outstanding",
            reference=pl.lit(None, pl.String),
            detail=pl.format("side=card card={} skpd={} limit={} on={}",
                             "card", "skpd", "limit", "posted_on"),
        )
    )  # fmt: skip
    over_skpd = (
        _peaks(statement, "skpd")
        .join(ceilings.lazy(), on="skpd")
        .filter(pl.col("outstanding") > pl.col("limit"))
        .select(
            id=pl.concat_str(pl.lit("skpd:"), "skpd"),
            status=pl.lit("kkpd_skpd_over_limit"),
            amount="outstanding",
            reference=pl.lit(None, pl.String),
            detail=pl.format("side=skpd skpd={} limit={} on={}", "skpd", "limit", "posted_on"),
        )
    )
    unregistered = (
        statement.lazy()
        .filter(pl.col("skpd").is_null())
        .group_by("card")
        .agg(amount=pl.col("amount").sum(), lines=pl.len(), first=pl.col("line_no").min())
        .select(
            id=pl.concat_str(pl.lit("card:"), "card"),
            status=pl.lit("kkpd_card_unregistered"),
            amount="amount",
            reference=pl.lit(None, pl.String),
            detail=pl.format("side=card card={} lines={} first_line={}", "card", "lines", "first"),
        )
    )
    frames = [over_payee, over_card, over_skpd, unregistered]
    return pl.concat(frames).sort("status", "id").collect().cast(dict(EXCEPTION))  # type: ignore[arg-type]


def exceptions(result: KkpdResult) -> pl.DataFrame:
    """Every exception of a run, in the shape ``RecordReconciliation`` records (EXCEPTION): the
    statement's rows as ``<file name>:<line>``, SPJ entries as ``spj:<id>``, ledger bill payments
    as ``bill:<id>``, then the breaches. ``detail`` ends with ``merchant=`` (free text)."""
    name = pl.col("file").str.extract(r"([^/\\]*)$")
    statement = result.statement.lazy().filter(~pl.col("status").is_in(list(NOT_EXCEPTIONS)))
    statement = statement.select(
        id=pl.concat_str(name, pl.lit(":"), pl.col("line_no").cast(pl.String)),
        status="status",
        amount="amount",
        reference="authorisation",
        detail=pl.concat_str(
            pl.format("side=card kind={} card={} transacted={} posted={}",
                      "kind", "card", "transacted_on", "posted_on"),
            pl.concat_str(pl.lit(" days="), pl.col("days_open").cast(pl.String)).fill_null(""),
            pl.concat_str(pl.lit(" skpd="), "skpd").fill_null(""),
            pl.concat_str(pl.lit(" spj="), "spj_id").fill_null(""),
            pl.format(" expected={} selisih={}", "expected", "selisih").fill_null(""),
            pl.concat_str(pl.lit(" merchant="), "merchant").fill_null(""),
        ),
    )  # fmt: skip
    entries = result.spj.lazy().filter(
        ~pl.col("status").is_in([*NOT_EXCEPTIONS, "amount_mismatch"])
    )
    entries = entries.select(
        id=pl.concat_str(pl.lit("spj:"), "spj_id"),
        status="status",
        amount="amount",
        reference="reference",
        detail=pl.format("side=spj card={} skpd={} spent={} line={} merchant={}",
                         "card", "skpd", "spent_on", "line_id", "merchant"),
    )  # fmt: skip
    bills = result.payments.lazy().filter(~pl.col("status").is_in(list(NOT_EXCEPTIONS)))
    bills = bills.select(
        id=pl.concat_str(pl.lit("bill:"), "payment_id"),
        status="status",
        amount="amount",
        reference=pl.lit(None, pl.String),
        detail=pl.format("side=ledger card={} paid={}", "card", "paid_on"),
    )
    found = pl.concat([statement, entries, bills, result.breaches.lazy()]).collect()
    found = found.with_columns(
        pl.col("reference").str.replace_all(r"[\x00-\x1f\x7f]", " ").str.slice(0, 200),
        pl.col("detail").str.replace_all(r"[\x00-\x1f\x7f]", " ").str.slice(0, 1_000),
    )
    too_long = found.filter(pl.col("id").str.len_chars() > MAX_ID)
    if too_long.height:
        raise StatementError("exceptions", 0, f"id {too_long['id'][0]!r} is over {MAX_ID} chars")
    return found.cast(dict(EXCEPTION))  # type: ignore[arg-type]


def frame_input(name: str, kind: str, frame: pl.DataFrame) -> dict[str, Any]:
    """A ledger-side frame as an input of the run: its SHA-256 over a canonical CSV (rows in key
    order), so the same SPJ entries give the same run whether read from a file or the ledger."""
    text = frame.sort(frame.columns[0]).write_csv()
    digest = hashlib.sha256(text.encode()).hexdigest()
    return {"name": name, "kind": kind, "sha256": digest, "rows": frame.height}


def parameters_input(params: Params, bank_code: str, profile: str) -> dict[str, Any]:
    """The run's parameters as one more input: other thresholds over the same files, another run."""
    text = (
        f"kkpd as_of {params.as_of.isoformat()} window {params.window_days} no_spj "
        f"{params.no_spj_days} ceiling {params.payee_ceiling} bank {bank_code} profile {profile}"
    )
    digest = hashlib.sha256(text.encode()).hexdigest()
    return {"name": text, "kind": "parameters", "sha256": digest, "rows": 0}


def build_record(result: KkpdResult, params: Params, inputs: list[dict[str, Any]]) -> Record:
    """What ``RecordReconciliation`` records of a KKPD run (``reconciliation.day.record_command``
    turns it into the command): business date = ``as_of``; counts ``<side>.<status>``."""
    counts = {
        f"{side}.{status}": n
        for side, found in result.counts().items()
        for status, n in found.items()
    }
    return Record(
        business_date=params.as_of.isoformat(),
        inputs=tuple(inputs),
        counts=counts,
        exceptions=tuple(exceptions(result).to_dicts()),
        inputs_digest=inputs_digest(inputs),
    )
