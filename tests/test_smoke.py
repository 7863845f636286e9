from ledger.application import Ledger
from ledger.disbursement import Status
from tests import factory as f


def test_a_payment_runs_from_spp_to_settlement(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    f.pay_in_full(ledger, "SPP-0001")
    d = ledger.disbursement(f.disbursement_id("SPP-0001"))
    assert d.status == Status.SETTLED
    assert d.net == 98_000_000
