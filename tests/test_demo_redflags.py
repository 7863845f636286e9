"""The demo's planted schemes (kasda/demo/schemes.py) are what they say they are, and the red-flag
run the demo records at year end flags each of them with its rule and its payments.

Keyed by rule code: a rule registered in ``audit.rules.RULES`` with planted cases is checked; one
not (yet) registered is skipped by name, never passed in silence, and the set of rules checked is
the set of registered rules with planted cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from audit.frames import Frames, load
from audit.rules import RULES
from kasda.demo import HOLIDAYS, rek
from kasda.demo.redflags import FlagReport, flagging, format_flags
from kasda.demo.schemes import DIRECT_PROCUREMENT, Case
from ledger.application import Ledger
from projections.db import ReadDatabase
from projections.runner import Projector
from tests.demo_cache import demo_copy

SEED, LIFECYCLES = 7, 60  # the small year tests/test_demo_reconcile.py builds
# Every rule the issue names, and those the demo plants a case of.
ISSUE_RULES = {
    "split_purchase", "below_threshold", "duplicate_payment", "account_changed_before_payment",
    "shared_bank_account", "new_vendor_paid", "fast_track", "off_hours_approval",
    "repeated_pair", "vendor_concentration", "year_end_spike", "round_amount",
    "benford_deviation", "unexplained_debit", "account_mismatch",
}  # fmt: skip
PLANTED = (
    "split_purchase", "duplicate_payment", "account_changed_before_payment",
    "shared_bank_account", "new_vendor_paid", "fast_track", "off_hours_approval",
    "vendor_concentration", "year_end_spike",
)  # fmt: skip


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlagReport, Frames]]:
    built = demo_copy(tmp_path_factory, SEED, LIFECYCLES)  # once per session: a copy
    url, report = built.url, built.report
    assert report.redflags is not None
    ledger = Ledger(url)
    try:
        Projector(ledger).catch_up()
        db = ReadDatabase(ledger)
        try:
            frames = load(db, "32.73", b"demo red flags")
            yield report.redflags, frames
        finally:
            db.close()
    finally:
        ledger.close()


def _payments(frames: Frames, case: Case) -> pl.DataFrame:
    found = frames.payments.filter(pl.col("spp_number").is_in(list(case.spp_numbers))).collect()
    assert found.height == len(case.spp_numbers) > 0, case
    assert set(found["status"]) == {"settled"}, case
    return found


def _split(frames: Frames, case: Case) -> None:
    paid = _payments(frames, case)
    assert paid["vendor_id"].n_unique() == 1 and paid["line_id"].n_unique() == 1
    assert paid["gross"].max() < DIRECT_PROCUREMENT < paid["gross"].sum()  # type: ignore[operator]
    assert paid["requested_at"].max() - paid["requested_at"].min() <= timedelta(days=30)  # type: ignore[operator]


def _duplicate(frames: Frames, case: Case) -> None:
    paid = _payments(frames, case)
    assert paid.height == 2 and paid["vendor_id"].n_unique() == 1
    assert paid["invoice"].n_unique() == 1 and paid["invoice"][0]


def _account_changed(frames: Frames, case: Case) -> None:
    [paid] = _payments(frames, case).iter_rows(named=True)
    accounts = frames.accounts.filter(pl.col("vendor_id") == case.vendor_ids[0]).sort("position")
    registered, changed, back = accounts.collect().iter_rows(named=True)
    assert timedelta(0) < paid["authorised_at"] - changed["since"] <= timedelta(days=14)
    assert (
        back["since"] > paid["authorised_at"] and back["account_key"] == registered["account_key"]
    )
    assert changed["account_key"] != registered["account_key"]


def _shared(frames: Frames, case: Case) -> None:
    keys = frames.accounts.filter(pl.col("vendor_id").is_in(list(case.vendor_ids))).collect()
    assert keys["account_key"].n_unique() == 1 and keys["vendor_id"].n_unique() == 2


def _new_vendor(frames: Frames, case: Case) -> None:
    [paid] = _payments(frames, case).iter_rows(named=True)
    vendor = frames.vendors.filter(pl.col("vendor_id") == case.vendor_ids[0]).collect()
    assert paid["authorised_at"] - vendor["registered_at"][0] <= timedelta(days=14)
    assert paid["gross"] >= 450_000_000


def _fast(frames: Frames, case: Case) -> None:
    [paid] = _payments(frames, case).iter_rows(named=True)
    assert paid["authorised_at"] - paid["requested_at"] < timedelta(hours=1)


def _off_hours(frames: Frames, case: Case) -> None:
    ids = list(_payments(frames, case)["disbursement_id"])
    steps = frames.steps.filter(pl.col("disbursement_id").is_in(ids))
    local = steps.with_columns(frames.local("at").alias("local")).collect()
    odd = local.filter(
        (pl.col("local").dt.hour() >= 20) | (pl.col("local").dt.weekday() == 7)
        | pl.col("local").dt.date().is_in(sorted(HOLIDAYS))
    )  # fmt: skip
    assert odd.height == 1 and odd["event"][0] in ("Verified", "Authorised"), local


def _spike(frames: Frames, case: Case) -> None:
    spent = (
        frames.payments.filter((pl.col("skpd") == case.skpd) & (pl.col("status") == "settled"))
        .with_columns(frames.local("authorised_at").dt.month().alias("month"))
        .collect()
    )
    assert spent.filter(pl.col("month") == 12)["gross"].sum() > spent["gross"].sum() / 2


def _concentration(frames: Frames, case: Case) -> None:
    advertising = frames.payments.filter(
        (pl.col("skpd") == case.skpd) & (pl.col("rekening") == rek("iklan").code)
        & pl.col("authorised_at").is_not_null()
    ).collect()  # fmt: skip
    share = advertising.filter(pl.col("vendor_id") == case.vendor_ids[0])["gross"].sum()
    assert share > advertising["gross"].sum() / 2


PLANT_CHECKS: dict[str, Callable[[Frames, Case], None]] = {
    "split_purchase": _split, "duplicate_payment": _duplicate,
    "account_changed_before_payment": _account_changed, "shared_bank_account": _shared,
    "new_vendor_paid": _new_vendor, "fast_track": _fast, "off_hours_approval": _off_hours,
    "year_end_spike": _spike, "vendor_concentration": _concentration,
}  # fmt: skip


def test_the_demo_plants_each_scheme_a_few_times(year: tuple[FlagReport, Frames]) -> None:
    report, _frames = year
    planted = [case.rule for case in report.cases]
    assert set(planted) == set(PLANTED) == set(PLANT_CHECKS)
    assert set(PLANTED) <= ISSUE_RULES
    assert all(planted.count(rule) >= 1 for rule in PLANTED)
    assert len(planted) >= 12


@pytest.mark.parametrize("rule", PLANTED)
def test_each_planted_case_is_the_scheme_it_claims(
    year: tuple[FlagReport, Frames], rule: str
) -> None:
    """Checked from the store's read models, whatever rules are registered."""
    report, frames = year
    for case in report.cases:
        if case.rule == rule:
            PLANT_CHECKS[rule](frames, case)


@pytest.mark.parametrize("rule", PLANTED)
def test_each_planted_case_is_flagged_by_its_rule(
    year: tuple[FlagReport, Frames], rule: str
) -> None:
    report, _frames = year
    if rule not in RULES:
        pytest.skip(f"{rule} is not registered in audit.rules on this branch")
    assert rule in report.rules
    cases = [case for case in report.cases if case.rule == rule]
    assert cases
    for case in cases:
        mine = [f for f in report.flags if f.rule == rule]
        if case.match == "payments":
            named = [f for f in mine if set(case.disbursement_ids) <= set(f.disbursement_ids)]
        elif case.match == "vendors":
            named = [f for f in mine if set(case.vendor_ids) <= set(f.vendor_ids)]
        else:
            named = [f for f in mine if case.skpd == f.subject_id
                     or set(case.disbursement_ids) <= set(f.disbursement_ids)]  # fmt: skip
        assert named, f"planted {case.scheme} ({case.spp_numbers}) not flagged by {rule}"


def test_the_rules_checked_are_every_registered_rule_with_planted_cases(
    year: tuple[FlagReport, Frames],
) -> None:
    report, _frames = year
    checked = {case.rule for case in report.cases if flagging(case, report.flags)}
    assert checked == set(RULES) & set(PLANTED)
    assert "duplicate_payment" in checked  # registered since the engine's foundation


def test_the_summary_says_what_was_planted_and_what_flagged_it(
    year: tuple[FlagReport, Frames],
) -> None:
    report, _frames = year
    text = format_flags(report)
    for code in RULES:
        assert f"  {code} " in text
    for case in report.cases:
        spp = ", ".join(case.spp_numbers)
        if case.rule in RULES:
            assert f"planted {case.scheme} → flagged by rule {case.rule} on SPP {spp}" in text
        else:
            assert f"rule {case.rule} is not registered in this build (SPP {spp})" in text


def test_the_year_records_one_red_flag_run_as_its_auditor(
    year: tuple[FlagReport, Frames], tmp_path: Path
) -> None:
    report, _frames = year
    assert report.run_id and report.rules == tuple(RULES)
    assert len({f.id for f in report.flags}) == len(report.flags)
