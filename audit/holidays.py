"""Indonesia's national holidays and cuti bersama, from the table kasda ships (``holidays.csv``).

The table follows the year's SKB 3 Menteri (Menteri Agama, Menteri Ketenagakerjaan, MenPAN-RB)
and the Keppres that add a day (an election): a pemda checks it against the SKB of the year, and
adds a day the table lacks (a regional holiday, a later revision) with ``extra_holidays`` in its
thresholds file. Days marked "(perkiraan)" are estimates made before the year's SKB was signed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from importlib.resources import files

import polars as pl

from ledger.errors import InvalidInput

SCHEMA = {"date": pl.Date, "name": pl.String}


def table() -> pl.DataFrame:
    """Every day of the shipped table: ``date`` and ``name``, one row a day."""
    text = files("audit").joinpath("holidays.csv").read_text(encoding="utf-8")
    return pl.read_csv(text.encode(), schema=SCHEMA)


def days(extra: Iterable[str] = ()) -> pl.Series:
    """The holidays as dates: the shipped table and the ``extra`` ISO days (a pemda's own)."""
    added = list(extra)
    try:
        more = [date.fromisoformat(d) for d in added]
    except ValueError as error:
        raise InvalidInput(f"extra_holidays: {error} (write days as YYYY-MM-DD)") from error
    return pl.concat([table()["date"], pl.Series("date", more, dtype=pl.Date)]).unique().sort()
