"""Red flags as facts of the ledger: each run of the rules, and each inspector's review.

The rules run outside the ledger (``audit/``, over the read models); what they found becomes
history here, so that nobody can later say a flag was never raised, or quietly drop one:

- ``RedFlagRun``: one run over one pemda's log up to ``position``, with the thresholds it used
  (and their digest), the rules it ran and the ids of every flag it found. Its id is derived from
  exactly those, so the same run again collides instead of recording twice.
- ``RedFlag``: one finding, raised by the first run that found it, with its full content (rule,
  severity, subject, amount, period, payments, vendors, evidence, explanation). Later runs that find
  it again only list its id. An inspector (the auditor role, nobody else) reviews it: confirmed,
  dismissed with a reason, or escalated to the APIP; a confirmed or dismissed flag is closed,
  an escalated one is decided later.

A flag never blocks a payment by itself; it is returned as a warning where a payment is decided
(``projections.queries.open_flags``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import ids
from ledger.errors import InvalidInput, InvalidTransition
from ledger.fields import MAX_NUMBER, name, text
from ledger.stamp import Stamp
from ledger.triggers import fast_triggers

# The fields of a recorded flag, in this order everywhere (issue 15, point 1).
FLAG_FIELDS = (
    "id", "rule", "severity", "subject", "amount", "period", "disbursement_ids", "vendor_ids",
    "evidence", "explanation",
)  # fmt: skip
SEVERITIES = ("high", "medium", "low")
SUBJECT_KINDS = ("disbursement", "vendor", "skpd", "user", "line")
DECISIONS = ("confirmed", "dismissed", "escalated")
CLOSED = frozenset({"confirmed", "dismissed"})
MAX_FLAGS_PER_RUN = 10_000
MAX_IDS_PER_FLAG = 500
MAX_EVIDENCE_PER_FLAG = 1_000
MAX_EXPLANATION = 2_000
_RULE_CODE = re.compile(r"[a-z][a-z0-9_]{1,47}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _uuid_text(value: Any, what: str) -> str:
    try:
        return str(UUID(str(value)))
    except ValueError:
        raise InvalidInput(f"{what} must be a UUID, got {value!r}") from None


def _ids(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_IDS_PER_FLAG:
        raise InvalidInput(f"{what} must be a list of at most {MAX_IDS_PER_FLAG} ids")
    return [_uuid_text(v, what) for v in value]


def _count(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:
        raise InvalidInput(f"{what} must be a non-negative integer, got {value!r}")
    return value


def _evidence(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_EVIDENCE_PER_FLAG:
        raise InvalidInput(f"a flag names 1..{MAX_EVIDENCE_PER_FLAG} events as its evidence")
    if not all(isinstance(e, dict) for e in value):
        raise InvalidInput("evidence is a list of {aggregate_id, version, position}")
    return [
        {
            "aggregate_id": _uuid_text(e.get("aggregate_id"), "evidence aggregate_id"),
            "version": _count(e.get("version"), "evidence version"),
            "position": _count(e.get("position"), "evidence position"),
        }
        for e in value
    ]


def _period(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidInput("a flag's period is {from, to}")
    start, end = value.get("from"), value.get("to")
    if not (isinstance(start, str) and isinstance(end, str)):
        raise InvalidInput("a flag's period is two ISO days")
    if not (_DAY.fullmatch(start) and _DAY.fullmatch(end)) or start > end:
        raise InvalidInput(f"a flag's period must be two ISO days in order, got {start}..{end}")
    return {"from": start, "to": end}


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"{what} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def checked_flag(item: Any) -> dict[str, Any]:
    """A flag as the rules produced it (``audit.flags.Flag.as_dict``), checked field by field:
    what the ledger records must be whole, typed and bounded whoever built it."""
    if not isinstance(item, dict) or tuple(item) != FLAG_FIELDS:
        raise InvalidInput(f"a flag has exactly the fields {', '.join(FLAG_FIELDS)}")
    rule = item["rule"]
    if not isinstance(rule, str) or not _RULE_CODE.fullmatch(rule):
        raise InvalidInput(f"a rule code is lower_snake_case, got {rule!r}")
    subject, explanation = item["subject"], item["explanation"]
    if not isinstance(subject, dict) or not isinstance(explanation, dict):
        raise InvalidInput("a flag's subject is {kind, id} and its explanation {id, en}")
    return {
        "id": _uuid_text(item["id"], "flag id"),
        "rule": rule,
        "severity": _choice(item["severity"], SEVERITIES, "severity"),
        "subject": {
            "kind": _choice(subject.get("kind"), SUBJECT_KINDS, "subject kind"),
            "id": name(subject.get("id"), "subject id", max_length=MAX_NUMBER),
        },
        "amount": _count(item["amount"], "amount"),
        "period": _period(item["period"]),
        "disbursement_ids": _ids(item["disbursement_ids"], "disbursement_ids"),
        "vendor_ids": _ids(item["vendor_ids"], "vendor_ids"),
        "evidence": _evidence(item["evidence"]),
        "explanation": {
            "id": text(explanation.get("id"), "explanation (id)", max_length=MAX_EXPLANATION),
            "en": text(explanation.get("en"), "explanation (en)", max_length=MAX_EXPLANATION),
        },
    }


@fast_triggers
class RedFlagRun(Aggregate):
    @staticmethod
    def create_id(
        pemda: str, position: int, as_of: str | None, thresholds_digest: str, rules: list[str]
    ) -> UUID:
        return ids.red_flag_run_id(pemda, position, as_of, thresholds_digest, rules)

    @classmethod
    def record(
        cls,
        pemda: str,
        position: int,
        as_of: str | None,
        thresholds: dict[str, Any],
        digest: str,
        rules: list[str],
        flag_ids: list[str],
        truncated: dict[str, int],
        by: Stamp,
    ) -> RedFlagRun:
        assert position >= 0 and len(flag_ids) <= MAX_FLAGS_PER_RUN
        assert rules == sorted(set(rules)), rules
        return cls(
            pemda=pemda, position=position, as_of=as_of, thresholds=thresholds,
            thresholds_digest=digest, rules=rules, flag_ids=flag_ids, truncated=truncated,
            **by.recorded(),
        )  # fmt: skip

    @event("Recorded")
    def __init__(
        self,
        pemda: str,
        position: int,
        as_of: str | None,
        thresholds: dict[str, Any],
        thresholds_digest: str,
        rules: list[str],
        flag_ids: list[str],
        truncated: dict[str, int],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.position = position
        self.as_of = as_of
        self.thresholds_digest = thresholds_digest
        self.rules = list(rules)
        self.flag_ids = list(flag_ids)


@fast_triggers
class RedFlag(Aggregate):
    @staticmethod
    def create_id(pemda: str, flag: dict[str, Any]) -> UUID:
        return ids.red_flag_id(pemda, flag["id"])

    @classmethod
    def raise_(cls, pemda: str, run_id: UUID, flag: dict[str, Any], by: Stamp) -> RedFlag:
        """The first run that found ``flag`` (checked by ``checked_flag``) raises it."""
        assert tuple(flag) == FLAG_FIELDS
        return cls(pemda=pemda, run_id=str(run_id), flag=flag, **by.recorded())

    @event("Raised")
    def __init__(
        self,
        pemda: str,
        run_id: str,
        flag: dict[str, Any],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.flag_id = flag["id"]
        self.rule = flag["rule"]
        self.status = "open"
        self.decided_by: list[str] = []

    def review(self, decision: str, reason: str, by: Stamp) -> None:
        _choice(decision, DECISIONS, "decision")
        if self.status in CLOSED:
            raise InvalidTransition(
                f"red flag {self.flag_id} is already {self.status}; a closed flag stays closed"
            )
        if decision == self.status:
            raise InvalidTransition(f"red flag {self.flag_id} is already {decision}")
        self._reviewed(decision=decision, reason=reason, **by.recorded())

    @event("Reviewed")
    def _reviewed(
        self, decision: str, reason: str, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.status = decision
        self.decided_by.append(actor_id)
