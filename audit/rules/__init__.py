"""Every red-flag rule, by its stable code, in the order reports list them.

A rule lives in a module of its own (its query, its wording, its method in docs/red-flags.md) and
is added here. Codes never change: flags recorded years ago name them.
"""

from __future__ import annotations

from audit.flags import Rule
from audit.rules import (
    account_changed_before_payment,
    account_mismatch,
    below_threshold,
    benford_deviation,
    duplicate_payment,
    fast_track,
    kkpd_without_spj,
    new_vendor_paid,
    off_hours_approval,
    repeated_pair,
    round_amount,
    shared_bank_account,
    split_purchase,
    unexplained_debit,
    vendor_concentration,
    year_end_spike,
)

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        split_purchase.RULE,
        below_threshold.RULE,
        duplicate_payment.RULE,
        account_changed_before_payment.RULE,
        shared_bank_account.RULE,
        new_vendor_paid.RULE,
        fast_track.RULE,
        off_hours_approval.RULE,
        repeated_pair.RULE,
        vendor_concentration.RULE,
        year_end_spike.RULE,
        round_amount.RULE,
        benford_deviation.RULE,
        unexplained_debit.RULE,
        account_mismatch.RULE,
        kkpd_without_spj.RULE,
    )
}
