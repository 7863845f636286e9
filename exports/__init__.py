"""Files for other systems: the LRA in SIPD's flat layout (``sipd``), the taxes withheld in the
layout of e-Bupot Unifikasi's import workbook (``ebupot``), and the CSV and XLSX writers they share
(``sheets``). Pure: each takes what ``projections`` read and returns bytes; no I/O, no web
framework, no ``kasda``. docs/exports.md describes every column."""
