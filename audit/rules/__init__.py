"""Every red-flag rule, by its stable code, in the order reports list them.

A rule lives in a module of its own (its query, its wording, its method in docs/red-flags.md) and
is added here. Codes never change: flags recorded years ago name them.
"""

from __future__ import annotations

from audit.flags import Rule
from audit.rules import (
    account_changed_before_payment,
    below_threshold,
    duplicate_payment,
    new_vendor_paid,
    shared_bank_account,
    split_purchase,
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
    )
}
