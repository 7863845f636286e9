"""Amounts at the edge: text in a statement becomes integer rupiah, exactly, or the line is refused.

Rupiah has no minor unit in practice, so a fraction is accepted only when it is zero ("1.234.567,00");
"1.234.567,50" is refused with the line number (a statement that really carries sen is a finding to look
at by hand, not a rounding to hide). Formats, chosen per reader or CSV profile:

- ``id``: Indonesian, ``.`` groups thousands and ``,`` starts the fraction: ``1.234.567,00``, ``1234567``
- ``en``: ``,`` groups thousands and ``.`` starts the fraction: ``1,234,567.00``, ``1234567.00``
- ``mt940``: SWIFT, no grouping and a mandatory ``,``: ``1234567,`` or ``1234567,00``

Parsing is vectorised: a whole column is checked with one regular expression and cast in one go.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from reconciliation.errors import StatementError

Style = Literal["id", "en", "mt940"]
MAX_DIGITS = 16  # 10^16 rupiah, the ledger's own limit

# (whole-field pattern, thousands separator, decimal separator)
_FORMATS: dict[str, tuple[str, str, str]] = {
    "id": (r"^(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d{1,2})?$", ".", ","),
    "en": (r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?$", ",", "."),
    "mt940": (r"^\d+,\d{0,2}$", "", ","),
}


def first_bad(frame: pl.DataFrame, mask: pl.Expr, path: str, reason: pl.Expr) -> None:
    """Raise a ``StatementError`` for the first row where ``mask`` holds (``line_no`` column)."""
    bad = frame.lazy().filter(mask).select("line_no", reason.alias("_reason")).head(1).collect()
    if bad.height:
        count = frame.lazy().filter(mask).select(pl.len()).collect().item()
        more = f" (and {count - 1} more bad lines)" if count > 1 else ""
        raise StatementError(path, int(bad["line_no"][0]), str(bad["_reason"][0]) + more)


def parse_amount_column(
    frame: pl.DataFrame,
    column: str,
    style: Style,
    path: str,
    *,
    allow_empty: bool = False,
    field: str | None = None,
) -> pl.Series:
    """The column as Int64 rupiah. Empty cells are null if ``allow_empty``, else refused. An error
    names ``field``, the field as written in the file (``Amt``, ``:61: amount``), else the column."""
    name = field or column
    pattern, thousands, decimal = _FORMATS[style]
    text = pl.col(column).str.strip_chars()
    digits = text.str.replace_all(thousands, "", literal=True) if thousands else text
    parts = digits.str.split_exact(decimal, 1)
    checked = frame.select(
        "line_no",
        text=text,
        empty=text.is_null() | (text == ""),
        ok=text.str.contains(pattern),
        whole=parts.struct.field("field_0").str.strip_chars_start("0"),
        sen=parts.struct.field("field_1").fill_null("").str.strip_chars("0"),
    )
    if not allow_empty:
        first_bad(checked, pl.col("empty"), path, pl.lit(f"{name} is empty"))
    first_bad(
        checked,
        ~pl.col("empty") & ~pl.col("ok"),
        path,
        pl.format(
            "{} {} is not a rupiah amount in the '{}' format", pl.lit(name), "text", pl.lit(style)
        ),
    )
    first_bad(
        checked,
        ~pl.col("empty") & (pl.col("sen") != ""),
        path,
        pl.format(
            "{} {} has a fraction of a rupiah (sen); rupiah amounts must be whole",
            pl.lit(name),
            "text",
        ),
    )
    first_bad(
        checked,
        ~pl.col("empty") & (pl.col("whole").str.len_chars() > MAX_DIGITS),
        path,
        pl.format("{} {} is beyond 10^16 rupiah", pl.lit(name), "text"),
    )
    value = (
        pl.when(pl.col("empty"))
        .then(None)
        .when(pl.col("whole") == "")
        .then(pl.lit(0, pl.Int64))
        .otherwise(pl.col("whole").cast(pl.Int64, strict=False))
    )
    return checked.select(value.alias(column)).to_series()
