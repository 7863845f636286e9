"""The red-flag run at the end of the demo year, and how its flags are printed beside the schemes
the year planted (``schemes``): for each, which rule flagged it, on which SPP, or that it was not.

The run is recorded (``audit.service.record``) by the Inspektorat's auditor of the demo's users, with
the default thresholds, over every rule registered in ``audit.rules.RULES``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from audit import service, thresholds
from audit.flags import Flag
from audit.frames import secret_of
from audit.rules import RULES
from kasda.demo.pemda import PEMDA
from kasda.demo.schemes import Case
from kasda.demo.users import USERS
from kasda.demo.world import count
from kasda.settings import Settings
from ledger.application import Ledger
from ledger.roles import Actor, Role
from projections.runner import Projector

AUDITOR = Actor(USERS[Role.AUDITOR], Role.AUDITOR, None)


@dataclass(frozen=True)
class FlagReport:
    run_id: str
    rules: tuple[str, ...]  # the rules that ran: every one registered
    flags: tuple[Flag, ...]
    cases: tuple[Case, ...]  # what the year planted

    def counts(self) -> dict[str, int]:
        found = Counter(f.rule for f in self.flags)
        return {code: found[code] for code in self.rules}

    def found(self, case: Case) -> list[Flag]:
        return flagging(case, self.flags)


def flagging(case: Case, flags: Iterable[Flag]) -> list[Flag]:
    """The flags of ``case``'s rule that name what the case planted: every one of its payments,
    every one of its vendors, or its SKPD (``Case.match``)."""
    mine = [f for f in flags if f.rule == case.rule]
    payments, vendors = set(case.disbursement_ids), set(case.vendor_ids)
    if case.match == "payments":
        return [f for f in mine if payments <= set(f.disbursement_ids)]
    if case.match == "vendors":
        return [f for f in mine if vendors <= set(f.vendor_ids)]
    return [f for f in mine if f.subject_id == case.skpd or payments <= set(f.disbursement_ids)]


def record_red_flags(ledger: Ledger, cases: list[Case], settings: Settings) -> FlagReport:
    """Bring the read models up to date and record a red-flag run over the whole year."""
    projector = Projector(ledger, timezone=settings.timezone)
    try:
        projector.catch_up()
        db = projector.db
        limits = thresholds.load(PEMDA)
        outcome = service.record(ledger, db, AUDITOR, PEMDA, limits, secret_of(db))
    finally:
        projector.close()
    return FlagReport(outcome.run_id, tuple(RULES), tuple(outcome.flags), tuple(cases))


def format_flags(report: FlagReport) -> str:
    counts = report.counts()
    width = max(len(code) for code in counts) + 2 if counts else 10
    out = [
        f"Red flags (run {report.run_id}, recorded by {AUDITOR.user_id}): "
        f"{count(len(report.flags))} flags from {len(report.rules)} rules",
        *(f"  {code:<{width}}{count(n):>6}" for code, n in counts.items()),
        "",
        f"Schemes planted in the year ({len(report.cases)}):",
    ]
    for case in report.cases:
        spp = ", ".join(case.spp_numbers)
        if case.rule not in report.rules:
            verdict = f"rule {case.rule} is not registered in this build (SPP {spp})"
        elif report.found(case):
            verdict = f"flagged by rule {case.rule} on SPP {spp}"
        else:
            verdict = f"NOT flagged by rule {case.rule} (SPP {spp})"
        out.append(f"  planted {case.scheme} → {verdict}")
    return "\n".join(out)
