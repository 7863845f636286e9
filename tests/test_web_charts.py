"""The LRA's SVG charts (``web/charts.py``): valid, accessible SVG without a style attribute, axis
labels in Indonesian short forms, and bars whose lengths are proportional to integer rupiah."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from web import charts
from web.charts import Bar, nice_top, short_rupiah

SVG = "{http://www.w3.org/2000/svg}"
RUPIAH = st.integers(min_value=0, max_value=10**14)
BARS = st.lists(
    st.builds(Bar, st.text(max_size=40), RUPIAH, RUPIAH, st.sampled_from(["", "87,12%"])),
    max_size=40,
)


def parsed(markup: str) -> ET.Element:
    root = ET.fromstring(markup)  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    return root


def bars_of(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}rect") if "bar" in e.get("class", "").split()]


def check_accessible_and_styleless(root: ET.Element, markup: str) -> None:
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text and desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    for element in root.iter():
        assert "style" not in element.attrib, element.tag
        assert not element.tag.endswith("script") and not element.tag.endswith("foreignObject")
    assert "style=" not in markup


def check_proportional(lengths: list[tuple[int, int]], span: int) -> None:
    """Each (amount, length): length = amount * span / top, rounded; so for the largest amount
    V with length L, |length * V - amount * L| <= V (integers only), and the largest bar fills
    at least about half of the axis."""
    largest, longest = max(lengths, default=(0, 0))
    if largest == 0:
        assert all(length == 0 for _, length in lengths)
        return
    for amount, length in lengths:
        assert abs(length * largest - amount * longest) <= largest, (amount, length)
    assert 2 * longest >= span - 2


@settings(max_examples=150, deadline=None)
@given(BARS)
def test_horizontal_bars_are_proportional_and_have_no_style(bars: list[Bar]) -> None:
    markup = charts.horizontal_bars("g", "Belanja per SKPD", "uraian", bars)
    root = parsed(markup)
    check_accessible_and_styleless(root, markup)
    drawn = bars_of(root)
    assert len(drawn) == 2 * len(bars)
    assert [int(e.get("data-rupiah", "")) for e in drawn] == [
        v for b in bars for v in (b.anggaran, b.realisasi)
    ]
    check_proportional(
        [(int(e.get("data-rupiah", "")), int(e.get("width", ""))) for e in drawn],
        charts.WIDTH - charts.NOTE_ROOM,
    )


@settings(max_examples=150, deadline=None)
@given(BARS.filter(lambda bars: len(bars) <= 12))
def test_vertical_bars_are_proportional_and_stand_on_the_axis(bars: list[Bar]) -> None:
    markup = charts.vertical_bars("b", "Belanja per bulan", "uraian", bars)
    root = parsed(markup)
    check_accessible_and_styleless(root, markup)
    drawn = bars_of(root)
    assert len(drawn) == 2 * len(bars)
    base = charts.PLOT_TOP + charts.PLOT_HEIGHT
    for e in drawn:
        assert int(e.get("y", "")) + int(e.get("height", "")) == base
    check_proportional(
        [(int(e.get("data-rupiah", "")), int(e.get("height", ""))) for e in drawn],
        charts.PLOT_HEIGHT,
    )


def test_a_bigger_amount_never_draws_a_shorter_bar() -> None:
    bars = [Bar(str(v), v, v) for v in (0, 1, 999_999, 1_000_000, 250_000_000, 251_000_000)]
    root = parsed(charts.horizontal_bars("g", "t", "d", bars))
    widths = [int(e.get("width", "")) for e in bars_of(root)][::2]
    assert widths == sorted(widths) and widths[0] == 0 and widths[-1] > widths[-2]


def test_labels_are_escaped_text() -> None:
    markup = charts.horizontal_bars(
        "g", "<b>judul</b>", "a & b", [Bar('<script>alert(1)</script>"', 1, 1)]
    )
    root = parsed(markup)
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert not any(e.tag.endswith("script") or e.tag.endswith("b") for e in root.iter())


def test_an_empty_chart_is_still_an_image() -> None:
    for draw in (charts.horizontal_bars, charts.vertical_bars):
        markup = draw("kosong", "Belum ada data", "Belum ada data", [])
        check_accessible_and_styleless(parsed(markup), markup)


def test_short_forms_of_rupiah() -> None:
    assert short_rupiah(0) == "Rp 0"
    assert short_rupiah(999) == "Rp 999"
    assert short_rupiah(500_000) == "Rp 500 rb"
    assert short_rupiah(250_000_000) == "Rp 250 jt"
    assert short_rupiah(1_250_000) == "Rp 1,25 jt"
    assert short_rupiah(1_500_000_000) == "Rp 1,5 M"
    assert short_rupiah(176_121_257_000) == "Rp 176,12 M"
    assert short_rupiah(2 * 10**12) == "Rp 2 T"
    assert short_rupiah(1_234 * 10**12) == "Rp 1.234 T"
    assert short_rupiah(-5_000_000) == "-Rp 5 jt"


@given(st.integers(min_value=0, max_value=10**15))
def test_an_axis_reaches_the_largest_amount_with_a_round_step(largest: int) -> None:
    top, step = nice_top(largest)
    assert top >= largest and top % step == 0 and top >= step >= 1
    digits = str(step).rstrip("0")
    assert digits in ("1", "2", "5")
    assert top <= max(2 * largest, 1)
    assert step * charts.TICKS >= largest
