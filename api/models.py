"""Pydantic models of the HTTP edge only: request bodies and response documents.

Money is an integer number of rupiah: ``StrictInt`` refuses floats, booleans and strings with a 422
before the ledger sees them (the ledger checks again). Everything else the ledger validates itself
(codes, NPWP, document numbers, limits) and refuses with a problem naming its rule.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from ledger.fields import MAX_NAME, MAX_NUMBER, MAX_TEXT, MAX_YEAR, MIN_YEAR
from ledger.handlers import MAX_RECONCILIATION_INPUTS
from ledger.money import MAX_AMOUNT as MAX_RUPIAH

T = TypeVar("T")

Rupiah = Annotated[StrictInt, Field(ge=1, le=MAX_RUPIAH, examples=[100_000_000])]
RupiahOrZero = Annotated[StrictInt, Field(ge=0, le=MAX_RUPIAH, examples=[0])]
Year = Annotated[StrictInt, Field(ge=MIN_YEAR, le=MAX_YEAR, examples=[2026])]
Text = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME)]
Number = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NUMBER)]
Code = Annotated[StrictStr, Field(min_length=1, max_length=64)]

SKPD = "1.01.0.00.0.00.01.0000"
SUB_KEGIATAN = "1.01.01.2.02.0001"
REKENING = "5.1.02.02.01.0055"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- budget ------------------------------------------------------------------------------------
class LineRefIn(Body):
    skpd: Code = Field(examples=[SKPD])
    sub_kegiatan: Code | None = Field(examples=[SUB_KEGIATAN])
    rekening: Code = Field(examples=[REKENING])


class LineSpecIn(LineRefIn):
    uraian: Name = Field(examples=["Belanja Jasa Iklan/Reklame, Film, dan Pemotretan"])
    pagu: RupiahOrZero = Field(examples=[1_000_000_000])


class AmendmentIn(Body):
    """APBD-P: a Perda number and the lines it sets (new pagu) or adds."""

    document: Number = Field(examples=["PERDA-1-2025"])
    lines: list[LineSpecIn] = Field(min_length=1, max_length=20_000)


class AdoptIn(AmendmentIn):
    """APBD: the fiscal year, the Perda number and every line with its pagu."""

    year: Year


class ShiftIn(Body):
    document: Number = Field(examples=["PERKADA-12-2026"])
    from_line: LineRefIn
    to_line: LineRefIn
    amount: Rupiah


class LineReasonIn(Body):
    line: LineRefIn
    reason: Text = Field(examples=["menunggu hasil reviu APIP"])


# -- vendors -----------------------------------------------------------------------------------
class BankAccountIn(Body):
    bank_code: StrictStr = Field(max_length=8, examples=["110"])
    account_number: StrictStr = Field(max_length=32, examples=["0012345678"])
    account_holder: Name = Field(examples=["PT Pikiran Rakyat Bandung"])


class RegisterVendorIn(BankAccountIn):
    npwp: StrictStr = Field(max_length=32, examples=["01.234.567.8-901.000"])
    name: Name = Field(examples=["PT Pikiran Rakyat Bandung"])
    kind: StrictStr = Field(max_length=16, examples=["media"])


class ChangeBankAccountIn(BankAccountIn):
    reason: Text = Field(examples=["rekening lama ditutup"])


class ReasonIn(Body):
    reason: Text = Field(examples=["dokumen tidak lengkap"])


# -- disbursements -----------------------------------------------------------------------------
class DeductionIn(Body):
    code: StrictStr = Field(max_length=16, examples=["PPH23"])
    amount: Rupiah = Field(examples=[2_000_000])


class RequestDisbursementIn(Body):
    """SPP-LS: pay a registered vendor from one spending line."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "year": 2026,
                    "spp_number": "SPP/0001/LS/2026",
                    "line": {"skpd": SKPD, "sub_kegiatan": SUB_KEGIATAN, "rekening": REKENING},
                    "vendor_npwp": "01.234.567.8-901.000",
                    "gross": 100_000_000,
                    "deductions": [{"code": "PPH23", "amount": 2_000_000}],
                    "description": "Publikasi kegiatan",
                    "documents": {"contract": "KONTRAK/01/2026"},
                }
            ]
        }
    )

    year: Year
    spp_number: Number = Field(examples=["SPP/0001/LS/2026"])
    line: LineRefIn
    vendor_npwp: StrictStr = Field(max_length=32, examples=["01.234.567.8-901.000"])
    gross: Rupiah
    deductions: list[DeductionIn] = Field(default_factory=list, max_length=16)
    description: Text = Field(examples=["Publikasi kegiatan"])
    documents: dict[StrictStr, StrictStr] = Field(
        default_factory=dict, max_length=16, examples=[{"contract": "KONTRAK/01/2026"}]
    )


class ApproveIn(Body):
    spm_number: Number = Field(examples=["SPM/0001/LS/2026"])


class AuthoriseIn(Body):
    sp2d_number: Number = Field(examples=["SP2D/0001/LS/2026"])


class TransferSentIn(Body):
    gateway: Name = Field(max_length=32, examples=["iris"])
    reference: Number = Field(examples=["IRIS-0001"])


class SettlementIn(Body):
    bank_reference: Number = Field(examples=["BANK-0001"])


class TransferRejectedIn(Body):
    gateway: Name = Field(max_length=32, examples=["iris"])
    reference: Number = Field(examples=["IRIS-0002"])
    reason: Text = Field(examples=["ditolak oleh approver Iris"])


# -- income ------------------------------------------------------------------------------------
class RevenueIn(Body):
    year: Year
    line: LineRefIn
    channel: Name = Field(max_length=32, examples=["midtrans:qris"])
    reference: Number = Field(examples=["ORDER-0001"])
    payer: Name = Field(examples=["Wajib pajak 3273..."])
    gross: Rupiah
    fee: RupiahOrZero = 0


class ReverseRevenueIn(Body):
    year: Year
    channel: Name = Field(max_length=32, examples=["midtrans:qris"])
    reference: Number = Field(examples=["ORDER-0001"])
    reason: Text = Field(examples=["chargeback"])


# -- responses ---------------------------------------------------------------------------------
class CommandOut(BaseModel):
    """What an accepted command returns; a retry with the same Idempotency-Key returns it again
    (with a ``position`` at least as high)."""

    command: str = Field(examples=["RequestDisbursement"])
    idempotency_key: str = Field(examples=["4f9c1e52-spp-0001"])
    id: str = Field(examples=["ffd8757a-93ba-563d-82b2-af0d416a8d56"])
    result: dict[str, Any] = Field(examples=[{"id": "ffd8757a-...", "status": "requested"}])
    position: int = Field(
        ge=0,
        description="a position in the ledger's event log at or after this command's events (the "
        "log's head once its batch committed; for a retry, the head then). Pass it as `after` to a "
        "report (`GET /lra?after=...`) to read your own write: the answer then includes it.",
        examples=[48213],
    )


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="items matching the filters")
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


class BudgetOut(BaseModel):
    id: UUID
    pemda: str
    year: int
    documents: list[str]
    lines: int
    total_pagu: int
    amendments: int
    shifts: int


class BudgetAsOfOut(BaseModel):
    """The APBD as it stood at a past moment or event position, with its lines (paged)."""

    as_of: datetime | None
    position: int | None
    budget: BudgetOut
    disbursements_by_status: dict[str, int]
    lines: Page[LineOut]


class LineOut(BaseModel):
    id: UUID
    skpd: str
    sub_kegiatan: str | None
    rekening: str
    uraian: str
    pagu: int
    committed: int
    realised: int
    available: int
    blocked: bool


class BankAccountOut(BaseModel):
    bank_code: str
    number: str
    holder: str


class VendorOut(BaseModel):
    id: UUID
    npwp: str
    name: str
    kind: str
    active: bool
    bank_account: BankAccountOut | None = None
    version: int | None = None


class DeductionOut(BaseModel):
    code: str
    amount: int


class DisbursementRowOut(BaseModel):
    id: UUID
    year: int
    spp_number: str
    status: str
    skpd: str
    line_id: UUID
    vendor_id: UUID
    vendor_npwp: str | None
    gross: int
    net: int
    requested_at: datetime


class DisbursementOut(BaseModel):
    id: UUID
    pemda: str
    year: int
    spp_number: str
    status: str
    line_id: UUID
    vendor_id: UUID
    gross: int
    deductions: list[DeductionOut]
    net: int
    description: str
    documents: dict[str, str]
    spm_number: str | None
    sp2d_number: str | None
    bank_account: BankAccountOut | None
    performers: dict[str, str]
    attempts: int
    reissues: int = Field(0, description="times a returned transfer was paid again")
    requested_at: datetime
    authorised_at: datetime | None
    settled_at: datetime | None
    version: int


class HistoryEntryOut(BaseModel):
    version: int
    event: str
    at: datetime
    actor_id: str
    actor_role: str
    details: dict[str, Any]


class VerifyOut(BaseModel):
    ok: bool
    events: int
    head_position: int
    head_hash: str
    checkpoints: int
    seconds: float
    problem_position: int | None
    problem: str | None


class ExportEventOut(BaseModel):
    position: int
    aggregate_id: UUID
    aggregate_type: str
    event: str
    version: int
    body: dict[str, Any]


class ExportPageOut(BaseModel):
    items: list[ExportEventOut]
    after: int
    next_after: int | None = Field(description="pass as 'after' for the next page; null at the end")


class PrincipalOut(BaseModel):
    user_id: str
    role: str
    pemda: str
    npwp: str | None
    skpd: str | None = Field(
        default=None, description="the SKPD an official of a spending unit acts for"
    )


# -- read models (projections) ------------------------------------------------------------------
class LraRowOut(BaseModel):
    """One row of the LRA at the chosen level. Rupiah are integers; the percentage is given in
    basis points (``persen_bp``, 8512 = 85.12%) and as text (``persen``), never as a float."""

    side: str = Field(examples=["belanja"])
    kode: str = Field(examples=["5.1.02"])
    uraian: str
    anggaran: int
    committed: int
    realisasi: int
    sisa: int = Field(description="anggaran - committed - realisasi (negative: income over target)")
    lebih_kurang: int = Field(
        description="realisasi - anggaran for income, anggaran - realisasi for spending"
    )
    persen_bp: int = Field(description="realisasi / anggaran in basis points, rounded half up")
    persen: str = Field(examples=["85.12"])
    lines: int = Field(description="budget lines rolled into this row")


class LraOut(BaseModel):
    pemda: str
    year: int
    level: str
    as_of: date | None = Field(description="end of this day in the pemda's time zone; null: now")
    skpd: str | None = Field(description="the one SKPD reported (normalised code); null: all")
    skpd_uraian: str | None = Field(description="that SKPD's name, from kasda's code list")
    position: int = Field(description="the projection position this report reflects")
    rows: Page[LraRowOut]
    totals: dict[str, int] = Field(
        description="each side's anggaran and realisasi, surplus_defisit, pembiayaan_netto, silpa"
    )
    catatan: str = Field(description="the sign convention of lebih_kurang")
    final: bool = Field(
        default=False, description="the year was closed (tutup tahun) by then: the LRA is final"
    )


class StatementPaymentOut(BaseModel):
    disbursement_id: UUID
    year: int
    spp_number: str
    spm_number: str | None
    sp2d_number: str | None
    status: str
    gross: int
    deductions: int
    net: int
    description: str
    line_id: UUID
    bank_code: str | None
    account_number: str | None
    account_holder: str | None
    gateway: str | None
    gateway_reference: str | None
    bank_reference: str | None
    attempts: int
    reason: str | None
    requested_at: datetime
    authorised_at: datetime | None
    sent_at: datetime | None
    settled_at: datetime | None
    failed_at: datetime | None
    returned_at: datetime | None
    rejected_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime


class StatementTotalsOut(BaseModel):
    """Sums over every payment matching the filters (not only this page)."""

    payments: int
    gross: int
    deductions: int
    net: int
    settled_net: int = Field(description="net of the payments that reached the vendor")


class VendorStatementOut(BaseModel):
    vendor: VendorOut
    position: int = Field(description="the projection position this statement reflects")
    totals: StatementTotalsOut
    payments: Page[StatementPaymentOut]


class CashDayOut(BaseModel):
    day: date
    receipts_in: int
    returns_in: int
    payments_out: int
    refunds_out: int
    advance_in: int = Field(description="setoran of the bendahara's UP/TU back into the RKUD")
    advance_out: int = Field(description="SP2D UP, GU and TU paid to the bendahara's account")
    net: int
    closing_balance: int = Field(description="running sum of net from the first recorded day")
    movements: int


class CashPositionOut(BaseModel):
    start: date | None
    end: date | None
    position: int = Field(description="the projection position this answer reflects")
    days: Page[CashDayOut]


class QueueSizesOut(BaseModel):
    position: int = Field(description="the projection position this answer reflects")
    sizes: dict[str, int] = Field(examples=[{"ppk": 3, "pa_kpa": 1, "kuasa_bud": 0, "gateway": 2}])


class QueueItemOut(BaseModel):
    disbursement_id: UUID
    spp_number: str
    status: str
    step: str = Field(examples=["verify"])
    role: str
    gross: int
    since: datetime = Field(description="when it began to wait for this role")
    requested_at: datetime
    line_id: UUID | None = Field(description="the payment's line; none for an advance order")
    vendor_id: UUID | None = Field(description="the payment's vendor; none for an advance order")
    year: int
    kind: str = Field(
        default="ls", description="ls (a payment), or up, gu, tu, gu_nihil (an advance order)"
    )
    skpd: str | None = Field(default=None, description="the SKPD of an advance order")


class QueueOut(BaseModel):
    role: str
    position: int = Field(description="the projection position this answer reflects")
    items: Page[QueueItemOut]


# -- reconciliation ------------------------------------------------------------------------------
Sha256 = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$", examples=["0" * 64])]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_RUPIAH)]
IsoDate = Annotated[StrictStr, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-03-31"])]


class ReconciliationInputIn(Body):
    name: Name = Field(examples=["rkud-2026-03-31.sta"])
    kind: StrictStr = Field(min_length=1, max_length=32, examples=["mt940"])
    sha256: Sha256
    rows: Count = Field(examples=[412])


class ReconciliationExceptionIn(Body):
    id: Number = Field(examples=["EX-2026-03-31-0001"])
    status: StrictStr = Field(min_length=1, max_length=32, examples=["unmatched_bank"])
    amount: Count = Field(examples=[2_500_000])
    reference: StrictStr | None = Field(default=None, max_length=MAX_NAME, examples=["BANK-1"])
    detail: StrictStr | None = Field(default=None, max_length=MAX_TEXT)


class RecordReconciliationIn(Body):
    """One reconciliation run: the business day, every input file, counts and exceptions."""

    business_date: IsoDate
    inputs: list[ReconciliationInputIn] = Field(min_length=1, max_length=MAX_RECONCILIATION_INPUTS)
    counts: dict[Annotated[StrictStr, Field(min_length=1, max_length=32)], Count] = Field(
        max_length=64, examples=[{"matched": 410, "unmatched_bank": 2}]
    )
    exceptions: list[ReconciliationExceptionIn] = Field(default_factory=list, max_length=50_000)


class ResolveExceptionIn(Body):
    resolution: Literal["explained", "corrected", "recovered", "written_off", "escalated"]
    reason: Text = Field(examples=["dana dalam perjalanan, masuk 1 April (rekening koran)"])


class ResolutionOut(BaseModel):
    resolution: str
    reason: str
    by: str


class ReconciliationExceptionOut(BaseModel):
    id: str
    status: str
    amount: int
    reference: str | None
    detail: str | None
    resolved: bool
    resolution: ResolutionOut | None


class ReconciliationRunSummaryOut(BaseModel):
    id: UUID
    business_date: str
    exceptions: int
    open: int
    resolved: int
    recorded_at: datetime
    recorded_by: str


class ReconciliationRunOut(ReconciliationRunSummaryOut):
    inputs: list[dict[str, Any]]
    counts: dict[str, int]
    version: int
    items: Page[ReconciliationExceptionOut] = Field(description="its exceptions, filtered, paged")


# -- red flags (audit/, ledger/redflags.py, docs/red-flags.md) ---------------------------------
RuleCode = Annotated[
    StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{1,47}$", examples=["split_purchase"])
]


class ExplanationOut(BaseModel):
    id: str = Field(description="one sentence in Bahasa Indonesia, with the figures")
    en: str = Field(description="the same in English")


class FlagSubjectOut(BaseModel):
    kind: Literal["disbursement", "vendor", "skpd", "user", "line"]
    id: str


class FlagPeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from", description="first day (pemda's time zone), ISO")
    to: str = Field(description="last day, ISO")


class EvidenceOut(BaseModel):
    aggregate_id: UUID
    version: int
    position: int = Field(description="the event's position in the log (check it with verify)")
    kind: str | None = Field(
        default=None, description="Disbursement, Vendor, ReconciliationRun... (one flag's page)"
    )
    link: str | None = Field(
        default=None, description="the route of that thing's history, when the API has one"
    )


class FlagReviewStateOut(BaseModel):
    by: str
    at: datetime
    reason: str


class RedFlagOut(BaseModel):
    """A flag with exactly its own fields (``FLAG_FIELDS``), then where its review stands."""

    id: UUID
    rule: str
    severity: Literal["high", "medium", "low"]
    subject: FlagSubjectOut
    amount: int = Field(description="rupiah at risk")
    period: FlagPeriodOut
    disbursement_ids: list[UUID]
    vendor_ids: list[UUID]
    evidence: list[EvidenceOut]
    explanation: ExplanationOut
    status: Literal["open", "confirmed", "dismissed", "escalated"]
    raised_at: datetime
    raised_by_run: UUID
    last_run: UUID
    review: FlagReviewStateOut | None = Field(description="the last review, if any")


class FlagReviewOut(BaseModel):
    decision: Literal["confirmed", "dismissed", "escalated"]
    reason: str
    actor_id: str
    at: datetime
    version: int
    position: int


class RedFlagDetailOut(RedFlagOut):
    aggregate_id: UUID = Field(description="the flag's aggregate in the ledger")
    reviews: list[FlagReviewOut] = Field(description="every review, oldest first")


class ReviewRedFlagIn(Body):
    decision: Literal["confirmed", "dismissed", "escalated"]
    reason: Text = Field(examples=["faktur F-9 dibayar dua kali; SP2D kedua diminta kembali"])


class RedFlagRunIn(Body):
    as_of: IsoDate | None = Field(
        default=None, description="read the history up to the end of this day (default: all)"
    )
    rules: list[RuleCode] | None = Field(
        default=None, min_length=1, max_length=64, description="only these rules (default: all)"
    )


class RedFlagRunOut(BaseModel):
    run_id: UUID
    log_position: int = Field(description="the last event the run read")
    as_of: str | None
    thresholds_digest: str
    rules: list[str]
    flags: int
    truncated: dict[str, int]
    recorded_at: datetime
    recorded_by: str


class RedFlagRunDoneOut(BaseModel):
    """A run done now and recorded (or found recorded already: ``replayed``)."""

    run_id: UUID
    replayed: bool = Field(
        description="the same run (log position, thresholds, rules) was "
        "recorded before; nothing new was written"
    )
    raised: int = Field(description="flags raised for the first time by this run")
    flags: int = Field(description="flags the run found")
    counts: dict[str, int] = Field(description="flags found per rule (every rule that ran)")
    truncated: dict[str, int] = Field(description="rule -> flags left off (a mis-set threshold)")
    log_position: int = Field(description="the last event the run read")
    position: int = Field(description="a position at or after the run's events (read-your-writes)")


class FlagWarningOut(BaseModel):
    """A red flag shown where a payment is decided; it never blocks."""

    id: UUID
    rule: str
    severity: Literal["high", "medium", "low"]
    explanation: ExplanationOut
    recorded: bool = Field(
        description="false: found just now by a live rule, not by a recorded run"
    )
    link: str = Field(description="the flag's route")


class AuthorisedOut(CommandOut):
    warnings: list[FlagWarningOut] = Field(
        description="the red flags open on this payment or its vendor (never a refusal)"
    )


# -- tutup tahun -------------------------------------------------------------------------------
class CloseYearIn(Body):
    """Tutup tahun: the PPKD's decision, the contracts that continue next year (DPAL) and the next
    APBD's penggunaan SiLPA line (6.1.01...)."""

    document: Number = Field(examples=["KEP-PPKD-TUTUP-2026"])
    carry_over: list[UUID] = Field(default=[], max_length=1_000)
    silpa_line: LineRefIn | None = None


class LapsingOut(BaseModel):
    disbursement_id: UUID
    spp_number: str
    status: str
    gross: int
    skpd: str
    rekening: str
    carried: bool
    carry_problem: str | None = Field(description="why it may not carry over, if so")


class YearCloseOut(BaseModel):
    """The close of a year (or, with ``dry_run``, what it would do): final totals by akun and
    SiLPA, what lapses and what carries over into the next APBD."""

    year: int
    dry_run: bool
    pendapatan: int
    penerimaan_pembiayaan: int
    belanja: int
    pengeluaran_pembiayaan: int
    silpa: int
    lapsed: int
    lapsed_amount: int
    carried_amount: int
    lapsing: list[LapsingOut]
    position: int | None = None


class YearStatusOut(BaseModel):
    year: int
    adopted: bool
    closed: bool
    closed_at: datetime | None
    opened_from: int | None = Field(description="the closed year whose SiLPA this year received")
    final: dict[str, int] = Field(description="the closed year's final totals and SiLPA")
