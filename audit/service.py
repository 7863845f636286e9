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

from audit.engine import Detection, detect
from audit.flags import Flag
from audit.frames import load
from audit.thresholds import Thresholds
from ledger import commands as c
from ledger.application import Ledger
from ledger.redflags import MAX_FLAGS_PER_RUN
from ledger.roles import Actor
from projections.db import ReadDatabase


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
class Prepared:
    """A run of the rules, found but not yet recorded: the command that records it, and what the
    rules found. For a caller that executes commands through its own writer (the web app's)."""

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
) -> Prepared:
    """Run the rules over ``pemda``'s read models and build the command that records the run and
    every new flag; nothing is recorded (running it again on the same models is harmless)."""
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
    return Prepared(command, detection)


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
    result = ledger.execute(prepared.command)
    data: dict[str, Any] = result.data
    return RunOutcome(str(data["id"]), result.replayed, int(data["raised"]), prepared.detection)
