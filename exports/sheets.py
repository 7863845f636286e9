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
    then the rows; rupiah columns with thousands separators. Written in openpyxl's streaming
    mode (a year's LRA is some 9,000 cells). A text cell stays text: ``cell`` guarded every value
    a spreadsheet would read as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(table.name)
        if table.title is not None:
            sheet.append([table.title])
        header = []
        for name in table.headers:
            written = WriteOnlyCell(sheet, value=name)
            written.font = bold
            header.append(written)
        sheet.append(header)
        money = [name in table.money for name in table.headers]
        for row in table.cells():
            out: list[Any] = []
            for value, rupiah in zip(row, money, strict=True):
                if rupiah and isinstance(value, int):
                    amount = WriteOnlyCell(sheet, value=value)
                    amount.number_format = RUPIAH_FORMAT
                    out.append(amount)
                else:
                    out.append(value)
            sheet.append(out)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render(kind: str, main: Table, *more: Table) -> bytes:
    """``main`` as CSV, or ``main`` and ``more`` as a workbook (``kind`` ``csv`` or ``xlsx``)."""
    if kind == "csv":
        return csv_bytes(main)
    if kind == "xlsx":
        return xlsx_bytes(main, *more)
    raise ValueError(f"no format {kind!r}; use csv or xlsx")
