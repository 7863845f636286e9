"""Synthetic ground truth: a ledger, the RKUD statement and the Midtrans reports that go with it,
with differences of every kind planted, and the status every line must end with.

Vectorised (NumPy + Polars), so the benchmark can make 10M lines per side in seconds. Amounts are
unique per ledger line (``base + 1000 * i + noise``) and unmatched bank lines use accounts no vendor
has, so the right answer is exactly one: the tests demand it line for line.

Planted, per disbursement: paid with the SP2D number in the remark; paid without it (matched on
amount + account); paid through an Iris payout batch; paid a different amount; debited twice; paid
and returned; never paid and old (``unmatched_ledger``); never paid and recent (``timing``); paid
with the SP2D number and amount to another account (account substitution: ``account_mismatch``);
paid, plus another debit reusing its SP2D number on another amount (``reference_reused``), with
the real payment carrying the number or not; paid without the number next to a debit with no SP2D
of the same amount, account and day (which is which is a guess: ``ambiguous``). Per
receipt: settled in a Midtrans batch; missing from the report (old / recent). Per batch: settled
exactly, settled with a different total, not on the statement yet. Extra: gateway rows with no
ledger record, bank debits with no SP2D, bank fees and interest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from reconciliation.schema import LEDGER, STATEMENT

# Disbursement kinds and their shares.
(
    DIRECT,
    NOREF,
    PAYOUT,
    MISMATCH,
    DUPLICATE,
    RETURNED,
    OLD,
    RECENT,
    SUBSTITUTED,
    REUSED,
    REUSED_NOREF,
    AMBIGUOUS,
) = range(12)
DISBURSEMENT_SHARES = [0.66, 0.08, 0.10, 0.03, 0.02, 0.02, 0.025, 0.025, 0.01, 0.01, 0.01, 0.01]
# Paid without the SP2D number in the remark: found by amount + account.
_NO_REFERENCE = [NOREF, REUSED_NOREF, AMBIGUOUS]
# Receipt kinds.
SETTLED, MISSING_OLD, MISSING_RECENT = range(3)
RECEIPT_SHARES = [0.92, 0.04, 0.04]
# Batch fates.
BATCH_OK, BATCH_MISMATCH, BATCH_MISSING = range(3)
BATCH_SHARES = [0.9, 0.05, 0.05]
PAYOUT_BATCH = 40
SETTLEMENT_BATCH = 80


@dataclass(frozen=True, slots=True)
class Truth:
    """Inputs (canonical frames) and, in ``expected_*`` columns, the right answer."""

    bank: pl.DataFrame  # STATEMENT (source bank) + expected_status, expected_ledger_id
    gateway: pl.DataFrame  # STATEMENT (source gateway) + expected_status, expected_ledger_id
    ledger: pl.DataFrame  # LEDGER + expected_status
    period_end: date
    window_days: int

    def statement(self) -> pl.DataFrame:
        return pl.concat([self.bank, self.gateway]).select(STATEMENT.names())

    def ledger_input(self) -> pl.DataFrame:
        return self.ledger.select(LEDGER.names())

    def expected_statement(self) -> pl.DataFrame:
        return pl.concat([self.bank, self.gateway]).select("expected_status", "expected_ledger_id")


def _choice(rng: np.random.Generator, n: int, shares: list[float]) -> np.ndarray:
    p = np.asarray(shares, dtype=np.float64)
    return rng.choice(len(shares), size=n, p=p / p.sum())


def generate(
    rows: int,
    *,
    seed: int = 7,
    period_end: date = date(2026, 11, 21),
    window_days: int = 3,
    receipt_share: float = 0.2,
    bank_file: str = "rkud.csv",
    gateway_file: str = "midtrans.csv",
    payee_cases: bool = True,
) -> Truth:
    """About ``rows`` ledger lines and as many statement lines, with every difference planted.
    ``payee_cases=False`` plants no account substitution, reused reference or ambiguous pair
    (those disbursements are paid plainly): the benchmark's DuckDB and pandas versions of the
    passes predate those checks."""
    rng = np.random.default_rng(seed)
    n_r = int(rows * receipt_share)
    n_d = max(rows - n_r, 0)
    shares = list(DISBURSEMENT_SHARES)
    if not payee_cases:
        for kind in (SUBSTITUTED, REUSED, REUSED_NOREF, AMBIGUOUS):
            shares[DIRECT] += shares[kind]
            shares[kind] = 0.0
    d = _disbursements(rng, n_d, period_end, window_days, shares)
    r = _receipts(rng, n_r, period_end, window_days, offset=n_d)
    payout_rows, payout_bank = _batches(
        rng, d.filter(pl.col("_cat") == PAYOUT), "D", period_end, n_r + n_d
    )
    settle_rows, settle_bank = _batches(
        rng, r.filter(pl.col("_cat") == SETTLED), "C", period_end, 2 * (n_r + n_d)
    )
    bank = pl.concat(
        [
            _direct_bank(rng, d, window_days, period_end),
            payout_bank,
            settle_bank,
            _noise(rng, rows, period_end),
        ],
        how="vertical",
    )
    # A statement is in date order; ties keep a random but fixed order (a second debit of one SP2D
    # comes after the first, so "the first is the payment, the next the duplicate" is the truth).
    bank = (
        bank.with_columns(_tie=pl.Series(rng.permutation(bank.height)))
        .sort("value_date", pl.col("expected_status") == "duplicate", "_tie")
        .drop("_tie")
        .with_columns(file=pl.lit(bank_file), line_no=pl.int_range(2, pl.len() + 2, dtype=pl.Int64))
    )
    gateway = pl.concat([payout_rows, settle_rows], how="vertical").with_columns(
        file=pl.lit(gateway_file), line_no=pl.int_range(2, pl.len() + 2, dtype=pl.Int64)
    )
    # Ledger lines paid through a batch take the fate of the batch.
    fates = pl.concat(
        [
            payout_rows.select("expected_ledger_id", fate="expected_status"),
            settle_rows.select("expected_ledger_id", fate="expected_status"),
        ]
    ).filter(pl.col("expected_ledger_id").is_not_null())
    ledger = (
        pl.concat([d, r], how="vertical")
        .join(fates, left_on="ledger_id", right_on="expected_ledger_id", how="left")
        .with_columns(expected_status=pl.coalesce("fate", "expected_status"))
        .drop("fate", "_cat")
    )
    statement_cols = [*STATEMENT.names(), "expected_status", "expected_ledger_id"]
    return Truth(
        bank=bank.select(statement_cols),
        gateway=gateway.select(statement_cols),
        ledger=ledger.select([*LEDGER.names(), "expected_status"]),
        period_end=period_end,
        window_days=window_days,
    )


def _dates(period_end: date, days_back: np.ndarray) -> pl.Series:
    base = np.datetime64(period_end, "D")
    return pl.Series((base - days_back.astype("timedelta64[D]")).astype("datetime64[D]")).cast(
        pl.Date
    )


def _disbursements(
    rng: np.random.Generator, n: int, period_end: date, window: int, shares: list[float]
) -> pl.DataFrame:
    cat = _choice(rng, n, shares)
    i = np.arange(n, dtype=np.int64)
    # Sent 0..6 days before the period end; old ones at least `window` days before, recent ones after.
    back = rng.integers(0, 7, size=n)
    back = np.where(cat == OLD, rng.integers(window, window + 5, size=n), back)
    back = np.where(cat == RECENT, rng.integers(0, window, size=n), back)
    net = 100_000 + 1_000 * i + rng.integers(0, 1_000, size=n)
    frame = pl.DataFrame(
        {
            "_i": i,
            "_cat": cat,
            "net": net,
            "sent_on": _dates(period_end, back),
            "_acct": rng.integers(10**9, 9 * 10**9, size=n),
            "_bank": rng.choice(np.array(["002", "008", "009", "014", "110", "111"]), size=n),
        }
    )
    return frame.select(
        "_cat",
        ledger_id=pl.format("D{}", pl.col("_i")),
        kind=pl.lit("disbursement"),
        direction=pl.lit("D"),
        sp2d_number=pl.format(
            "32.73/{}/SP2D-LS/BUD/2026", pl.col("_i").cast(pl.String).str.zfill(8)
        ),
        payout_reference=pl.when(pl.col("_cat") == PAYOUT)
        .then(pl.format("IRIS-{}", pl.col("_i").cast(pl.String).str.zfill(10)))
        .otherwise(None),
        order_id=pl.lit(None, pl.String),
        gross=pl.col("net") + pl.col("net") // 50,
        fee=pl.lit(0, pl.Int64),
        net=pl.col("net"),
        beneficiary_bank=pl.col("_bank"),
        beneficiary_account=pl.col("_acct").cast(pl.String).str.zfill(10),
        authorised_on=pl.col("sent_on") - timedelta(days=1),
        sent_on="sent_on",
        settled_on=pl.when(pl.col("_cat").is_in([OLD, RECENT]))
        .then(None)
        .otherwise(pl.col("sent_on")),
        status=pl.when(pl.col("_cat") == RETURNED)
        .then(pl.lit("returned"))
        .when(pl.col("_cat").is_in([OLD, RECENT]))
        .then(pl.lit("sent"))
        .otherwise(pl.lit("settled")),
        expected_status=pl.when(pl.col("_cat") == MISMATCH)
        .then(pl.lit("amount_mismatch"))
        .when(pl.col("_cat") == RETURNED)
        .then(pl.lit("returned"))
        .when(pl.col("_cat") == SUBSTITUTED)
        .then(pl.lit("account_mismatch"))
        .when(pl.col("_cat") == AMBIGUOUS)
        .then(pl.lit("ambiguous"))
        .when(pl.col("_cat") == OLD)
        .then(pl.lit("unmatched_ledger"))
        .when(pl.col("_cat") == RECENT)
        .then(pl.lit("timing"))
        .otherwise(pl.lit("matched")),
    ).select([*LEDGER.names(), "_cat", "expected_status"])


def _receipts(
    rng: np.random.Generator, n: int, period_end: date, window: int, offset: int
) -> pl.DataFrame:
    cat = _choice(rng, n, RECEIPT_SHARES)
    i = np.arange(n, dtype=np.int64)
    back = rng.integers(1, 5, size=n)
    back = np.where(cat == MISSING_OLD, rng.integers(window, window + 5, size=n), back)
    back = np.where(cat == MISSING_RECENT, rng.integers(0, window, size=n), back)
    gross = 10_000 + 1_000 * (i + offset) + rng.integers(0, 1_000, size=n)
    frame = pl.DataFrame({"_i": i, "_cat": cat, "gross": gross, "day": _dates(period_end, back)})
    return frame.select(
        "_cat",
        ledger_id=pl.format("R{}", pl.col("_i")),
        kind=pl.lit("receipt"),
        direction=pl.lit("C"),
        sp2d_number=pl.lit(None, pl.String),
        payout_reference=pl.lit(None, pl.String),
        order_id=pl.format("PBJT-{}", pl.col("_i").cast(pl.String).str.zfill(10)),
        gross="gross",
        fee=pl.col("gross") * 7 // 1000,
        net=pl.col("gross") - pl.col("gross") * 7 // 1000,
        beneficiary_bank=pl.lit(None, pl.String),
        beneficiary_account=pl.lit(None, pl.String),
        authorised_on="day",
        sent_on="day",
        settled_on="day",
        status=pl.lit("received"),
        expected_status=pl.when(pl.col("_cat") == MISSING_OLD)
        .then(pl.lit("unmatched_ledger"))
        .when(pl.col("_cat") == MISSING_RECENT)
        .then(pl.lit("timing"))
        .otherwise(pl.lit("matched")),
    ).select([*LEDGER.names(), "_cat", "expected_status"])


def _statement(frame: pl.DataFrame) -> pl.DataFrame:
    """Fill the columns a part did not set, in the canonical order plus the expected columns."""
    cols = [*STATEMENT.names(), "expected_status", "expected_ledger_id"]
    types: dict[str, pl.DataType] = {
        **dict(STATEMENT),
        "expected_status": pl.String(),
        "expected_ledger_id": pl.String(),
    }
    return frame.select(
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(types[c]).alias(c) for c in cols
    )


def _direct_bank(
    rng: np.random.Generator, d: pl.DataFrame, window: int, period_end: date
) -> pl.DataFrame:
    """Bank lines of disbursements paid straight from the RKUD (not through a batch)."""
    paid = d.filter(
        pl.col("_cat").is_in(
            [
                DIRECT,
                NOREF,
                MISMATCH,
                DUPLICATE,
                RETURNED,
                SUBSTITUTED,
                REUSED,
                REUSED_NOREF,
                AMBIGUOUS,
            ]
        )
    )
    room = (period_end - paid["sent_on"]).dt.total_days().clip(0, window).to_numpy()
    lag = np.floor(rng.random(paid.height) * (room + 1)).astype(np.int64)
    paid = paid.with_columns(
        value_date=pl.col("sent_on") + pl.duration(days=pl.lit(pl.Series(lag))),
        _delta=pl.Series(rng.integers(1, 50, size=paid.height) * 1_000),
        # Account substitution: an account no vendor has (vendors' are below 9 * 10^9).
        _other=pl.Series(rng.integers(9 * 10**9, 10**10 - 1, size=paid.height)).cast(pl.String),
    )
    no_reference = pl.col("_cat").is_in(_NO_REFERENCE)
    base = paid.select(
        "value_date",
        source=pl.lit("bank"),
        direction=pl.lit("D"),
        amount=pl.when(pl.col("_cat") == MISMATCH)
        .then(pl.col("net") + pl.col("_delta"))
        .otherwise(pl.col("net")),
        fee=pl.lit(0, pl.Int64),
        kind=pl.lit("transfer"),
        # A remark without the SP2D number ("TRF KE REK ...") gives no reference: its first words
        # are not shaped like a kasda reference.
        reference=pl.when(no_reference).then(None).otherwise(pl.col("sp2d_number")),
        remark=pl.when(no_reference)
        .then(pl.format("TRF KE REK {}", pl.col("beneficiary_account")))
        .otherwise(pl.format("{} PEMBAYARAN LS", pl.col("sp2d_number"))),
        counterparty_account=pl.when(pl.col("_cat") == SUBSTITUTED)
        .then(pl.col("_other"))
        .otherwise(pl.col("beneficiary_account")),
        counterparty_bank="beneficiary_bank",
        bank_ref=pl.format("FT{}", pl.col("ledger_id")),
        expected_status=pl.when(pl.col("_cat") == MISMATCH)
        .then(pl.lit("amount_mismatch"))
        .when(pl.col("_cat") == SUBSTITUTED)
        .then(pl.lit("account_mismatch"))
        .when(pl.col("_cat") == AMBIGUOUS)
        .then(pl.lit("ambiguous"))
        .otherwise(pl.lit("matched")),
        expected_ledger_id=pl.when(pl.col("_cat") == AMBIGUOUS)
        .then(None)
        .otherwise(pl.col("ledger_id")),
        _cat="_cat",
        _delta="_delta",
        _sp2d="sp2d_number",
    )
    twice = base.filter(pl.col("_cat") == DUPLICATE).with_columns(
        bank_ref=pl.col("bank_ref") + "-2", expected_status=pl.lit("duplicate")
    )
    # The SP2D number of a paid disbursement on another amount, to the same account.
    reused = base.filter(pl.col("_cat").is_in([REUSED, REUSED_NOREF])).with_columns(
        amount=pl.col("amount") + pl.col("_delta"),
        reference=pl.col("_sp2d"),
        remark=pl.format("{} PEMBAYARAN LS", pl.col("_sp2d")),
        bank_ref=pl.col("bank_ref") + "-U",
        expected_status=pl.lit("reference_reused"),
    )
    # A debit with no SP2D, for the same amount, account and day as a payment without the number.
    extra = base.filter(pl.col("_cat") == AMBIGUOUS).with_columns(
        bank_ref=pl.col("bank_ref") + "-A"
    )
    back = base.filter(pl.col("_cat") == RETURNED).with_columns(
        direction=pl.lit("C"),
        kind=pl.lit("return"),
        remark=pl.format("RETUR {} REKENING TIDAK AKTIF", pl.col("reference")),
        bank_ref=pl.col("bank_ref") + "-R",
        expected_status=pl.lit("returned"),
    )
    return _statement(
        pl.concat([base, twice, reused, extra, back], how="vertical").drop(
            "_cat", "_delta", "_sp2d"
        )
    )


def _batches(
    rng: np.random.Generator, paid: pl.DataFrame, direction: str, period_end: date, offset: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Gateway rows for ledger lines paid in batches (plus rows with no ledger record), and the
    bank line of each batch."""
    size = PAYOUT_BATCH if direction == "D" else SETTLEMENT_BATCH
    n = paid.height
    orphans = max(n // 50, 1) if n else 0
    j = np.arange(orphans, dtype=np.int64)
    prefix = "IRIS-X" if direction == "D" else "PBJT-X"
    orphan = pl.DataFrame(
        {
            "ledger_id": pl.Series([None] * orphans, dtype=pl.String),
            "reference": [f"{prefix}{k:010d}" for k in j.tolist()],
            "amount": 50_000 + 1_000 * (j + offset) + rng.integers(0, 1_000, size=orphans),
            "_acct": pl.Series(rng.integers(10**9, 9 * 10**9, size=orphans))
            .cast(pl.String)
            .str.zfill(10),
            "expected_status": ["unmatched_bank"] * orphans,
        }
    ).with_columns(_bank=pl.lit("014"))
    if direction == "D":
        rows = paid.select(
            "ledger_id",
            reference="payout_reference",
            amount="net",
            _acct="beneficiary_account",
            expected_status=pl.lit("matched"),
            _bank="beneficiary_bank",
        )
    else:
        rows = paid.select(
            "ledger_id",
            reference="order_id",
            amount="gross",
            _acct=pl.lit(None, pl.String),
            expected_status=pl.lit("matched"),
            _bank=pl.lit(None, pl.String),
        )
    rows = pl.concat([rows, orphan], how="vertical")
    m = rows.height
    batch_no = rng.permutation(m) // size
    n_batches = int(batch_no.max()) + 1 if m else 0
    fate = _choice(rng, n_batches, BATCH_SHARES)
    tag = "IRISB" if direction == "D" else "STL"
    fate_of_row = fate[batch_no] if n_batches else np.zeros(0, dtype=np.int64)
    rows = rows.with_columns(
        _batch=pl.Series(batch_no),
        _fate=pl.Series(fate_of_row, dtype=pl.Int64),
        fee=pl.Series(rng.choice(np.array([0, 2_500, 5_000]), size=m))
        if direction == "D"
        else pl.col("amount") * 7 // 1000,
    ).with_columns(
        batch_id=pl.format("{}-{}", pl.lit(tag), pl.col("_batch").cast(pl.String).str.zfill(7)),
    )
    # A row matched to the ledger takes its batch's fate; rows with no ledger record stay unmatched_bank.
    rows = rows.with_columns(
        expected_status=pl.when(pl.col("expected_status") != "matched")
        .then(pl.col("expected_status"))
        .when(pl.col("_fate") == BATCH_MISMATCH)
        .then(pl.lit("amount_mismatch"))
        .when(pl.col("_fate") == BATCH_MISSING)
        .then(pl.lit("timing"))
        .otherwise(pl.lit("matched"))
    )
    gateway = rows.select(
        "amount",
        "fee",
        "reference",
        "batch_id",
        "expected_status",
        expected_ledger_id="ledger_id",
        source=pl.lit("gateway"),
        value_date=pl.lit(period_end),
        direction=pl.lit(direction),
        kind=pl.lit("payout" if direction == "D" else "settlement"),
        remark=pl.format(
            "{} {}", pl.lit("payout" if direction == "D" else "qris"), pl.col("reference")
        ),
        counterparty_account="_acct",
        counterparty_bank="_bank",
        bank_ref="reference",
    )
    sign = 1 if direction == "D" else -1
    bank = (
        rows.group_by("batch_id", "_fate")
        .agg(total=(pl.col("amount") + sign * pl.col("fee")).sum())
        .filter(pl.col("_fate") != BATCH_MISSING)
        .select(
            source=pl.lit("bank"),
            value_date=pl.lit(period_end),
            direction=pl.lit(direction),
            amount=pl.when(pl.col("_fate") == BATCH_MISMATCH)
            .then(pl.col("total") - 1_000)
            .otherwise(pl.col("total")),
            fee=pl.lit(0, pl.Int64),
            kind=pl.lit("transfer"),
            reference="batch_id",
            remark=pl.format(
                "{} MIDTRANS {}",
                pl.col("batch_id"),
                pl.lit("PAYOUT" if direction == "D" else "SETTLEMENT"),
            ),
            bank_ref=pl.format("FT{}", pl.col("batch_id")),
            expected_status=pl.when(pl.col("_fate") == BATCH_MISMATCH)
            .then(pl.lit("amount_mismatch"))
            .otherwise(pl.lit("matched")),
        )
        .sort("reference")
    )
    return _statement(gateway), _statement(bank)


def _noise(rng: np.random.Generator, rows: int, period_end: date) -> pl.DataFrame:
    """Bank debits with no SP2D behind them, bank fees and interest."""
    k = max(rows // 100, 1)
    j = np.arange(k, dtype=np.int64)
    back = rng.integers(0, 3, size=k)
    unknown = pl.DataFrame(
        {
            "value_date": _dates(period_end, back),
            "amount": rng.integers(1, 10_000, size=k) * 1_000 + 7,
            "_j": j,
            "_acct": rng.integers(9 * 10**9, 10**10 - 1, size=k),
        }
    ).select(
        "value_date",
        "amount",
        source=pl.lit("bank"),
        direction=pl.lit("D"),
        fee=pl.lit(0, pl.Int64),
        kind=pl.lit("transfer"),
        reference=pl.format("PENARIKAN{}", pl.col("_j")),
        remark=pl.format("PENARIKAN{} TANPA SP2D", pl.col("_j")),
        counterparty_account=pl.col("_acct").cast(pl.String),
        counterparty_bank=pl.lit("008"),
        bank_ref=pl.format("FTX{}", pl.col("_j")),
        expected_status=pl.lit("unmatched_bank"),
    )
    f = max(rows // 200, 1)
    fees = pl.DataFrame(
        {"value_date": _dates(period_end, rng.integers(0, 3, size=f)), "_j": np.arange(f)}
    ).select(
        "value_date",
        source=pl.lit("bank"),
        direction=pl.when(pl.col("_j") % 4 == 0).then(pl.lit("C")).otherwise(pl.lit("D")),
        amount=pl.when(pl.col("_j") % 4 == 0).then(pl.lit(125_000)).otherwise(pl.lit(6_500)),
        fee=pl.lit(0, pl.Int64),
        kind=pl.when(pl.col("_j") % 4 == 0).then(pl.lit("interest")).otherwise(pl.lit("fee")),
        reference=pl.lit(None, pl.String),
        remark=pl.when(pl.col("_j") % 4 == 0)
        .then(pl.lit("BUNGA JASA GIRO"))
        .otherwise(pl.lit("BIAYA ADM TRANSFER")),
        bank_ref=pl.format("FTF{}", pl.col("_j")),
        expected_status=pl.lit("fee"),
    )
    return pl.concat([_statement(unknown), _statement(fees)], how="vertical")


# -- files ----------------------------------------------------------------------------------------
def _id_amount(value: int) -> str:
    return f"{value:,}".replace(",", ".") + ",00"


def write_bpd_csv(bank: pl.DataFrame, path: Path, opening: int = 10**15) -> None:
    """The bank lines as the ``bpd`` CSV profile (the statement's own order)."""
    lines = ["tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan"]
    balance = opening
    for row in bank.iter_rows(named=True):
        debit = row["amount"] if row["direction"] == "D" else 0
        credit = row["amount"] if row["direction"] == "C" else 0
        balance += credit - debit
        lines.append(
            ";".join(
                [
                    row["value_date"].strftime("%d/%m/%Y"),
                    row["remark"],
                    _id_amount(debit),
                    _id_amount(credit),
                    _id_amount(balance),
                    row["bank_ref"] or "",
                    row["counterparty_account"] or "",
                    row["counterparty_bank"] or "",
                ]
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_mt940(
    bank: pl.DataFrame, path: Path, account: str = "0011223344", opening: int = 10**15
) -> None:
    """The bank lines as one MT940 statement."""
    end = bank["value_date"].max() if bank.height else date(2026, 11, 21)
    assert isinstance(end, date)
    out = [":20:KASDA-RKUD", f":25:{account}", ":28C:1/1", f":60F:C{end:%y%m%d}IDR{opening},00"]
    balance = opening
    for row in bank.iter_rows(named=True):
        mark = "D" if row["direction"] == "D" else "C"
        balance += row["amount"] if mark == "C" else -row["amount"]
        day = row["value_date"]
        bank_ref = (row["bank_ref"] or "NONE")[:16]
        out.append(f":61:{day:%y%m%d}{day:%m%d}{mark}{row['amount']},00NTRFNONREF//{bank_ref}")
        remark = row["remark"]
        if row["counterparty_account"]:
            remark += f" REK:{row['counterparty_account']} BANK:{row['counterparty_bank'] or ''}"
        out.append(f":86:{remark}")
    out.append(f":62F:{'C' if balance >= 0 else 'D'}{end:%y%m%d}IDR{abs(balance)},00")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def write_camt053(bank: pl.DataFrame, path: Path, account: str = "0011223344") -> None:
    """The bank lines as a camt.053.001.08 statement."""
    entries = []
    for row in bank.iter_rows(named=True):
        debit = row["direction"] == "D"
        party = "Cdtr" if debit else "Dbtr"
        kind = row["kind"]
        code = {"fee": "CHRG", "interest": "INTR"}.get(kind, "OTHR")
        related = ""
        if row["counterparty_account"]:
            related = (
                f"<RltdPties><{party}Acct><Id><Othr><Id>{row['counterparty_account']}</Id></Othr></Id>"
                f"</{party}Acct></RltdPties><RltdAgts><{party}Agt><FinInstnId><ClrSysMmbId><MmbId>"
                f"{row['counterparty_bank'] or ''}</MmbId></ClrSysMmbId></FinInstnId></{party}Agt></RltdAgts>"
            )
        entries.append(
            f"""    <Ntry>
      <Amt Ccy="IDR">{row["amount"]}.00</Amt>
      <CdtDbtInd>{"DBIT" if debit else "CRDT"}</CdtDbtInd>{"<RvslInd>true</RvslInd>" if kind == "return" else ""}
      <Sts><Cd>BOOK</Cd></Sts>
      <BookgDt><Dt>{row["value_date"]:%Y-%m-%d}</Dt></BookgDt>
      <ValDt><Dt>{row["value_date"]:%Y-%m-%d}</Dt></ValDt>
      <AcctSvcrRef>{row["bank_ref"] or ""}</AcctSvcrRef>
      <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>{code}</SubFmlyCd></Fmly></Domn></BkTxCd>
      <NtryDtls><TxDtls>{related}<RmtInf><Ustrd>{_xml(row["remark"])}</Ustrd></RmtInf></TxDtls></NtryDtls>
    </Ntry>"""
        )
    body = "\n".join(entries)
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
   <GrpHdr><MsgId>KASDA-RKUD</MsgId><CreDtTm>2026-11-22T01:00:00+07:00</CreDtTm></GrpHdr>
   <Stmt>
    <Id>RKUD</Id>
    <Acct><Id><Othr><Id>{account}</Id></Othr></Id></Acct>
{body}
   </Stmt>
  </BkToCstmrStmt>
</Document>
""",
        encoding="utf-8",
    )


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_midtrans(gateway: pl.DataFrame, payouts: Path, settlements: Path) -> None:
    """The gateway rows as a Midtrans payout report and a settlement report."""
    pay = [
        "reference_no,batch_id,status,beneficiary_bank,beneficiary_account,amount,fee,completed_at"
    ]
    stl = ["order_id,batch_id,settlement_time,payment_type,gross_amount,fee,net_amount"]
    for row in gateway.iter_rows(named=True):
        if row["kind"] == "payout":
            pay.append(
                f"{row['reference']},{row['batch_id']},completed,{row['counterparty_bank']},"
                f"{row['counterparty_account']},{row['amount']}.00,{row['fee']}.00,"
                f"{row['value_date']:%Y-%m-%d} 10:00:00"
            )
        else:
            stl.append(
                f"{row['reference']},{row['batch_id']},{row['value_date']:%Y-%m-%d} 09:00:00,qris,"
                f"{row['amount']}.00,{row['fee']}.00,{row['amount'] - row['fee']}.00"
            )
    payouts.write_text("\n".join(pay) + "\n", encoding="utf-8")
    settlements.write_text("\n".join(stl) + "\n", encoding="utf-8")
