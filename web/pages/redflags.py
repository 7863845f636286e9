"""Indikasi risiko (red flags), for the inspectorate: the flags recorded by the red-flag runs
(``audit/``, ``ledger.redflags``), highest severity and most money first, filtered; one flag in
full (its explanation, figures, the payments and vendors it names, the events that prove it and
every review so far) with the review form; and the runs, with a form to run the rules now.

A flag is an indication, never an accusation: every page says so first.

Roles are the ledger's (``ledger.roles``): the auditor reads and reviews (``REVIEW_RED_FLAG``);
the auditor or BPKAD starts a run (``RECORD_RED_FLAGS``). A run from here is the run
``audit.service.record`` makes (the same rules, the same command and the same key derived from
the log position, thresholds and flags, so the same run again records nothing new), built off the
event loop from the read models and recorded through the app's writer like every other page's
write. The rule titles come from ``audit.rules.RULES``: a page shows any rule without knowing it.

``warnings`` is what the payment page (``web/pages/payment.py``) shows above the decision step:
the open flags naming the payment or its vendor. They never block a step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.auth import OFFICIALS
from api.routes.redflags import pemda_thresholds
from audit import service
from audit.frames import secret_of
from audit.rules import RULES
from ledger import commands as c
from ledger import redflags
from ledger.codes import normalise_skpd
from ledger.errors import DomainError, IdempotencyKeyReused, InvalidInput, NotFound
from ledger.roles import RECORD_RED_FLAGS, REVIEW_RED_FLAG, Role
from projections import queries as q
from projections.db import ReadDatabase
from web.deps import CheckedForm, Need, fetch, perform
from web.messages import Refusal
from web.nav import NavItem
from web.pages.home import Card
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)

READERS = Need(*REVIEW_RED_FLAG)  # the auditor reads the flags and reviews them
RUNNERS = Need(*RECORD_RED_FLAGS)  # the auditor or BPKAD starts a run
Reader = Annotated[Session, Depends(READERS)]
Runner = Annotated[Session, Depends(RUNNERS)]

NAV = [
    NavItem("Indikasi risiko", "/indikasi-risiko", READERS.roles),
    # BPKAD runs the rules but does not read the flags: its entry is the runs page.
    NavItem("Indikasi risiko", "/indikasi-risiko/jalankan", RUNNERS.roles - READERS.roles),
]
PAGES = {role: ["/indikasi-risiko", "/indikasi-risiko/jalankan"] for role in READERS.roles} | {
    role: ["/indikasi-risiko/jalankan"] for role in RUNNERS.roles - READERS.roles
}
PAGE_SIZE = 25
RUNS_PAGE_SIZE = 20
MAX_PAYMENTS_SHOWN = 100  # a flag names up to 500; beyond these, their ids only

SEVERITIES = {"high": "Tinggi", "medium": "Sedang", "low": "Rendah"}
STATUSES = {
    "open": "Terbuka",
    "confirmed": "Dikonfirmasi",
    "dismissed": "Ditolak",
    "escalated": "Dieskalasi ke APIP",
}
DECISIONS = {
    "confirmed": "Konfirmasi",
    "dismissed": "Tolak (dengan alasan)",
    "escalated": "Eskalasi ke APIP",
}
SUBJECTS = {
    "disbursement": "Pembayaran",
    "vendor": "Penyedia",
    "skpd": "SKPD",
    "user": "Pengguna",
    "line": "Rincian anggaran",
}
assert tuple(SEVERITIES) == redflags.SEVERITIES and tuple(SUBJECTS) == redflags.SUBJECT_KINDS
assert tuple(STATUSES) == q.FLAG_STATUSES and tuple(DECISIONS) == redflags.DECISIONS
WORDS = {"severities": SEVERITIES, "statuses": STATUSES, "kinds": SUBJECTS}
NOTICES = {"ditinjau": "Tinjauan dicatat."}

RuleFilter = Annotated[str | None, Query(alias="aturan", pattern="^([a-z][a-z0-9_]{1,47})?$")]
SeverityFilter = Annotated[str | None, Query(alias="tingkat", pattern="^(high|medium|low)?$")]
StatusFilter = Annotated[
    str | None, Query(alias="status", pattern=f"^({'|'.join(q.FLAG_STATUSES)})?$")
]
SkpdFilter = Annotated[str | None, Query(alias="skpd", max_length=64)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Notice = Annotated[str | None, Query(alias="pesan", max_length=16)]


def title_of(rule: str) -> str:
    """The rule's Indonesian title; its code if this kasda does not know it (a flag recorded by
    another version)."""
    known = RULES.get(rule)
    return known.title_id if known is not None else rule


def rule_titles() -> dict[str, str]:
    return {code: rule.title_id for code, rule in RULES.items()}


# -- names of what a flag is about -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Named:
    label: str
    link: str | None = None


def vendors_by_id(db: ReadDatabase, pemda: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The registered vendors among ``wanted`` (vendor ids), with their NPWP and name."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while wanted - found.keys():
        listed = q.vendors(db, pemda, limit=q.MAX_PAGE, offset=offset)
        found |= {str(v["vendor_id"]): v for v in listed.rows if str(v["vendor_id"]) in wanted}
        offset += q.MAX_PAGE
        if offset >= listed.total:
            break
    return found


def subjects_of(db: ReadDatabase, pemda: str, flags: list[dict[str, Any]]) -> dict[str, Named]:
    """What each flag is about, by flag id, as a person reads it (a vendor's name, an SPP's
    number) with a link to its page where there is one."""
    kinds = {f["id"]: (f["subject"]["kind"], f["subject"]["id"]) for f in flags}
    vendors = vendors_by_id(db, pemda, {i for k, i in kinds.values() if k == "vendor"})
    named: dict[str, Named] = {}
    for flag_id, (kind, subject) in kinds.items():
        if kind == "vendor" and subject in vendors:
            v = vendors[subject]
            named[flag_id] = Named(str(v["name"]), f"/penyedia/{v['npwp']}")
        elif kind == "disbursement" and (found := q.payment(db, pemda, subject)) is not None:
            named[flag_id] = Named(f"SPP {found.payment['spp_number']}", f"/pembayaran/{subject}")
        elif kind == "skpd":
            named[flag_id] = Named(subject, "/indikasi-risiko?" + urlencode({"skpd": subject}))
        else:
            named[flag_id] = Named(subject)
    return named


# -- the list ------------------------------------------------------------------------------------
@router.get("/indikasi-risiko")
async def flags_list(
    request: Request,
    session: Reader,
    aturan: RuleFilter = None,
    tingkat: SeverityFilter = None,
    status: StatusFilter = None,
    skpd: SkpdFilter = None,
    offset: Offset = 0,
) -> Response:
    pemda = session.principal.pemda
    chosen = {"aturan": aturan or "", "tingkat": tingkat or "", "status": status or "",
              "skpd": (skpd or "").strip()}  # fmt: skip
    refusal = None
    try:
        code = normalise_skpd(chosen["skpd"]) if chosen["skpd"] else None
    except InvalidInput as error:
        refusal, code = Refusal.of(error), None

    def query(db: ReadDatabase) -> dict[str, Any]:
        found = q.red_flags(db, pemda, rule=chosen["aturan"] or None,
                            severity=chosen["tingkat"] or None, status=chosen["status"] or None,
                            skpd=code, limit=PAGE_SIZE, offset=offset)  # fmt: skip
        runs = q.red_flag_runs(db, pemda, limit=1)
        return {"found": found, "subjects": subjects_of(db, pemda, found.rows),
                "last_run": runs.rows[0] if runs.rows else None}  # fmt: skip

    data = {"found": q.Listing([], 0), "subjects": {}, "last_run": None}
    if refusal is None:
        data = await fetch(request, query)
    filters = urlencode({k: v for k, v in chosen.items() if v})
    return page(request, "redflags.html", {
        **data, **WORDS, "chosen": chosen, "titles": rule_titles(), "title_of": title_of,
        "offset": offset, "limit": PAGE_SIZE, "refusal": refusal,
        "base": "/indikasi-risiko" + (f"?{filters}" if filters else ""),
        "may_run": session.principal.role in RUNNERS.roles,
    }, status=refusal.status if refusal else 200)  # fmt: skip


# -- the runs, and a run now -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run from the page did."""

    run_id: str
    position: int
    found: int  # flags the rules found
    raised: int  # of them, found for the first time (0 when the run was recorded before)
    replayed: bool  # the same run (position, thresholds, rules) was recorded before


async def _runs_page(
    request: Request,
    session: Session,
    offset: int = 0,
    *,
    outcome: Outcome | None = None,
    refusal: Refusal | None = None,
) -> Response:
    pemda = session.principal.pemda

    def query(db: ReadDatabase) -> q.Listing:
        return q.red_flag_runs(db, pemda, limit=RUNS_PAGE_SIZE, offset=offset)

    runs = await fetch(request, query)
    return page(request, "redflag_runs.html", {
        "runs": runs, "offset": offset, "limit": RUNS_PAGE_SIZE, "outcome": outcome,
        "refusal": refusal, "title_of": title_of,
        "may_read": session.principal.role in READERS.roles,
    }, status=refusal.status if refusal else 200)  # fmt: skip


@router.get("/indikasi-risiko/jalankan")
async def runs_list(request: Request, session: Runner, offset: Offset = 0) -> Response:
    return await _runs_page(request, session, offset)


@router.post("/indikasi-risiko/jalankan")
async def run_now(request: Request, session: Runner, form: CheckedForm) -> Response:
    """Run every rule over the pemda's read models now and record the run (once: the same log
    position and thresholds again is the run recorded before, and nothing new is written)."""
    who = session.principal
    if not _text(form, "key"):  # the command's own key is the run's; the form's is checked
        return await _runs_page(request, session, refusal=Refusal.of(_no_key()))

    def prepare(db: ReadDatabase) -> service.PreparedRun:
        limits = pemda_thresholds(request, who.pemda)
        return service.prepare(db, who.actor, who.pemda, limits, secret_of(db))

    prepared = await fetch(request, prepare)
    command = prepared.command
    try:
        written = await perform(request, command)
    except IdempotencyKeyReused:
        # The same run (its key is the position, thresholds and flags), recorded by another
        # person: nothing new to record.
        run_id = service.run_id_of(command)
        outcome = Outcome(str(run_id), command.position, len(command.flags), 0, replayed=True)
        return await _runs_page(request, session, outcome=outcome)
    except DomainError as error:  # e.g. the same run, recorded before with other flags
        return await _runs_page(request, session, refusal=Refusal.of(error))
    data = written.result.data
    outcome = Outcome(
        run_id=str(data["id"]),
        position=command.position,
        found=len(command.flags),
        raised=0 if written.result.replayed else int(data["raised"]),
        replayed=written.result.replayed,
    )
    return await _runs_page(request, session, outcome=outcome)


def _no_key() -> InvalidInput:
    return InvalidInput("formulir ini tidak membawa kunci idempotensi; muat ulang halaman")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# -- one flag ----------------------------------------------------------------------------------
def read_flag(pemda: str, flag_id: UUID) -> Any:
    """The query of a flag's page: the flag with its reviews, the payments and vendors it names."""

    def query(db: ReadDatabase) -> dict[str, Any]:
        flag = q.red_flag(db, pemda, str(flag_id))
        if flag is None:
            # A refusal of the input, not of the connection (``api.readmodels`` keeps it).
            raise NotFound(f"tidak ada indikasi risiko {flag_id} di pemda {pemda}")
        payments = []
        for disbursement_id in flag["disbursement_ids"][:MAX_PAYMENTS_SHOWN]:
            found = q.payment(db, pemda, disbursement_id)
            vendor = None if found is None else found.vendor
            payments.append({
                "id": disbursement_id,
                "payment": None if found is None else found.payment,
                "vendor": None if vendor is None else vendor["name"],
            })  # fmt: skip
        vendors = vendors_by_id(db, pemda, set(flag["vendor_ids"]))
        named = [
            {"id": v, "name": vendors[v]["name"], "npwp": vendors[v]["npwp"]} if v in vendors
            else {"id": v, "name": None, "npwp": None}
            for v in flag["vendor_ids"]
        ]  # fmt: skip
        spp_of = {  # the evidence's aggregates that are the payments named, by their SPP
            row["id"]: f"SPP {row['payment']['spp_number']}" for row in payments if row["payment"]
        }
        return {"flag": flag, "payments": payments, "vendors": named, "spp_of": spp_of,
                "more_payments": flag["disbursement_ids"][MAX_PAYMENTS_SHOWN:],
                "subject": subjects_of(db, pemda, [flag])[flag["id"]]}  # fmt: skip

    return query


async def _show(
    request: Request,
    session: Session,
    flag_id: UUID,
    *,
    refusal: Refusal | None = None,
    kept: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    data = await fetch(request, read_flag(session.principal.pemda, flag_id))
    return page(request, "redflag.html", {
        **data, **WORDS, "title_of": title_of, "decisions": DECISIONS,
        "closed": data["flag"]["status"] in redflags.CLOSED,
        "may_review": session.principal.role in READERS.roles, "refusal": refusal,
        "kept": {"decision": "", "reason": ""} | (kept or {}),
        "notice": NOTICES.get(notice or ""),
    }, status=refusal.status if refusal else 200)  # fmt: skip


@router.get("/indikasi-risiko/{flag_id}")
async def flag_view(
    request: Request, flag_id: UUID, session: Reader, notice: Notice = None
) -> Response:
    return await _show(request, session, flag_id, notice=notice)


@router.post("/indikasi-risiko/{flag_id}/tinjau")
async def review(request: Request, flag_id: UUID, session: Reader, form: CheckedForm) -> Response:
    """The inspector's decision on the flag (``ReviewRedFlag``): the ledger checks the role, the
    decision, the reason and that the flag is not closed."""
    kept = {"decision": _text(form, "decision"), "reason": _text(form, "reason")}
    who = session.principal
    try:
        if not _text(form, "key"):
            raise _no_key()
        command = c.ReviewRedFlag(
            idempotency_key=_text(form, "key"), actor=who.actor,
            pemda=who.pemda, flag_id=flag_id, decision=kept["decision"], reason=kept["reason"],
        )  # fmt: skip
        await perform(request, command)
    except DomainError as error:
        return await _show(request, session, flag_id, refusal=Refusal.of(error), kept=kept)
    return RedirectResponse(f"/indikasi-risiko/{flag_id}?pesan=ditinjau", status_code=303)


# -- Beranda and the payment page --------------------------------------------------------------
def cards(db: ReadDatabase, session: Session, now: datetime) -> list[Card]:
    """The open flags, by severity, for the inspector."""
    who = session.principal
    if who.role not in READERS.roles:
        return []
    open_flags = {
        s: q.red_flags(db, who.pemda, severity=s, status="open", limit=1) for s in SEVERITIES
    }
    counts = {s: found.total for s, found in open_flags.items()}
    note = " · ".join(f"{SEVERITIES[s].lower()} {n}" for s, n in counts.items())
    return [Card("Indikasi risiko terbuka", sum(counts.values()),
                 "/indikasi-risiko?status=open", note=note)]  # fmt: skip


@dataclass(frozen=True, slots=True)
class FlagWarning:
    """An open flag on a payment or its vendor, as the payment page shows it."""

    title: str
    severity: str
    explanation: str
    link: str | None  # the flag's page, for whoever may open it


# What an SKPD's official reads instead of a flag's words that name another SKPD's payments.
OTHER_SKPD_WORDS = (
    "Indikasi ini juga menyangkut pembayaran SKPD lain; rinciannya ada pada Inspektorat dan BPKAD."
)


def _within_skpd(db: ReadDatabase, flag: dict[str, Any], skpd: str) -> bool:
    """Whether everything ``flag`` names lies in ``skpd``: its words may then be shown to an
    official of that SKPD, who sees nothing of another SKPD's payments anywhere else."""
    if flag["subject"]["kind"] == "skpd" and flag["subject"]["id"] != skpd:
        return False
    for disbursement_id in flag["disbursement_ids"]:
        found = q.owner(db, disbursement_id)
        if found is None or found.skpd != skpd:
            return False
    return True


def warnings(
    db: ReadDatabase, session: Session, disbursement_id: str, vendor_id: str | None
) -> list[FlagWarning]:
    """The flags not dismissed that name this payment or its vendor, for the officials who see
    the payment. Not for the vendor itself: a flag about it is the inspectorate's lead, not
    something to tip it off about. An SKPD's official reads the words of a flag only if all it
    names is their SKPD's (a flag on a vendor may name payments of several SKPDs)."""
    who = session.principal
    if who.role not in OFFICIALS:
        return []
    found = q.open_flags(db, who.pemda, disbursement_id=disbursement_id, vendor_id=vendor_id)
    link = who.role in READERS.roles
    return [
        FlagWarning(
            title_of(f["rule"]),
            f["severity"],
            f["explanation"]["id"]
            if who.skpd is None or _within_skpd(db, f, who.skpd)
            else OTHER_SKPD_WORDS,
            f"/indikasi-risiko/{f['id']}" if link else None,
        )
        for f in found
    ]


assert Role.AUDITOR in READERS.roles and Role.VENDOR not in OFFICIALS
