"""Plain-text reports for the command line: the APBD as of a moment, and a disbursement's history."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from kasda.demo import count, rupiah
from ledger.application import Ledger
from ledger.codes import is_spending
from ledger.history import HistoryEntry, budget_as_of, history


def print_budget_as_of(
    ledger: Ledger, pemda: str, year: int, *, as_of: datetime | None, position: int | None
) -> None:
    past = budget_as_of(ledger, pemda, year, as_of=as_of, position=position)
    when = as_of.isoformat() if as_of is not None else f"position {position}"
    print(f"APBD {year} of pemda {pemda} as of {when}")
    print(f"  documents: {', '.join(past.budget.documents)}")
    by_skpd: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for line in past.lines:
        if is_spending(line.rekening):
            totals = by_skpd[line.skpd]
            totals[0] += line.pagu
            totals[1] += line.committed
            totals[2] += line.realised
    print(f"  {'SKPD':<24} {'pagu':>22} {'committed':>20} {'realised':>22} {'%':>6}")
    for skpd, (pagu, committed, realised) in sorted(by_skpd.items()):
        share = f"{realised * 100 // pagu}" if pagu else "-"
        print(
            f"  {skpd:<24} {rupiah(pagu):>22} {rupiah(committed):>20} {rupiah(realised):>22} {share:>6}"
        )
    statuses = Counter(str(d.status) for d in past.disbursements)
    listed = ", ".join(f"{s} {count(n)}" for s, n in sorted(statuses.items()))
    print(f"  disbursements: {count(len(past.disbursements))} ({listed})")


def print_history(rows: list[HistoryEntry]) -> None:
    for row in rows:
        said = ", ".join(f"{k}={v}" for k, v in row.details.items() if k in _SHOWN)
        print(
            f"{row.version:>3}  {row.at.isoformat()}  {row.event:<20} "
            f"{row.actor_id} ({row.actor_role})  {said}"
        )


_SHOWN = {
    "spp_number",
    "gross",
    "net",
    "spm_number",
    "sp2d_number",
    "bank_account",
    "gateway",
    "reference",
    "bank_reference",
    "reason",
    "step",
    "previous_status",
}


def disbursement_history(ledger: Ledger, pemda: str, year: int, spp_number: str) -> None:
    from ledger import ids

    print_history(history(ledger, ids.disbursement_id(pemda, year, spp_number)))
