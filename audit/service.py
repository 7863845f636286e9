"""Run the rules and record what they found: the one door the CLI, the API and the nightly job use.

A run reads the read models at their current log position, so that what it records says exactly
what history it looked at. The command's idempotency key is derived from the run and its flags: the
same position, thresholds and rules again (a second cron, a retry) replays the first answer and
records nothing new; the same run finding other flags (kasda's rules changed in between) is
refused as already recorded, and says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from audit.engine import Detection, detect
from audit.flags import Flag
from audit.frames import load
from audit.rules import RULES
from audit.thresholds import Thresholds
from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.errors import IdempotencyKeyReused
from ledger.redflags import MAX_FLAGS_PER_RUN, RedFlagRun
from ledger.roles import Actor
from projections.db import ReadDatabase
from projections.queries import open_flags, red_flag


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_id: str
    replayed: bool  # True: this run was recorded before; nothing new was written
    raised: int  # flags found for the first time by this run
    detection: Detection

    @property
    def flags(self) -> list[Flag]:
        return self.detection.flags


def find(
    db: ReadDatabase,
    pemda: str,
    thresholds: Thresholds,
    secret: bytes,
    *,
    as_of: date | None = None,
    rules: list[str] | None = None,
) -> Detection:
    """The flags of ``pemda`` now (or as of the end of ``as_of``), recording nothing."""
    return detect(load(db, pemda, secret, as_of), thresholds, rules)


def _key(pemda: str, detection: Detection, position: int, digest: str, rules: list[str]) -> str:
    raw = "\n".join([pemda, str(position), digest, *rules, *(f.id for f in detection.flags)])
    return "redflags:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A run done and worded as the command that records it, not yet executed: the API hands the
    command to its writer (group commit), the CLI to the ledger (``record``)."""

    command: c.RecordRedFlagRun
    detection: Detection


def prepare(
    db: ReadDatabase,
    actor: Actor,
    pemda: str,
    thresholds: Thresholds,
    secret: bytes,
    *,
    as_of: date | None = None,
    rules: list[str] | None = None,
) -> PreparedRun:
    """Run the rules over ``pemda``'s read models; the command that records the run and its flags."""
    frames = load(db, pemda, secret, as_of)
    detection = detect(frames, thresholds, rules)
    ran = sorted(detection.seconds.keys() - {"load"})
    flags = detection.flags[:MAX_FLAGS_PER_RUN]
    truncated = dict(detection.truncated)
    if len(detection.flags) > MAX_FLAGS_PER_RUN:
        truncated["*"] = len(detection.flags) - MAX_FLAGS_PER_RUN
    command = c.RecordRedFlagRun(
        idempotency_key=_key(pemda, detection, frames.position, thresholds.digest, ran),
        actor=actor,
        pemda=pemda,
        position=frames.position,
        as_of=None if as_of is None else as_of.isoformat(),
        thresholds=thresholds.as_dict(),
        thresholds_digest=thresholds.digest,
        rules=tuple(ran),
        flags=tuple(f.as_dict() for f in flags),
        truncated=truncated,
    )
    return PreparedRun(command, detection)


def record(
    ledger: Ledger,
    db: ReadDatabase,
    actor: Actor,
    pemda: str,
    thresholds: Thresholds,
    secret: bytes,
    *,
    as_of: date | None = None,
    rules: list[str] | None = None,
) -> RunOutcome:
    """Run the rules over ``pemda``'s read models and record the run and every new flag."""
    prepared = prepare(db, actor, pemda, thresholds, secret, as_of=as_of, rules=rules)
    try:
        result = ledger.execute(prepared.command)
    except IdempotencyKeyReused:
        # The run's key is the run's, not the person's: the same run recorded by someone else.
        return RunOutcome(str(recorded_run(ledger, prepared.command)), True, 0, prepared.detection)
    data: dict[str, Any] = result.data
    return RunOutcome(str(data["id"]), result.replayed, int(data["raised"]), prepared.detection)


def run_id_of(command: c.RecordRedFlagRun) -> UUID:
    """The id of the run ``command`` records: its pemda, position, day, thresholds and rules."""
    return ids.red_flag_run_id(
        command.pemda, command.position, command.as_of, command.thresholds_digest,
        sorted(command.rules),
    )  # fmt: skip


def recorded_run(ledger: Ledger, command: c.RecordRedFlagRun) -> UUID:
    """The id of the run ``command`` records, which must be recorded already (``NotFound``)."""
    run_id = run_id_of(command)
    ledger.aggregate(run_id, RedFlagRun)
    return run_id


# -- warnings where a payment is decided ---------------------------------------------------------
# The rules cheap enough to run live over one vendor's history, and whose finding must not wait for
# the night's run: an account changed three days ago warns the Kuasa BUD today.
LIVE_RULES = ("account_changed_before_payment", "duplicate_payment")
WARNING_FIELDS = ("id", "rule", "severity", "explanation", "recorded")


def warning(flag: dict[str, Any], *, recorded: bool) -> dict[str, Any]:
    """A flag (``FLAG_FIELDS``, or a read model's row of it) as a short warning."""
    return {
        "id": flag["id"],
        "rule": flag["rule"],
        "severity": flag["severity"],
        "explanation": dict(flag["explanation"]),
        "recorded": recorded,  # False: found live just now, by no recorded run yet
    }


def warnings(
    db: ReadDatabase,
    pemda: str,
    disbursement_id: str,
    vendor_id: str | None,
    thresholds: Thresholds,
    secret: bytes,
) -> list[dict[str, Any]]:
    """The warnings for deciding this payment: the recorded flags not dismissed that name it or
    its vendor (``projections.queries.open_flags``), then what the live rules find now over that
    vendor's history alone and that names this payment or vendor, once per flag id. They never
    block: whoever decides reads them."""
    found = {
        flag["id"]: warning(flag, recorded=True)
        for flag in open_flags(db, pemda, disbursement_id=disbursement_id, vendor_id=vendor_id)
    }
    live = [code for code in LIVE_RULES if code in RULES]
    if vendor_id is not None and live:
        frames = load(db, pemda, secret, vendor_id=vendor_id)
        for flag in detect(frames, thresholds, live).flags:
            names = disbursement_id in flag.disbursement_ids or vendor_id in flag.vendor_ids
            if names and flag.id not in found and not _dismissed(db, pemda, flag.id):
                found[flag.id] = warning(flag.as_dict(), recorded=False)
    return list(found.values())


def _dismissed(db: ReadDatabase, pemda: str, flag_id: str) -> bool:
    """Whether an inspector dismissed this flag: found live again, it stays quiet (a vendor's live
    flags are a handful, so one lookup each)."""
    recorded = red_flag(db, pemda, flag_id)
    return recorded is not None and recorded["status"] == "dismissed"
