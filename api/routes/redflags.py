"""Red flags for the inspectorate (``audit/``, ``ledger/redflags.py``, docs/red-flags.md): list and
filter the recorded flags, read one with its evidence and reviews, review one; list the runs, and
run the rules now and record the run.

The flags name payments of every SKPD: they are the auditor's (the inspectorate's) to read and to
review, nobody else's. A run may be recorded by the roles of ``ledger.roles.RECORD_RED_FLAGS``.
Reads come from the read models (``proj_flag``...), as fresh as ``latest`` by default.

A run is CPU work over the pemda's whole history: it runs in a worker thread on a read-model
connection (``ReadModels.read``), then its command goes through the group-commit writer like every
other write. Its identity is what it read (log position, thresholds, rules): the same run twice
records once and answers ``replayed``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from anyio import to_thread
from fastapi import Depends, Path, Query, Request, Response

from api import auth
from api.auth import Principal
from api.deps import (
    After,
    IdempotencyKey,
    LedgerDep,
    Limit,
    ListFreshness,
    Offset,
    ReadModelsDep,
    WriterDep,
    listed,
    read,
    run,
)
from api.models import (
    CommandOut,
    EvidenceOut,
    FlagWarningOut,
    Page,
    RedFlagDetailOut,
    RedFlagOut,
    RedFlagRunDoneOut,
    RedFlagRunIn,
    RedFlagRunOut,
    ReviewRedFlagIn,
)
from api.problems import ProblemError, responses
from api.routing import AreaRouter
from audit import service, thresholds
from audit.frames import secret_of
from ledger import commands as c
from ledger import roles
from ledger.application import Ledger
from ledger.errors import IdempotencyKeyReused, InvalidInput, NotFound
from ledger.redflags import RedFlagRun
from ledger.roles import Role
from projections import queries as q
from projections.db import ReadDatabase

router = AreaRouter(
    prefix="/pemda/{pemda}", tags=["red flags"], responses=responses(401, 403, 404, 422)
)

INSPECT = auth.Allow(Role.AUDITOR)
RECORD = auth.Allow(*roles.RECORD_RED_FLAGS)
Inspector = Annotated[Principal, Depends(INSPECT)]
Recorder = Annotated[Principal, Depends(RECORD)]
WRITE = responses(409)

FlagId = Annotated[UUID, Path(description="the flag's id (its `id`, stable across runs)")]
Severity = Annotated[
    str | None, Query(pattern="^(high|medium|low)$", description="high, medium, low")
]
Status = Annotated[
    str | None,
    Query(pattern="^(open|confirmed|dismissed|escalated)$", description="where its review stands"),
]
# Where an evidence event's thing can be read: the history routes of the API.
_HISTORY = {
    "Disbursement": "/pemda/{pemda}/disbursements/{id}/history",
    "ReconciliationRun": "/pemda/{pemda}/reconciliation/runs/{id}",
}


def flag_link(pemda: str, flag_id: str) -> str:
    return f"/pemda/{pemda}/redflags/{flag_id}"


def _flag_out(row: dict[str, Any]) -> RedFlagOut:
    return RedFlagOut.model_validate(row)


@router.get(
    "/redflags",
    summary="The pemda's red flags, high severity and most money first",
    openapi_extra=INSPECT.doc,
)
async def list_flags(
    who: Inspector,
    models: ReadModelsDep,
    response: Response,
    rule: Annotated[str | None, Query(max_length=48, description="a rule's code")] = None,
    severity: Severity = None,
    status: Status = None,
    skpd: Annotated[
        str | None, Query(max_length=32, description="about this SKPD or naming its payments")
    ] = None,
    vendor_id: Annotated[UUID | None, Query(description="naming this vendor")] = None,
    disbursement_id: Annotated[UUID | None, Query(description="naming this payment")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> Page[RedFlagOut]:
    def build(db: ReadDatabase) -> Page[RedFlagOut]:
        rows = q.red_flags(
            db, who.pemda, rule=rule, severity=severity, status=status, skpd=skpd,
            vendor_id=None if vendor_id is None else str(vendor_id),
            disbursement_id=None if disbursement_id is None else str(disbursement_id),
            limit=limit, offset=offset,
        )  # fmt: skip
        return listed(rows, limit, offset, _flag_out)

    return await read(models, build, response, freshness=freshness, after=after)


@router.get(
    "/redflags/{flag_id}",
    summary="One red flag with its evidence (each event linked to its history) and its reviews",
    openapi_extra=INSPECT.doc,
)
async def get_flag(
    flag_id: FlagId,
    who: Inspector,
    models: ReadModelsDep,
    response: Response,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> RedFlagDetailOut:
    def build(db: ReadDatabase) -> RedFlagDetailOut:
        found = q.red_flag(db, who.pemda, str(flag_id))
        if found is None:  # not a flag, or another pemda's: the same answer
            raise NotFound(f"no red flag {flag_id} in pemda {who.pemda}")
        events = found["evidence"]
        owned = q.kinds_owned(db, who.pemda, [e["aggregate_id"] for e in events])
        vendors = [a for a, kind in owned.items() if kind == "Vendor"]
        npwps = q.vendor_npwps(db, who.pemda, vendors) if vendors else {}
        found["evidence"] = [_evidence(who.pemda, e, owned, npwps) for e in events]
        return RedFlagDetailOut.model_validate(found)

    return await read(models, build, response, freshness=freshness, after=after)


def _evidence(
    pemda: str, event: dict[str, Any], owned: dict[str, str], npwps: dict[str, str]
) -> EvidenceOut:
    """An evidence event with what it is and where its history is read (a vendor's page is its
    NPWP's: the vendor and its current account)."""
    aggregate = event["aggregate_id"]
    kind = owned.get(aggregate)
    link = None
    if kind is not None and kind in _HISTORY:
        link = _HISTORY[kind].format(pemda=pemda, id=aggregate)
    elif kind == "Vendor" and aggregate in npwps:
        link = f"/pemda/{pemda}/vendors/{npwps[aggregate]}"
    return EvidenceOut(**event, kind=kind, link=link)


@router.post(
    "/redflags/{flag_id}/reviews",
    status_code=201,
    summary="An inspector's decision on a flag: confirmed, dismissed (with the reason), escalated",
    openapi_extra=INSPECT.doc,
    responses=WRITE,
)
async def review_flag(
    flag_id: FlagId,
    body: ReviewRedFlagIn,
    who: Inspector,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.ReviewRedFlag(
        idempotency_key=key, actor=who.actor, pemda=who.pemda, flag_id=flag_id,
        decision=body.decision, reason=body.reason,
    )  # fmt: skip
    return await run(writer, command, response)


def _run_out(row: dict[str, Any]) -> RedFlagRunOut:
    return RedFlagRunOut.model_validate(row)


@router.get(
    "/redflag-runs", summary="The red-flag runs, the latest first", openapi_extra=RECORD.doc
)
async def list_runs(
    who: Recorder,
    models: ReadModelsDep,
    response: Response,
    limit: Limit = 100,
    offset: Offset = 0,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> Page[RedFlagRunOut]:
    def build(db: ReadDatabase) -> Page[RedFlagRunOut]:
        rows = q.red_flag_runs(db, who.pemda, limit=limit, offset=offset)
        return listed(rows, limit, offset, _run_out)

    return await read(models, build, response, freshness=freshness, after=after)


@router.post(
    "/redflag-runs",
    status_code=201,
    summary="Run the rules now over everything recorded, and record the run and its new flags",
    openapi_extra=RECORD.doc,
    responses=WRITE,
)
async def record_run(
    request: Request,
    who: Recorder,
    key: IdempotencyKey,
    writer: WriterDep,
    ledger: LedgerDep,
    models: ReadModelsDep,
    response: Response,
    body: RedFlagRunIn | None = None,
) -> RedFlagRunDoneOut:
    # The Idempotency-Key is required as on every POST; the run's own key (what it read) is what
    # makes it idempotent, whoever sends it and with whichever key.
    del key
    wanted = body or RedFlagRunIn()
    as_of = _as_of(wanted.as_of)
    limits = pemda_thresholds(request, who.pemda)
    done: list[service.PreparedRun] = []

    def prepare(db: ReadDatabase) -> service.PreparedRun:
        # Once: an answer retried because projectors committed meanwhile is still this run, which
        # names the log position it read.
        if not done:
            done.append(
                service.prepare(
                    db, who.actor, who.pemda, limits, secret_of(db), as_of=as_of,
                    rules=wanted.rules,
                )
            )  # fmt: skip
        return done[0]

    prepared, _ = await models.read(prepare, latest=True)
    command = prepared.command
    try:
        written = await writer.execute(command)
    except IdempotencyKeyReused:
        # The same run recorded by another user: recorded already, nothing new to write.
        run_id = service.run_id_of(command)
        if not await to_thread.run_sync(_recorded, ledger, run_id):
            raise
        head = await to_thread.run_sync(models.head)
        return _done(prepared, str(run_id), replayed=True, raised=0, position=head)
    data = written.result.data
    return _done(
        prepared, str(data["id"]), replayed=written.result.replayed, raised=int(data["raised"]),
        position=written.position,
    )  # fmt: skip


def pemda_thresholds(request: Request, pemda: str) -> thresholds.Thresholds:
    """The pemda's thresholds (``KASDA_REDFLAGS_FILE`` over the defaults); a file that cannot be
    read is the deployment's fault, said as such (503), never a 500."""
    try:
        return thresholds.load(pemda, request.app.state.settings.redflags_file)
    except OSError as error:
        raise ProblemError(
            503, "redflags_file_unreadable", f"the red-flag thresholds file cannot be read: {error}"
        ) from None


def _as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"as_of must be a day (YYYY-MM-DD), got {text!r}") from None


def _recorded(ledger: Ledger, run_id: UUID) -> bool:
    try:
        ledger.aggregate(run_id, RedFlagRun)
    except NotFound:
        return False
    return True


def _done(
    prepared: service.PreparedRun, run_id: str, *, replayed: bool, raised: int, position: int
) -> RedFlagRunDoneOut:
    command = prepared.command
    counts = dict.fromkeys(command.rules, 0)
    for flag in command.flags:
        counts[flag["rule"]] = counts.get(flag["rule"], 0) + 1
    return RedFlagRunDoneOut(
        run_id=UUID(run_id), replayed=replayed, raised=raised, flags=len(command.flags),
        counts=counts, truncated=dict(command.truncated), log_position=command.position,
        position=position,
    )  # fmt: skip


def warnings_out(pemda: str, found: list[dict[str, Any]]) -> list[FlagWarningOut]:
    """``audit.service.warnings`` as the answer shows them, each linked to its flag's route."""
    return [FlagWarningOut(**w, link=flag_link(pemda, w["id"])) for w in found]
