"""Every red-flag rule, by its stable code, in the order reports list them.

A rule lives in a module of its own (its query, its wording, its method in docs/red-flags.md) and
is added here. Codes never change: flags recorded years ago name them.
"""

from __future__ import annotations

from audit.flags import Rule
from audit.rules import (
    account_mismatch,
    benford_deviation,
    duplicate_payment,
    fast_track,
    off_hours_approval,
    repeated_pair,
    round_amount,
    unexplained_debit,
    vendor_concentration,
    year_end_spike,
)

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        duplicate_payment.RULE,
        fast_track.RULE,
        off_hours_approval.RULE,
        repeated_pair.RULE,
        vendor_concentration.RULE,
        year_end_spike.RULE,
        round_amount.RULE,
        benford_deviation.RULE,
        unexplained_debit.RULE,
        account_mismatch.RULE,
    )
}
