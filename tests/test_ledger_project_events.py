"""``Ledger.aggregate`` projects an aggregate's events with ``ledger.application.project_events``:
the library's ``project_aggregate`` without its runtime protocol check of each event. The same
aggregate, at every version, as the library's projector makes of the same events."""

from __future__ import annotations

from eventsourcing.application import project_aggregate

from ledger.application import Ledger, project_events
from ledger.disbursement import Disbursement, Status
from tests import factory as f


def state(aggregate: object) -> dict[str, object]:
    return dict(vars(aggregate))


def test_a_payment_read_is_the_library_projection_of_its_events(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    spp = "SPP-P1"
    for command in (
        f.request(spp, 100_000_000),
        f.verify(spp),
        f.approve(spp),
        f.authorise(spp),
        f.send(spp),
        f.settle(spp),
    ):
        ledger.execute(command)
    payment = f.disbursement_id(spp)
    events = ledger.history(payment)
    assert len(events) >= 6
    for version in range(1, len(events) + 1):
        read = ledger.aggregate(payment, Disbursement, version=version)
        expected = project_aggregate(None, events[:version])
        assert state(read) == state(expected) == state(project_events(None, events[:version]))
        assert read.version == version
    whole = ledger.disbursement(payment)
    assert state(whole) == state(project_aggregate(None, events))
    assert Status(whole.status) is Status.SETTLED
