"""KKPD card statement CSV (the issuing BPD's monthly statement of a government credit card), one
profile per bank, read into ``reconciliation.kkpd.CARD_STATEMENT``.

The default profile ``bpd_kkpd``::

    tanggal_transaksi;tanggal_posting;nomor_kartu;nama_merchant;kode_otorisasi;uraian;debet;kredit
    03/11/2026;04/11/2026;5264-xxxx-xxxx-1234;TOKO ATK MAJU;A1B2C3;PEMBELIAN ATK;1.250.000,00;

A bank that writes one amount and a D/K column maps the roles ``amount`` and ``dc`` instead of
``debit`` and ``credit``. Each line's kind comes from its side and words: a credit is a bill
payment received (``PEMBAYARAN``, ``PAYMENT``) or else a refund; a debit with a merchant is a
purchase; a debit without one is interest or a late charge (``BUNGA``, ``DENDA``) or a card fee
(``BIAYA``, ``IURAN``, ``ADM``, ``MATERAI``); any other debit without a merchant is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from reconciliation.amounts import Style, first_bad, parse_amount_column
from reconciliation.kkpd import CARD_STATEMENT, card_key
from reconciliation.readers.common import parse_dates, read_lines, split_fields

ROLES = (
    "transacted_on",
    "posted_on",
    "card",
    "merchant",
    "authorisation",
    "remark",
    "debit",
    "credit",
    "amount",
    "dc",
)
REQUIRED_ROLES = ("transacted_on", "card", "remark")
PAYMENT = r"^(?:PEMBAYARAN|PAYMENT|BAYAR|SETORAN)\b"
INTEREST = r"^(?:BUNGA|DENDA|INTEREST|LATE)\b"
FEE = r"^(?:BIAYA|IURAN|ADM|ADMIN|MATERAI|FEE|ANNUAL)\b"
DEBIT_MARKS = ("D", "DB", "DEBET", "DEBIT")
CREDIT_MARKS = ("K", "C", "CR", "KREDIT", "CREDIT")


@dataclass(frozen=True, slots=True)
class CardCsvProfile:
    """How one issuing bank writes its card statement CSV."""

    name: str
    columns: list[str]  # the header, in order
    roles: dict[str, str]  # role -> column name
    bank_code: str  # the issuer's 3-digit kode bank: the first part of a card's normal form
    separator: str = ";"
    date_format: str = "%d/%m/%Y"
    amount_style: Style = "id"
    encoding: str = "utf-8-sig"

    def __post_init__(self) -> None:
        pair = ("debit" in self.roles and "credit" in self.roles) != (
            "amount" in self.roles and "dc" in self.roles
        )
        missing = [r for r in REQUIRED_ROLES if r not in self.roles]
        unknown = [r for r in self.roles if r not in ROLES]
        absent = [c for c in self.roles.values() if c not in self.columns]
        if missing or unknown or absent or not pair or len(self.bank_code) != 3:
            raise ValueError(
                f"card CSV profile {self.name!r}: missing roles {missing}, unknown roles "
                f"{unknown}, columns not in the header {absent}; it needs debit+credit or "
                "amount+dc, and a 3-digit bank_code"
            )


BPD_KKPD = CardCsvProfile(
    name="bpd_kkpd",
    columns=[
        "tanggal_transaksi",
        "tanggal_posting",
        "nomor_kartu",
        "nama_merchant",
        "kode_otorisasi",
        "uraian",
        "debet",
        "kredit",
    ],
    roles={
        "transacted_on": "tanggal_transaksi",
        "posted_on": "tanggal_posting",
        "card": "nomor_kartu",
        "merchant": "nama_merchant",
        "authorisation": "kode_otorisasi",
        "remark": "uraian",
        "debit": "debet",
        "credit": "kredit",
    },
    bank_code="110",
)
CARD_PROFILES: dict[str, CardCsvProfile] = {"bpd_kkpd": BPD_KKPD}


def _sides(raw: pl.DataFrame, profile: CardCsvProfile, where: str) -> pl.DataFrame:
    """``raw`` with ``_amount`` (positive) and ``_credit`` (bool), or the first bad line refused."""
    roles, style = profile.roles, profile.amount_style
    if "amount" in roles:
        amount = parse_amount_column(raw, roles["amount"], style, where)
        mark = pl.col(roles["dc"]).str.to_uppercase()
        first_bad(
            raw,
            ~mark.is_in([*DEBIT_MARKS, *CREDIT_MARKS]),
            where,
            pl.format("{} {} is not D or K", pl.lit(roles["dc"]), pl.col(roles["dc"])),
        )
        frame = raw.with_columns(_amount=amount, _credit=mark.is_in(list(CREDIT_MARKS)))
    else:
        debit = parse_amount_column(raw, roles["debit"], style, where, allow_empty=True)
        credit = parse_amount_column(raw, roles["credit"], style, where, allow_empty=True)
        frame = raw.with_columns(_debit=debit.fill_null(0), _credit_amount=credit.fill_null(0))
        first_bad(
            frame,
            (pl.col("_debit") > 0) == (pl.col("_credit_amount") > 0),
            where,
            pl.format("exactly one of {} and {} must be a positive amount",
                      pl.lit(roles["debit"]), pl.lit(roles["credit"])),
        )  # fmt: skip
        frame = frame.with_columns(
            _amount=pl.max_horizontal("_debit", "_credit_amount"),
            _credit=pl.col("_credit_amount") > 0,
        )
    first_bad(frame, pl.col("_amount") <= 0, where, pl.lit("the amount must be positive"))
    return frame


def _kind(remark: pl.Expr, merchant: pl.Expr, credit: pl.Expr) -> pl.Expr:
    upper = remark.str.to_uppercase()
    return (
        pl.when(credit & upper.str.contains(PAYMENT))
        .then(pl.lit("payment"))
        .when(credit)
        .then(pl.lit("refund"))
        .when(merchant.is_not_null())
        .then(pl.lit("purchase"))
        .when(upper.str.contains(INTEREST))
        .then(pl.lit("interest"))
        .when(upper.str.contains(FEE))
        .then(pl.lit("fee"))
    )


def read_card_csv(path: Path, profile: CardCsvProfile = BPD_KKPD) -> pl.DataFrame:
    """A card statement CSV in ``CARD_STATEMENT``; a bad line is refused with its number."""
    where = str(path)
    roles = profile.roles
    raw = split_fields(
        read_lines(path, profile.encoding), profile.separator, profile.columns, where
    )
    frame = _sides(raw, profile, where)

    def text(role: str) -> pl.Expr:
        column = roles.get(role)
        if column is None:
            return pl.lit(None, pl.String)
        return pl.when(pl.col(column) == "").then(None).otherwise(pl.col(column))

    transacted = parse_dates(frame, roles["transacted_on"], profile.date_format, where)
    posted = (
        parse_dates(frame, roles["posted_on"], profile.date_format, where)
        if "posted_on" in roles
        else transacted
    )
    frame = frame.with_columns(
        _transacted=transacted,
        _posted=posted.alias("_posted"),
        _card=card_key(pl.col(roles["card"]), profile.bank_code),
        _merchant=text("merchant"),
    ).with_columns(_kind=_kind(pl.col(roles["remark"]), pl.col("_merchant"), pl.col("_credit")))
    card = pl.col(roles["card"])
    first_bad(frame, pl.col("_card").is_null(), where,
              pl.format("{} {} has no four digits of a card number", pl.lit(roles["card"]), card))  # fmt: skip
    first_bad(
        frame,
        pl.col("_kind").is_null(),
        where,
        pl.format(
            "a debit with no {} must be interest (BUNGA, DENDA) or a card fee (BIAYA, IURAN, "
            "ADM, MATERAI): {}",
            pl.lit(roles.get("merchant", "merchant")),
            pl.col(roles["remark"]),
        ),
    )
    out = frame.select(
        file=pl.lit(where),
        line_no="line_no",
        transacted_on="_transacted",
        posted_on="_posted",
        card="_card",
        card_masked=card,
        merchant="_merchant",
        authorisation=text("authorisation").str.strip_chars().str.to_uppercase(),
        remark=pl.col(roles["remark"]),
        kind="_kind",
        direction=pl.when("_credit").then(pl.lit("C")).otherwise(pl.lit("D")),
        amount="_amount",
    )
    return out.select(pl.col(n).cast(t) for n, t in CARD_STATEMENT.items())


def read_contract_csv(path: Path, schema: pl.Schema, bank_code: str) -> pl.DataFrame:
    """A ledger-side frame of ``reconciliation.kkpd`` (SPJ, cards, SKPD limits, bill payments) from
    a ``;``-separated CSV whose header is the contract's columns: dates ``YYYY-MM-DD``, rupiah as
    ``1234567`` or ``1.234.567``, cards in any written form (made ``card_key``). A bad line is
    refused with its number; an empty optional field is null."""
    where = str(path)
    names = list(schema)
    raw = split_fields(read_lines(path), ";", names, where)
    columns: list[pl.Series | pl.Expr] = []
    for name, dtype in schema.items():
        if dtype == pl.Int64:
            columns.append(parse_amount_column(raw, name, "id", where))
        elif dtype == pl.Date:
            columns.append(parse_dates(raw, name, "%Y-%m-%d", where))
        else:
            columns.append(pl.when(pl.col(name) != "").then(pl.col(name)).alias(name))
    frame = raw.with_columns(columns)
    if "card" in schema:
        frame = frame.with_columns(_card=card_key(pl.col("card"), bank_code))
        first_bad(frame, pl.col("_card").is_null(), where,
                  pl.format("card {} has no four digits of a card number", pl.col("card")))  # fmt: skip
        frame = frame.with_columns(card="_card")
    optional = {"reference", "merchant"}
    required = [n for n in names if n not in optional]
    first_bad(frame, pl.any_horizontal(pl.col(required).is_null()), where,
              pl.lit(f"every one of {', '.join(required)} must be given"))  # fmt: skip
    key = names[0]  # the contract's first column names the row: spj_id, card, skpd, payment_id
    first_bad(frame, pl.int_range(pl.len()).over(key) > 0, where,
              pl.format("{} {} appears twice", pl.lit(key), pl.col(key)))  # fmt: skip
    return frame.select(pl.col(n).cast(t) for n, t in schema.items())
