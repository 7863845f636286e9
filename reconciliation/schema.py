"""The canonical frames every reader produces and the matching engine consumes.

Money is ``Int64`` rupiah, always positive; the sign lives in ``direction`` (``D`` debit: money
left the RKUD, ``C`` credit: money came in). Dates are calendar dates (WIB business days).
"""

from __future__ import annotations

import polars as pl

from reconciliation.errors import StatementError

# Every line of a bank statement or a gateway report, after reading.
STATEMENT = pl.Schema(
    {
        "source": pl.String,  # bank | gateway
        "file": pl.String,  # the path it was read from
        "line_no": pl.Int64,  # 1-based line of that file (for XML: the line of the entry)
        "value_date": pl.Date,
        "direction": pl.String,  # D | C
        "amount": pl.Int64,  # positive rupiah; gateway settlement rows: gross
        "fee": pl.Int64,  # gateway fee on the row (0 on bank lines)
        "kind": pl.String,  # transfer | fee | interest | return | payout | settlement
        # the document reference found in the remark (SP2D, payout, order id, batch id), trimmed and
        # upper case: the engine compares references exactly as the readers write them
        "reference": pl.String,
        "remark": pl.String,  # the remark text as written (:86:, keterangan, AddtlNtryInf)
        "counterparty_account": pl.String,
        "counterparty_bank": pl.String,
        "bank_ref": pl.String,  # the bank's or gateway's own id of the line
        "batch_id": pl.String,  # gateway rows: the payout batch / settlement batch
    }
)

# One ledger fact that should show up in the bank: an SP2D disbursement or a receipt.
LEDGER = pl.Schema(
    {
        "ledger_id": pl.String,  # disbursement or revenue aggregate id
        "kind": pl.String,  # disbursement | receipt
        "direction": pl.String,  # D for disbursements, C for receipts
        "sp2d_number": pl.String,  # references trimmed and upper case, as on the statement side
        "payout_reference": pl.String,  # the gateway reference of the last TransferSent
        "order_id": pl.String,  # receipts: the Midtrans order id (or other channel reference)
        "gross": pl.Int64,
        "fee": pl.Int64,  # receipts: the gateway fee; disbursements: 0
        "net": pl.Int64,  # what moves on the RKUD for one line
        "beneficiary_bank": pl.String,
        "beneficiary_account": pl.String,
        "authorised_on": pl.Date,
        "sent_on": pl.Date,
        "settled_on": pl.Date,
        "status": pl.String,  # authorised | sent | settled | failed | returned | received | reversed
    }
)

# Stable English codes in the data (Parquet, CSV, the recorded run); new codes are appended, so the
# position of an old code never changes.
STATUSES = (
    "matched",
    "amount_mismatch",
    "duplicate",
    "unmatched_bank",
    "unmatched_ledger",
    "timing",
    "fee",
    "returned",
    "account_mismatch",
    "reference_reused",
    "ambiguous",
)
STATUS_ENUM = pl.Enum(list(STATUSES))

# What a report shows for each code: the Indonesian label and a one-line explanation.
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "matched": (
        "Cocok",
        "baris bank/gateway dan SP2D/penerimaan sepakat (kolom `agreed` menyebut yang sama)",
    ),
    "amount_mismatch": (
        "Selisih jumlah",
        "referensinya sama tetapi jumlahnya lain; kedua baris dan selisihnya ditampilkan",
    ),
    "duplicate": (
        "Terdebet ganda",
        "SP2D atau batch yang sama dibayar lagi, jumlah dan rekening sama",
    ),
    "unmatched_bank": (
        "Tidak ada di kasda",
        "uang bergerak di RKUD tanpa SP2D atau penerimaan di kasda",
    ),
    "unmatched_ledger": (
        "Tidak ada di bank",
        "dibayar/diterima menurut kasda tetapi tidak ada di rekening koran",
    ),
    "timing": (
        "Dalam perjalanan",
        "belum sampai di rekening koran; masih dalam jendela hari sebelum tanggal batas",
    ),
    "fee": ("Biaya/bunga bank", "biaya administrasi atau bunga; dijumlah per hari, otomatis"),
    "returned": ("Retur", "transfer dikembalikan ke RKUD oleh bank penerima"),
    "account_mismatch": (
        "Rekening lain",
        "dibayar ke rekening (atau bank) lain daripada penerima SP2D: periksa penggantian rekening",
    ),
    "reference_reused": (
        "Referensi dipakai ulang",
        "memakai nomor SP2D/referensi yang sudah dibayar, dengan jumlah lain",
    ),
    "ambiguous": (
        "Ambigu",
        "beberapa pasangan sama baiknya (jumlah dan rekening sama): dipilih oleh orang, bukan mesin",
    ),
}

SOURCES = frozenset({"bank", "gateway"})
DIRECTIONS = frozenset({"D", "C"})
STATEMENT_KINDS = frozenset({"transfer", "fee", "interest", "return", "payout", "settlement"})
LEDGER_KINDS = frozenset({"disbursement", "receipt"})


def empty_statement() -> pl.DataFrame:
    return pl.DataFrame(schema=STATEMENT)


def empty_ledger() -> pl.DataFrame:
    return pl.DataFrame(schema=LEDGER)


def _require_schema(given: pl.Schema, schema: pl.Schema, what: str, path: str) -> None:
    if given != schema:
        missing = [n for n in schema if n not in given]
        wrong = [
            f"{n} is {given[n]}, expected {t}"
            for n, t in schema.items()
            if n in given and given[n] != t
        ]
        extra = [n for n in given if n not in schema]
        raise StatementError(
            path,
            0,
            f"not the canonical {what} schema: missing {missing}, wrong {wrong}, extra {extra}",
        )


def validate_statement(frame: pl.DataFrame, path: str = "<statement>") -> pl.DataFrame:
    """Check a statement frame against the schema and its value rules; returns it unchanged."""
    _require_schema(frame.schema, STATEMENT, "statement", path)
    bad = frame.with_row_index("_i").filter(
        ~pl.col("source").is_in(list(SOURCES))
        | ~pl.col("direction").is_in(list(DIRECTIONS))
        | ~pl.col("kind").is_in(list(STATEMENT_KINDS))
        | pl.col("amount").is_null()
        | (pl.col("amount") <= 0)
        | pl.col("fee").is_null()
        | (pl.col("fee") < 0)
        | pl.col("value_date").is_null()
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise StatementError(
            row["file"] or path,
            row["line_no"] or 0,
            "line breaks a rule of the canonical schema (source, direction, kind, "
            "amount > 0, fee >= 0, value_date)",
        )
    return frame


def validate_ledger(frame: pl.DataFrame, path: str = "<ledger>") -> pl.DataFrame:
    """Check a ledger frame against the schema and its value rules; returns it unchanged."""
    check_ledger(frame.lazy(), path)
    return frame


def check_ledger(frame: pl.LazyFrame, path: str = "<ledger>") -> None:
    """``validate_ledger`` of lines not held (a scanned file): the schema, then the value rules,
    reading only the columns they name. Raises ``StatementError`` with the first bad row (1-based)."""
    _require_schema(frame.collect_schema(), LEDGER, "ledger", path)
    bad = (
        frame.select("kind", "direction", "net", "ledger_id")
        .with_row_index("_i")
        .filter(
            ~pl.col("kind").is_in(list(LEDGER_KINDS))
            | ~pl.col("direction").is_in(list(DIRECTIONS))
            | pl.col("net").is_null()
            | (pl.col("net") <= 0)
            | pl.col("ledger_id").is_null()
            | pl.col("ledger_id").is_duplicated()
        )
        .head(1)
        .collect()
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise StatementError(
            path, int(row["_i"]) + 1, f"ledger row {row['ledger_id']!r} breaks a rule of the schema"
        )
