"""Typed domain errors. Each names the rule that was broken; raising one appends nothing."""

from __future__ import annotations


class DomainError(Exception):
    """A command broke a rule of regional finance law or of the ledger itself.

    ``rule`` is a stable machine-readable name (used in API problem documents and logs);
    the message says what happened in words.
    """

    rule: str = "domain_rule"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[type[DomainError], tuple[str]]:
        # Errors cross process boundaries in the concurrency tests and benchmarks.
        return (type(self), (self.message,))


class InvalidAmount(DomainError):
    rule = "amount_integer_rupiah"


class InvalidCode(DomainError):
    rule = "permendagri_90_code"


class InvalidInput(DomainError):
    rule = "invalid_input"


class LimitExceeded(DomainError):
    rule = "explicit_limit"


class PaguExceeded(DomainError):
    rule = "committed_plus_realised_within_pagu"


class AmendmentBelowUsage(DomainError):
    rule = "pagu_not_below_committed_plus_realised"


class SpdExceeded(DomainError):
    """Spending beyond what the SKPD's SPD has released for the period, or an SPD beyond its
    anggaran kas (Permendagri 77/2020)."""

    rule = "spending_within_spd"


class CashPlanMismatch(DomainError):
    """An anggaran kas that does not spread a line's pagu, or no longer covers the SPD issued."""

    rule = "anggaran_kas_covers_pagu_and_spd"


class YearClosed(DomainError):
    """The fiscal year is closed (tutup tahun): its budget, lines, SPD and income are final."""

    rule = "closed_year_accepts_no_spending"


class AdvanceRule(DomainError):
    """A rule of the bendahara's advance (UP/GU/TU, Permendagri 77/2020) or of its cards (KKPD,
    Permendagri 79/2022): a ceiling, a limit, a deadline, an SPJ to account for first."""

    rule = "advance_within_its_rules"


class LineBlocked(DomainError):
    rule = "no_commitment_on_blocked_line"


class SeparationOfDuties(DomainError):
    rule = "separation_of_duties"


class RoleNotPermitted(DomainError):
    rule = "step_requires_role"


class VendorNotPayable(DomainError):
    rule = "payment_to_registered_vendor_only"


class BankAccountChanged(DomainError):
    rule = "payment_to_account_as_at_sp2d"


class InvalidTransition(DomainError):
    rule = "disbursement_lifecycle"


class ReturnedToSameAccount(DomainError):
    """A returned transfer paid again to the account it bounced from (no account change since)."""

    rule = "repay_only_to_changed_account"


class SubscriptionLifecycle(DomainError):
    """A change a feed subscription in its state cannot take (pause a paused one, touch a
    deleted one: ``ledger.feed``)."""

    rule = "subscription_lifecycle"


class IdempotencyKeyReused(DomainError):
    rule = "idempotency_key_reused_with_other_command"


class AlreadyExists(DomainError):
    rule = "unique_identity"


class NotFound(DomainError):
    rule = "not_found"


class BudgetNotOpen(DomainError):
    rule = "budget_must_be_adopted"


class ConcurrencyConflict(DomainError):
    """Other writers kept changing the same aggregates; the command was not applied."""

    rule = "optimistic_concurrency"


class SkpdScope(DomainError):
    """An official of one SKPD acted on (or asked for) another SKPD's line or payment."""

    rule = "skpd_scope"


class InvariantViolation(Exception):
    """A write that would break the books: an unbalanced journal entry, an amount outside its
    limits, a budget line using more than its pagu. Never the sender's fault (that is a
    ``DomainError``, refused before any event is triggered): a bug in kasda, caught by the
    assertions run on every write before it commits (``ledger.invariants``), so nothing of it is
    stored."""
