"""The open data's renderings: pure functions from a public frame (``projections.public``) to the
bytes of a file. Amounts stay integers in every format; dates are ISO 8601 calendar days in WIB.

- CSV: UTF-8 without a byte order mark, a header row, ``\\n`` line ends, an empty cell for a
  missing value. A text cell that a spreadsheet would run as a formula (starting with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return) starts with ``'`` instead (``spreadsheet_safe``),
  the rule of the exports and the vendor portal's downloads (``exports.sheets.FORMULA_STARTS``);
  JSON and Parquet keep the text as it is.
- JSON: an object with the metadata (``Meta.header``) and ``data``, the rows as objects.
- Parquet: the frame's own types (Int64, Date, String), zstd, the metadata as the file's
  key-value metadata.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import polars as pl

from exports.sheets import FORMULA_STARTS

# The characters a spreadsheet runs as a formula: the exports' rule (``exports.sheets``), as a
# pattern.
_FORMULA = "^[" + "".join(re.escape(c) for c in FORMULA_STARTS) + "]"


@dataclass(frozen=True, slots=True)
class Meta:
    """What a file is: whose, which year, as of which log position, made when, from what."""

    pemda: str
    year: int
    position: int
    generated: datetime  # aware, in WIB
    dataset: str
    dictionary: str  # where the data dictionary is (kamus.json)

    def header(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "pemda": self.pemda,
            "tahun": self.year,
            "posisi_log": self.position,
            "dibuat": self.generated.isoformat(timespec="seconds"),
            "kamus": self.dictionary,
        }


def spreadsheet_safe(text: pl.Expr) -> pl.Expr:
    """``text`` that a spreadsheet shows as text: a leading formula character gets a ``'``."""
    return pl.when(text.str.contains(_FORMULA)).then(pl.lit("'") + text).otherwise(text)


def to_csv(frame: pl.DataFrame) -> bytes:
    safe = frame.with_columns(
        spreadsheet_safe(pl.col(name)).alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )
    return safe.write_csv(line_terminator="\n", date_format="%Y-%m-%d").encode()


def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as JSON-ready objects (dates as ISO text)."""
    return frame.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d")).to_dicts()


def to_json(frame: pl.DataFrame, meta: Meta) -> bytes:
    body = {**meta.header(), "jumlah_baris": frame.height, "data": rows(frame)}
    return orjson.dumps(body)


def to_parquet(frame: pl.DataFrame, meta: Meta) -> bytes:
    buffer = io.BytesIO()
    described = {key: str(value) for key, value in meta.header().items()}
    frame.write_parquet(buffer, metadata=described)
    return buffer.getvalue()
