"""Reading the year back from the store: its counts and totals, and how they are printed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from kasda.demo.pemda import PEMDA, YEAR
from kasda.demo.world import BuildReport, count, rupiah
from ledger import ids
from ledger.application import Ledger
from ledger.codes import is_spending
from ledger.disbursement import SP2D_WITHOUT_TRANSFER, Status
from ledger.errors import NotFound
from ledger.vendor import VendorKind


@dataclass(frozen=True)
class Totals:
    """What the store holds for one pemda and year, folded from its events."""

    skpd: int
    spending_lines: int
    income_lines: int
    blocked_lines: int
    vendors: int
    media_vendors: int
    users: int
    disbursements: dict[str, int]
    events: dict[str, int]
    first_event: str
    last_event: str
    amendments: int
    shifts: int
    pagu: int  # spending lines
    income_target: int
    committed: int
    realised: int
    settled: int  # every settlement, including transfers later returned
    returned: int  # every transfer the banks sent back, including those later paid again
    in_transit: int
    taxes: dict[str, int]
    # Returned transfers paid again to the vendor's new account (the same SP2D): how many, and
    # their amount, part of ``returned`` (and of ``settled`` again if the new transfer settled).
    reissued: int = 0
    repaid: int = 0

    @property
    def disbursement_count(self) -> int:
        return sum(self.disbursements.values())

    @property
    def cash_out(self) -> int:
        return self.settled - self.returned

    @property
    def available(self) -> int:
        return self.pagu - self.committed - self.realised


DOMAIN_EVENTS = "domain events"
EVENT_KINDS = {"CommandReceipt": "idempotency receipts", "DocumentNumber": "SPM/SP2D number claims"}
_FOLDED = ("Budget.", "BudgetLine.", "Vendor.", "Disbursement.")


def _receipt_kinds(ledger: Ledger) -> Counter[str]:
    """Receipts and number claims, kept apart from the log (``ledger.chained``), by kind."""
    return Counter(EVENT_KINDS[type(r).__qualname__.partition(".")[0]] for r in ledger.receipts())


def read_totals(ledger: Ledger, pemda: str = PEMDA, year: int = YEAR) -> Totals:
    """Fold every event in the store (one pass over the notification log) into the totals of
    ``pemda`` and ``year``. Event counts are of the whole store."""
    from ledger.budget import Budget, BudgetLine
    from ledger.disbursement import Disbursement
    from ledger.vendor import Vendor as VendorAggregate

    recorder = ledger.recorder
    last = recorder.max_notification_id() or 0
    events: Counter[str] = Counter()
    aggregates: dict[UUID, Any] = {}
    users: set[str] = set()
    stamps: list[datetime] = []
    start = 1
    while start <= last:
        notifications = recorder.select_notifications(start=start, limit=5_000)
        if not notifications:
            break
        for n in notifications:
            name = n.topic.rpartition(":")[2]
            events[EVENT_KINDS.get(name.partition(".")[0], DOMAIN_EVENTS)] += 1
            if name.startswith(_FOLDED):
                event = cast("Any", ledger.mapper.to_domain_event(n))
                aggregate = event.mutate(aggregates.get(event.originator_id))
                aggregates[event.originator_id] = aggregate
                if aggregate.pemda == pemda:
                    users.add(event.actor_id)
                    stamps.append(event.at)
        start = notifications[-1].id + 1
    events.update(_receipt_kinds(ledger))
    events["total"] = sum(events.values())

    budget = aggregates.get(ids.budget_id(pemda, year))
    if not isinstance(budget, Budget):
        raise NotFound(f"no APBD {year} of pemda {pemda} in the store")
    mine = [a for a in aggregates.values() if a.pemda == pemda]
    lines = [a for a in mine if isinstance(a, BudgetLine) and a.year == year]
    spending = [x for x in lines if is_spending(x.rekening)]
    vendors = [a for a in mine if isinstance(a, VendorAggregate)]
    disbursements = [a for a in mine if isinstance(a, Disbursement) and a.year == year]
    by_status = Counter(str(d.status) for d in disbursements)
    # Taxes are withheld by an SP2D that stands: authorised and not withdrawn.
    standing = {*SP2D_WITHOUT_TRANSFER, Status.SENT, Status.SETTLED, Status.RETURNED}
    taxes: Counter[str] = Counter()
    for d in disbursements:
        if d.status in standing:
            for deduction in d.deductions:
                taxes[deduction["code"]] += deduction["amount"]
    settled = sum(d.net for d in disbursements if d.status == Status.SETTLED)
    # Each re-issue answers a transfer that was settled and then returned.
    repaid = sum(d.net * d.reissues for d in disbursements)
    returned = repaid + sum(d.net for d in disbursements if d.status == Status.RETURNED)
    return Totals(
        skpd=len({x.skpd for x in lines}),
        spending_lines=len(spending),
        income_lines=len(lines) - len(spending),
        blocked_lines=sum(1 for x in lines if x.blocked),
        vendors=len(vendors),
        media_vendors=sum(1 for v in vendors if v.kind == VendorKind.MEDIA.value),
        users=len(users),
        disbursements={s.value: by_status.get(s.value, 0) for s in Status},
        events=dict(events),
        first_event=min(stamps).isoformat() if stamps else "",
        last_event=max(stamps).isoformat() if stamps else "",
        amendments=budget.amendments,
        shifts=budget.shifts,
        pagu=sum(x.pagu for x in spending),
        income_target=sum(x.pagu for x in lines if not is_spending(x.rekening)),
        committed=sum(x.committed for x in spending),
        realised=sum(x.realised for x in spending),
        settled=settled + returned,
        returned=returned,
        in_transit=sum(d.net for d in disbursements if d.status == Status.SENT),
        taxes=dict(sorted(taxes.items())),
        reissued=sum(d.reissues for d in disbursements),
        repaid=repaid,
    )


def format_totals(totals: Totals, report: BuildReport | None = None) -> str:
    t = totals
    rows: list[tuple[str, str]] = [
        ("SKPD", count(t.skpd)),
        ("budget lines", f"{count(t.spending_lines + t.income_lines)}  "
         f"({count(t.spending_lines)} spending, {count(t.income_lines)} income; "
         f"{t.blocked_lines} blocked at year end)"),
        ("APBD changes", f"{t.amendments} APBD-P, {t.shifts} pergeseran"),
        ("vendors", f"{count(t.vendors)}  ({count(t.media_vendors)} media companies)"),
        ("users", count(t.users)),
        ("disbursements (SPP-LS)", count(t.disbursement_count)),
    ]  # fmt: skip
    rows += [(f"  {status}", count(n)) for status, n in t.disbursements.items()]
    rows.append(("events stored", count(t.events.get("total", 0))))
    rows += [
        (f"  {kind}", count(t.events.get(kind, 0)))
        for kind in (DOMAIN_EVENTS, *EVENT_KINDS.values())
    ]
    rows.append(("events dated", f"{t.first_event[:16]} .. {t.last_event[:16]} (WIB)"))
    money: list[tuple[str, str]] = [
        ("pagu belanja (spending lines)", rupiah(t.pagu)),
        ("target pendapatan (income lines)", rupiah(t.income_target)),
        ("committed (SPP, no SP2D yet)", rupiah(t.committed)),
        ("realised (SP2D issued)", rupiah(t.realised)),
        ("available", rupiah(t.available)),
        ("settled transfers out of the RKUD", rupiah(t.settled)),
        ("  returned by the banks", rupiah(t.returned)),
        (f"  of which paid again to a new account ({t.reissued}x)", rupiah(t.repaid)),
        ("  net cash out", rupiah(t.cash_out)),
        ("in transit (sent, not settled)", rupiah(t.in_transit)),
        ("taxes withheld", rupiah(sum(t.taxes.values()))),
    ]
    money += [(f"  {code}", rupiah(amount)) for code, amount in t.taxes.items()]
    width = max(len(label) for label, _ in rows + money) + 2
    out = ["Counts"] + [f"  {label:<{width}}{value}" for label, value in rows]
    out += ["", "Totals"] + [f"  {label:<{width}}{value:>26}" for label, value in money]
    if report is not None:
        refused = ", ".join(f"{rule} {n}" for rule, n in sorted(report.refused.items()))
        out += [
            "",
            f"This run: {count(report.commands)} commands in {count(report.batches)} batches "
            "(one per working day and time of day)",
            f"  refused by the ledger's rules, as planned: {sum(report.refused.values())} ({refused})",
            "  paid through the gateway simulator (Iris): "
            + ", ".join(f"{outcome} {n}" for outcome, n in sorted(report.payouts.items())),
            f"  payouts the payout service refused to send, as planned: {report.blocked}",
            f"  income billed by QRIS or virtual account and paid at the simulator: "
            f"{count(report.receipts)}",
            f"  Iris notifications delivered twice, nothing recorded the second time: "
            f"{report.replays}",
        ]
        out += [f"  {report.year_end}"] if report.year_end else []
        out += [f"  {report.kkpd}"] if report.kkpd else []
    return "\n".join(out)
