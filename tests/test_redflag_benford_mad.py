"""The first-digit MAD of ``benford_deviation``, on frames built directly: against a
straightforward reference for any amounts, and the marginal range flagged only when asked."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import thresholds
from audit.engine import detect
from audit.frames import PAYMENTS, STEPS, Frames, empty
from audit.rules.benford_deviation import CHANCE, conformity

KEYS = ["year", "skpd"]
AMOUNTS = st.lists(
    st.tuples(st.sampled_from(["A", "B"]), st.integers(1, 10**15)), min_size=1, max_size=200
)


def reference(amounts: list[int]) -> tuple[int, float]:
    """The count and MAD of amounts of 10 and more, digit by digit as the textbook writes it."""
    kept = [str(a) for a in amounts if a >= 10]
    if not kept:
        return 0, math.nan
    return len(kept), sum(
        abs(sum(a[0] == str(d) for a in kept) / len(kept) - math.log10(1 + 1 / d))
        for d in range(1, 10)
    ) / 9


@settings(max_examples=60, deadline=None)
@given(rows=AMOUNTS)
def test_the_mad_per_skpd_is_the_textbook_one(rows: list[tuple[str, int]]) -> None:
    paid = pl.LazyFrame(
        {"year": [2026] * len(rows), "skpd": [s for s, _ in rows], "gross": [g for _, g in rows]},
        schema={"year": pl.Int64, "skpd": pl.String, "gross": pl.Int64},
    )
    got = {r["skpd"]: r for r in conformity(paid, KEYS).collect().iter_rows(named=True)}
    for skpd in {s for s, _ in rows}:
        count, mad = reference([g for s, g in rows if s == skpd])
        if count == 0:
            assert skpd not in got
            continue
        assert got[skpd]["count"] == count
        assert math.isclose(got[skpd]["mad"], mad, rel_tol=1e-9, abs_tol=1e-12)
        excess = [got[skpd]["observed"][d - 1] - math.log10(1 + 1 / d) for d in range(1, 10)]
        assert math.isclose(excess[got[skpd]["digit"] - 1], max(excess), abs_tol=1e-12)


def frames_of(amounts: list[int]) -> Frames:
    """One SKPD's SP2D of ``amounts``, each with its Authorised step."""
    start = datetime(2026, 3, 2, 2, tzinfo=UTC)
    moments = [start + timedelta(minutes=i) for i in range(len(amounts))]
    ids = [f"d-{i}" for i in range(len(amounts))]
    payments = pl.DataFrame(
        {"disbursement_id": ids, "year": [2026] * len(ids), "skpd": ["1.01"] * len(ids),
         "rekening": ["5.1"] * len(ids), "vendor_id": ["v"] * len(ids), "gross": amounts,
         "status": ["authorised"] * len(ids), "authorised_at": moments},
    ).lazy()  # fmt: skip
    payments = pl.concat([pl.LazyFrame(schema=PAYMENTS), payments], how="diagonal_relaxed")
    steps = pl.LazyFrame(
        {"disbursement_id": ids, "event": ["Authorised"] * len(ids), "at": moments,
         "version": [4] * len(ids), "position": list(range(1, len(ids) + 1))},
    )  # fmt: skip
    steps = pl.concat([pl.LazyFrame(schema=STEPS), steps], how="diagonal_relaxed")
    return replace(empty("32.73"), payments=payments, steps=steps)


def test_marginal_conformity_is_flagged_low_only_when_the_pemda_asks(tmp_path: Path) -> None:
    # 3,000 amounts with Benford's digits but 1s moved to 2s until the MAD is marginal (0.013):
    # 9 * 0.013 / 2 = 5.85 points moved, 176 amounts.
    amounts = [int(10 ** (5 + 3 * (i + 0.5) / 3000)) for i in range(3000)]
    ones = [i for i, a in enumerate(amounts) if str(a)[0] == "1"][:176]
    for i in ones:
        amounts[i] = 2 * 10 ** (len(str(amounts[i])) - 1) + 12_345
    _, mad = reference(amounts)
    assert 0.012 < mad < 0.015 and mad > 1.75 * CHANCE / math.sqrt(3000)
    frames = frames_of(amounts)
    assert detect(frames, thresholds.defaults(), ["benford_deviation"]).flags == []
    limits = tmp_path / "limits.toml"
    limits.write_text("[benford_deviation]\nflag_marginal = true\n")
    [flag] = detect(frames, thresholds.load("32.73", limits), ["benford_deviation"]).flags
    assert flag.severity == "low" and "kesesuaian marginal" in flag.explanation_id
    assert flag.disbursement_ids and all(e.position > 0 for e in flag.evidence)


def test_the_spending_rules_read_an_empty_history_with_the_flag_schema() -> None:
    codes = ["vendor_concentration", "year_end_spike", "round_amount", "benford_deviation"]
    found = detect(empty("32.73"), thresholds.defaults(), codes)  # the engine checks the dtypes
    assert found.flags == [] and set(codes) <= set(found.seconds)
