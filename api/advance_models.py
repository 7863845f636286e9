"""Request bodies and response documents of the bendahara's advance (``api/routes/advance.py``):
UP / GU / TU orders, SPJ entries, KKPD cards and bills, setoran. Money is integer rupiah."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, StrictStr

from api.models import SKPD, Body, Code, LineRefIn, Name, Number, Rupiah, RupiahOrZero, Text, Year

Card = Field(min_length=4, max_length=40, examples=["5264-xxxx-xxxx-1234"])


class SetAdvanceIn(Body):
    """The kepala daerah's decision on an SKPD's UP, and the bendahara's account it is paid into."""

    year: Year
    skpd: Code = Field(examples=[SKPD])
    document: Number = Field(examples=["KEP-UP/01/2026"])
    ceiling: Rupiah
    kkpd_ceiling: RupiahOrZero = Field(0, description="the part of the UP given as card limits")
    tu_ceiling: RupiahOrZero = Field(0, description="the most one TU may add")
    bank_code: Code = Field(examples=["110"])
    account_number: Code = Field(examples=["0099887766"])
    account_holder: Name = Field(examples=["Bendahara Pengeluaran Diskominfo"])


class RegisterCardIn(Body):
    card: StrictStr = Card
    holder: Name = Field(examples=["Eka Bendahara"])
    limit: Rupiah


class RecordSpjIn(Body):
    """One purchase paid from the advance, in cash (``tunai``) or by card (``kkpd``)."""

    spj_number: Number = Field(examples=["SPJ/0001/2026"])
    line: LineRefIn
    amount: Rupiah
    channel: Literal["tunai", "kkpd"]
    card: StrictStr | None = Field(
        None, min_length=4, max_length=40, examples=["5264-xxxx-xxxx-1234"]
    )
    tu: Number | None = Field(None, description="the SPP-TU number when paid from a TU")
    merchant: Name = Field(examples=["Toko Sumber Rejeki"])
    spent_on: StrictStr = Field(examples=["2026-01-15"], description="the purchase date")
    evidence: dict[Name, Number] = Field(examples=[{"kuitansi": "KW/0001"}], max_length=16)


class WithdrawSpjIn(Body):
    spj_number: Number
    reason: Text


class PayCardBillIn(Body):
    card: StrictStr = Card
    amount: Rupiah
    reference: Number = Field(examples=["TAGIHAN/2026/01"])


class ReturnIn(Body):
    """Setoran sisa UP/TU into the RKUD."""

    amount: Rupiah
    reference: Number = Field(examples=["STS/0001/2026"])
    tu: Number | None = None


class RequestAdvanceIn(Body):
    """SPP-UP or SPP-TU name an amount (a TU also its deadline); SPP-GU and GU nihil the SPJ
    entries they account for (a TU's GU nihil also its SPP-TU number)."""

    spp_number: Number = Field(examples=["SPP/0001/GU/2026"])
    mechanism: Literal["up", "gu", "tu", "gu_nihil"]
    amount: Rupiah | None = None
    spj_numbers: list[Number] = Field(default_factory=list, max_length=2_000)
    tu: Number | None = None
    deadline: StrictStr | None = Field(None, examples=["2026-02-15"])
    description: Text


class AdvanceOut(BaseModel):
    advance_id: str
    pemda: str
    year: int
    skpd: str
    document: str
    ceiling: int
    kkpd_ceiling: int
    cash_ceiling: int = Field(description="the UP paid as cash: ceiling less the KKPD part")
    tu_ceiling: int
    bank_code: str
    account_number: str
    account_holder: str
    cash: int = Field(description="what the bendahara holds")
    entrusted: int
    accounted: int = Field(description="SPJ recorded, not yet accounted for by a GU")
    owed_on_cards: int
    replenishing: int = Field(description="GU issued, its money not yet received")
    up_given: int
    up_requested: int
    tu_unpaid: int
    tu_open: int
    outstanding: int = Field(description="zero once the year's advance is returned and accounted")
    entries: int


class RegisterRowOut(BaseModel):
    seq: int
    day: str
    at: str
    kind: str = Field(examples=["up_received", "spj", "card_bill", "gu_received", "setoran"])
    reference: str
    channel: str | None
    card: str | None
    amount: int
    money_in: int
    money_out: int
    balance: int


class SpjOut(BaseModel):
    number: str
    line_id: str
    amount: int
    channel: str
    card: str | None
    tu: str | None
    merchant: str
    spent_on: str
    evidence: dict[str, str]
    status: str = Field(examples=["open", "claimed", "accounted", "withdrawn"])
    spp_number: str | None = Field(description="the SPP-GU that claimed or accounted for it")
    recorded_at: str


class CardOut(BaseModel):
    card: str
    holder: str
    card_limit: int
    owed: int
    paid: int = Field(description="bills paid, not yet replenished by a GU")
    billed: int = Field(description="every bill paid this year")


class TuOut(BaseModel):
    number: str
    amount: int
    deadline: str
    given: int
    spent: int
    returned: int
    left: int
    closed: bool
    overdue: bool


class AdvanceOrderOut(BaseModel):
    order_id: str
    year: int
    skpd: str
    spp_number: str
    mechanism: str
    amount: int
    tu: str | None
    description: str
    spj_numbers: list[str]
    status: str
    spm_number: str | None
    sp2d_number: str | None
    bank_reference: str | None
    reason: str | None
    requested_by: str | None
    verified_by: str | None
    approved_by: str | None
    authorised_by: str | None
    rejected_by: str | None
    requested_at: str | None
    authorised_at: str | None
    settled_at: str | None


M = TypeVar("M", bound=BaseModel)


def pick(model: type[M], row: dict[str, Any]) -> M:
    """``model`` from a read-model row, its own fields only."""
    return model.model_validate({k: row[k] for k in model.model_fields if k in row})
