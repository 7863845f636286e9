"""Tables as CSV and XLSX bytes: one header row and rows of text and integers (rupiah stay whole
numbers), the same rows in both formats. A text cell never becomes a formula: a value that a
spreadsheet would read as one (``=``, ``+``, ``-``, ``@``, a tab or carriage return first) is
written with a leading apostrophe, in CSV as in XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
MEDIA_TYPES = {"csv": CSV_MEDIA_TYPE, "xlsx": XLSX_MEDIA_TYPE}
RUPIAH_FORMAT = "#,##0;(#,##0)"


def cell(value: Any) -> Any:
    """A value as a cell: integers as they are, None as empty text, text never a formula."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


@dataclass(frozen=True)
class Table:
    """One sheet: its name, header, rows, which columns hold rupiah (formatted in XLSX) and, in
    XLSX only, a title above the header."""

    name: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    money: frozenset[str] = field(default_factory=frozenset)
    title: str | None = None

    def cells(self) -> list[list[Any]]:
        return [[cell(v) for v in row] for row in self.rows]


def csv_bytes(table: Table) -> bytes:
    """The table as UTF-8 CSV, comma separated, one header row, ``\\n`` line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.headers)
    writer.writerows(table.cells())
    return buffer.getvalue().encode()


def xlsx_bytes(*tables: Table) -> bytes:
    """A workbook of one sheet per table, in order: its title if it has one, a bold header row,
    then the rows; text cells typed as text, rupiah columns with thousands separators."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for table in tables:
        sheet = book.create_sheet(table.name)
        if table.title is not None:
            sheet.append([table.title])
        sheet.append(list(table.headers))
        first = sheet.max_row + 1  # the first row of data
        for header in sheet[first - 1]:
            header.font = Font(bold=True)
        for row in table.cells():
            sheet.append(row)
            for value in sheet[sheet.max_row]:
                if isinstance(value.value, str):
                    value.data_type = "s"  # text stays text, never a formula
        for index, name in enumerate(table.headers, start=1):
            if name in table.money:
                for (amount,) in sheet.iter_rows(min_row=first, min_col=index, max_col=index):
                    amount.number_format = RUPIAH_FORMAT
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(kind: str, main: Table, *more: Table) -> bytes:
    """``main`` as CSV, or ``main`` and ``more`` as a workbook (``kind`` ``csv`` or ``xlsx``)."""
    if kind == "csv":
        return csv_bytes(main)
    if kind == "xlsx":
        return xlsx_bytes(main, *more)
    raise ValueError(f"no format {kind!r}; use csv or xlsx")
