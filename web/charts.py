"""The LRA's charts as SVG made on the server: pure functions from integer rupiah to SVG markup.

No charting library and no script: the pages' content security policy allows neither inline
styles nor inline scripts, so every colour is a presentation attribute (``fill=``) and the layout
is in the SVG's own coordinates (``viewBox``; the ``chart`` class of ``web/static/kasda.css``
scales it to the page). Every length is an integer computed from integer rupiah, proportional to
the amount (``scaled``); no float is ever computed from money.

Each chart is an image with a name and a description (``role="img"``, ``<title>``, ``<desc>``);
the table beside it, with the same numbers, is its accessible equivalent. Axis labels use the
short forms of Indonesian: ``Rp 250 jt`` (juta), ``Rp 1,5 M`` (miliar), ``Rp 2 T`` (triliun)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from web.format import rupiah

# (unit, its short name), largest first: ribu, juta, miliar, triliun.
UNITS = ((10**12, "T"), (10**9, "M"), (10**6, "jt"), (10**3, "rb"))
TICKS = 4  # gridlines above zero on a value axis
WIDTH = 560  # the viewBox's width; the page scales it
INK = "#1b2430"
MUTED = "#4f5b67"
GRID = "#d5dbe1"
ANGGARAN = "#a9c4e0"  # light: the budget
REALISASI = "#0b5394"  # dark: what was realised (kasda's brand colour)
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Noto Sans, sans-serif"


@dataclass(frozen=True, slots=True)
class Bar:
    """One group of a chart: its label, anggaran and realisasi (integer rupiah) and a short note
    written after the realisasi bar (the percentage, formatted by the page)."""

    label: str
    anggaran: int
    realisasi: int
    note: str = ""


def short_rupiah(amount: int) -> str:
    """An axis label: ``Rp 0``, ``Rp 500 rb``, ``Rp 250 jt``, ``Rp 1,5 M``, ``Rp 2 T``; at most
    two decimals (a comma), rounded half up, in integers only."""
    assert isinstance(amount, int), f"an amount of rupiah is an integer, not {amount!r}"
    sign, value = ("-" if amount < 0 else ""), abs(amount)
    for unit, name in UNITS:
        if value >= unit:
            hundredths = (value * 200 + unit) // (unit * 2)
            whole, part = divmod(hundredths, 100)
            decimals = f"{part:02d}".rstrip("0")
            return _written(sign, whole, decimals, name)
    return f"{sign}Rp {value}"


def _written(sign: str, whole: int, decimals: str, name: str) -> str:
    digits = f"{whole:,}".replace(",", ".")
    return f"{sign}Rp {digits}{',' + decimals if decimals else ''} {name}"


def nice_top(largest: int, ticks: int = TICKS) -> tuple[int, int]:
    """The top of a value axis and its step: the step is 1, 2 or 5 times a power of ten, the
    smallest with ``ticks`` steps reaching ``largest``; the top is the first step at or above it
    (so the largest bar fills at least two fifths of the axis)."""
    largest = max(largest, 0)
    power = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * power
            if step * ticks >= largest:
                top = max(step, -(-largest // step) * step)
                return top, step
        power *= 10


def scaled(amount: int, top: int, span: int) -> int:
    """The length of ``amount`` on an axis of ``span`` units whose end is ``top``: proportional,
    rounded half up; a negative amount draws nothing."""
    return (max(amount, 0) * span * 2 + top) // (top * 2)


def _said(text: str) -> Markup:
    """``text`` escaped, without the characters XML cannot hold (control characters, surrogates)."""
    kept = "".join(
        c
        for c in text
        if c in "\t\n" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd") or c >= "\U00010000"
    )
    return escape(kept)


def _text(
    x: int,
    y: int,
    content: str,
    *,
    size: int = 14,
    anchor: str = "start",
    fill: str = INK,
    extra: str = "",
) -> str:
    return (
        f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"'
        f' font-family="{FONT}"{extra}>{_said(content)}</text>'
    )


def _rect(x: int, y: int, width: int, height: int, fill: str, kind: str, amount: int) -> str:
    return (
        f'<rect class="bar bar-{kind}" x="{x}" y="{y}" width="{width}" height="{height}"'
        f' fill="{fill}" data-rupiah="{amount}"/>'
    )


def _frame(chart_id: str, title: str, description: str, height: int, body: list[str]) -> Markup:
    heading = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}"'
        f' viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img"'
        f' aria-labelledby="{escape(chart_id)}-judul {escape(chart_id)}-uraian">'
        f'<title id="{escape(chart_id)}-judul">{_said(title)}</title>'
        f'<desc id="{escape(chart_id)}-uraian">{_said(description)}</desc>'
    )
    return Markup(heading + "".join(body) + "</svg>")  # noqa: S704 - every value above is escaped


def _legend(y: int) -> list[str]:
    return [
        f'<rect x="0" y="{y}" width="12" height="12" fill="{ANGGARAN}"/>',
        _text(18, y + 12, "Anggaran"),
        f'<rect x="110" y="{y}" width="12" height="12" fill="{REALISASI}"/>',
        _text(128, y + 12, "Realisasi"),
    ]


def _group_title(bar: Bar) -> str:
    note = f" ({bar.note})" if bar.note else ""
    return (
        f"<title>{_said(bar.label)}: anggaran {escape(rupiah(bar.anggaran))}, realisasi "
        f"{escape(rupiah(bar.realisasi))}{_said(note)}</title>"
    )


def _clipped(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"


# Horizontal bars: a row per group, its label above its two bars, so a long name stays readable
# on a phone (the SVG scales, the label does not wrap).
ROW_LABEL = 18
BAR = 12
ROW_GAP = 14
ROW = ROW_LABEL + 2 * BAR + 2 + ROW_GAP
AXIS = 24  # the axis labels under the rows
LEGEND = 24  # above the rows
NOTE_ROOM = 72  # right of the longest bar, for its note
LABEL_CHARACTERS = 60


def horizontal_bars(chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> Markup:
    """Anggaran and realisasi of each group as two horizontal bars, on one scale."""
    span = WIDTH - NOTE_ROOM
    top, step = nice_top(max((max(b.anggaran, b.realisasi) for b in bars), default=0))
    rows_end = LEGEND + len(bars) * ROW
    height = rows_end + AXIS
    body = _legend(0)
    for value in range(0, top + 1, step):
        x = scaled(value, top, span)
        body.append(
            f'<line x1="{x}" y1="{LEGEND}" x2="{x}" y2="{rows_end}" stroke="{GRID}"'
            ' stroke-width="1"/>'
        )
        anchor = "start" if value == 0 else ("end" if value == top else "middle")
        body.append(_text(x, height - 6, short_rupiah(value), size=13, anchor=anchor, fill=MUTED))
    for i, bar in enumerate(bars):
        y = LEGEND + i * ROW
        planned, realised = scaled(bar.anggaran, top, span), scaled(bar.realisasi, top, span)
        body += [
            f'<g class="chart-group">{_group_title(bar)}',
            _text(0, y + ROW_LABEL - 4, _clipped(bar.label, LABEL_CHARACTERS), size=14),
            _rect(0, y + ROW_LABEL, planned, BAR, ANGGARAN, "anggaran", bar.anggaran),
            _rect(0, y + ROW_LABEL + BAR + 2, realised, BAR, REALISASI, "realisasi", bar.realisasi),
            _text(realised + 4, y + ROW_LABEL + 2 * BAR + 1, bar.note, size=13, fill=MUTED)
            if bar.note
            else "",
            "</g>",
        ]
    return _frame(chart_id, title, description, height, body)


# Vertical bars: a group per column (a month), the value axis on the left.
PLOT_TOP = 32
PLOT_HEIGHT = 220
Y_AXIS = 84  # the value labels left of the plot
X_LABELS = 22


def vertical_bars(chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> Markup:
    """Anggaran and realisasi of each group (a month) as two columns, on one scale."""
    top, step = nice_top(max((max(b.anggaran, b.realisasi) for b in bars), default=0))
    base = PLOT_TOP + PLOT_HEIGHT
    height = base + X_LABELS
    body = _legend(0)
    for value in range(0, top + 1, step):
        y = base - scaled(value, top, PLOT_HEIGHT)
        body.append(
            f'<line x1="{Y_AXIS}" y1="{y}" x2="{WIDTH}" y2="{y}" stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(
            _text(Y_AXIS - 6, y + 4, short_rupiah(value), size=13, anchor="end", fill=MUTED)
        )
    slot = (WIDTH - Y_AXIS) // max(len(bars), 1)
    width = max(2, (slot - 8) // 2)
    for i, bar in enumerate(bars):
        x = Y_AXIS + i * slot + (slot - 2 * width) // 2
        planned, realised = (
            scaled(bar.anggaran, top, PLOT_HEIGHT),
            scaled(bar.realisasi, top, PLOT_HEIGHT),
        )
        body += [
            f'<g class="chart-group">{_group_title(bar)}',
            _rect(x, base - planned, width, planned, ANGGARAN, "anggaran", bar.anggaran),
            _rect(
                x + width, base - realised, width, realised, REALISASI, "realisasi", bar.realisasi
            ),
            _text(Y_AXIS + i * slot + slot // 2, height - 6, bar.label, size=13, anchor="middle"),
            "</g>",
        ]
    return _frame(chart_id, title, description, height, body)
