"""The bendahara pengeluaran's advance (uang persediaan) of one SKPD and year, its cards and its SPJ.

Small purchases do not go LS. Permendagri 77/2020 gives each SKPD's bendahara pengeluaran an advance:

- **UP** (uang persediaan), up to the ceiling the kepala daerah's decision sets, paid by its own
  SPP-UP -> SPM -> SP2D into the bendahara's account (``AdvanceOrder``);
- spending from it is accounted for per transaction, with its evidence and budget line: the **SPJ**
  (each entry commits the line's pagu and charges the SKPD's SPD, as an SPP-LS does);
- **GU** (ganti uang) replenishes what the SPJ accounted for, by SPP-GU -> SPM -> SP2D, and its SP2D
  is what realises the spending on each line; **GU nihil** realises the last SPJ with no money moving;
- **TU** (tambahan uang) adds money for a one-off need beyond the UP, within its own limit and
  deadline; what is left of it goes back to the RKUD;
- at year end the advance's balance is returned to the RKUD.

Permendagri 79/2022 moves part of the UP onto the regional credit card (**KKPD**): that part is given
as a credit limit, not as cash ("UP KKPD"). A card purchase is an SPJ entry like a cash one, owed to
the issuing bank until the bendahara pays the card's bill from the UP cash; at most ``PAYEE_CEILING``
per payee per transaction (Pasal 19), and never beyond the card's own limit or the SKPD's UP KKPD.

Invariant of every advance (asserted on every write, ``ledger.invariants``):

    entrusted == cash + accounted (SPJ not yet replenished) - owed on cards + replenishing

where ``entrusted`` is what the RKUD has put in the bendahara's hands (UP and TU settled) less what
came back (returned) or was accounted for without money (GU nihil), and ``replenishing`` is what GU
SP2Ds have issued that has not reached the bendahara's account yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import ids, roles
from ledger.errors import AdvanceRule, AlreadyExists, InvalidInput, InvalidTransition, NotFound
from ledger.money import Rupiah
from ledger.stamp import Stamp
from ledger.steps import HumanSteps, Status
from ledger.triggers import fast_triggers

# Permendagri 79/2022 Pasal 19: a KKPD purchase pays one payee at most Rp 200 juta.
PAYEE_CEILING: Rupiah = 200_000_000
MAX_SPJ_OPEN = 5_000  # SPJ entries awaiting their GU: a busy SKPD's month and more
MAX_CARDS = 200
MAX_TU = 100
MAX_ENTRIES_PER_ORDER = 2_000


class Channel(StrEnum):
    CASH = "tunai"
    CARD = "kkpd"


class Mechanism(StrEnum):
    UP = "up"  # the advance itself
    GU = "gu"  # replenishes the SPJ accounted for
    TU = "tu"  # a one-off addition with its own deadline
    GU_NIHIL = "gu_nihil"  # accounts for the last SPJ (of the year, or of a TU) with no money


# Orders whose SP2D moves money from the RKUD to the bendahara.
PAID_OUT = frozenset({Mechanism.UP, Mechanism.GU, Mechanism.TU})


@fast_triggers
class Advance(Aggregate):
    """The UP of one SKPD's bendahara pengeluaran for one fiscal year."""

    @staticmethod
    def create_id(pemda: str, year: int, skpd: str) -> UUID:
        return ids.advance_id(pemda, year, skpd)

    @classmethod
    def set_up(
        cls,
        pemda: str,
        year: int,
        skpd: str,
        document: str,
        limits: dict[str, Rupiah],
        account: dict[str, str],
        by: Stamp,
    ) -> Advance:
        """``limits``: ``ceiling`` (the whole UP), ``kkpd_ceiling`` (its part given as card
        limits) and ``tu_ceiling`` (the most one TU may add)."""
        if limits["kkpd_ceiling"] > limits["ceiling"]:
            raise AdvanceRule(
                f"SKPD {skpd}: the UP KKPD {limits['kkpd_ceiling']} exceeds the UP {limits['ceiling']}"
            )
        return cls(
            pemda=pemda,
            year=year,
            skpd=skpd,
            document=document,
            ceiling=limits["ceiling"],
            kkpd_ceiling=limits["kkpd_ceiling"],
            tu_ceiling=limits["tu_ceiling"],
            account=account,
            **by.recorded(),
        )

    # -- derived state -------------------------------------------------------------------------
    @property
    def accounted(self) -> Rupiah:
        return sum(entry["amount"] for entry in self.spj.values())

    @property
    def owed_on_cards(self) -> Rupiah:
        return sum(card["owed"] for card in self.cards.values())

    @property
    def outstanding(self) -> Rupiah:
        """What the bendahara still holds, owes the card's bank or has yet to account for, and what
        orders have yet to pay in: zero once the year's advance is returned and its last SPJ
        accounted (GU nihil), the state a year is closed in. (A TU returned whole, with no SPJ to
        account for, leaves nothing outstanding.)"""
        unpaid_tu: Rupiah = sum(t["amount"] for t in self.tu.values() if t["given"] == 0)
        return (
            self.entrusted + self.owed_on_cards + self.replenishing + self.up_requested + unpaid_tu
        )

    def entry(self, spj_number: str) -> dict[str, Any]:
        try:
            return self.spj[spj_number]
        except KeyError:
            raise NotFound(f"SKPD {self.skpd}: no open SPJ entry {spj_number}") from None

    # -- rules ---------------------------------------------------------------------------------
    def check_spend(self, spj: dict[str, Any], at: date) -> None:
        """Raise unless SPJ entry ``spj`` (number, amount, channel, card, tu) may be recorded."""
        if spj["number"] in self.spj or spj["number"] in self.spj_numbers:
            raise AlreadyExists(f"SPJ {spj['number']} is already recorded by SKPD {self.skpd}")
        if len(self.spj) >= MAX_SPJ_OPEN:
            raise AdvanceRule(f"SKPD {self.skpd}: {MAX_SPJ_OPEN} SPJ entries await their GU")
        if spj["tu"] is not None:
            self._check_tu_spend(spj["tu"], spj["amount"], at)
        if spj["channel"] == Channel.CARD:
            self._check_card_spend(spj["card"], spj["amount"])
        elif spj["amount"] > self.cash:
            raise AdvanceRule(
                f"SKPD {self.skpd}: {spj['amount']} in cash is more than the {self.cash} the "
                "bendahara holds"
            )

    def _check_tu_spend(self, number: str, amount: Rupiah, at: date) -> None:
        tu = self._tu(number)
        if tu["closed"] or tu["given"] == 0:
            raise AdvanceRule(f"TU {number} is {'closed' if tu['closed'] else 'not paid yet'}")
        if at > date.fromisoformat(tu["deadline"]):
            raise AdvanceRule(f"TU {number} was to be used by {tu['deadline']}")
        if tu["spent"] + amount > tu["given"]:
            raise AdvanceRule(
                f"TU {number}: {amount} more would spend {tu['spent'] + amount} of {tu['given']}"
            )

    def _check_card_spend(self, card_id: str | None, amount: Rupiah) -> None:
        card = self._card(card_id)
        if amount > PAYEE_CEILING:
            raise AdvanceRule(
                f"a KKPD purchase pays one payee at most {PAYEE_CEILING}, not {amount} "
                "(Permendagri 79/2022 Pasal 19)"
            )
        if card["owed"] + amount > card["limit"]:
            raise AdvanceRule(
                f"card {card_id}: {amount} more would owe {card['owed'] + amount}, above its limit "
                f"of {card['limit']}"
            )
        if self.owed_on_cards + amount > self.kkpd_ceiling:
            raise AdvanceRule(
                f"SKPD {self.skpd}: {amount} more on cards would owe "
                f"{self.owed_on_cards + amount}, above its UP KKPD of {self.kkpd_ceiling}"
            )

    def check_up(self, amount: Rupiah) -> None:
        """An SPP-UP: the cash part of the UP, less what was given already."""
        room = self.ceiling - self.kkpd_ceiling - self.up_given - self.up_requested
        if amount > room:
            raise AdvanceRule(
                f"SKPD {self.skpd}: an UP of {amount} exceeds the {room} left of its cash UP "
                f"(UP {self.ceiling}, of which KKPD {self.kkpd_ceiling})"
            )

    def check_tu(self, number: str, amount: Rupiah, deadline: date, at: date) -> None:
        if number in self.tu:
            raise AlreadyExists(f"TU {number} is already requested by SKPD {self.skpd}")
        if len(self.tu) >= MAX_TU:
            raise AdvanceRule(f"SKPD {self.skpd} already holds {MAX_TU} TU this year")
        if amount > self.tu_ceiling:
            raise AdvanceRule(f"a TU of {amount} exceeds the TU limit of {self.tu_ceiling}")
        if not at <= deadline <= _one_month_after(at):
            raise AdvanceRule(
                f"a TU is used within one month: its deadline {deadline} must lie in "
                f"{at}..{_one_month_after(at)}"
            )

    def check_claim(self, spj_numbers: list[str], tu: str | None) -> Rupiah:
        """The total of SPJ entries a GU (or GU nihil) may account for; raise if one may not."""
        if not spj_numbers:
            raise AdvanceRule("a GU accounts for at least one SPJ entry")
        if len(spj_numbers) > MAX_ENTRIES_PER_ORDER or len(set(spj_numbers)) != len(spj_numbers):
            raise InvalidInput(f"a GU names 1..{MAX_ENTRIES_PER_ORDER} distinct SPJ entries")
        for number in spj_numbers:
            found = self.entry(number)
            if found["claimed_by"] is not None:
                raise AdvanceRule(f"SPJ {number} is already claimed by SPP {found['claimed_by']}")
            if found["tu"] != tu:
                raise AdvanceRule(
                    f"SPJ {number} belongs to {'TU ' + found['tu'] if found['tu'] else 'the UP'}"
                )
        # A card purchase is replenished only once its bill is paid from the UP (79/2022: the
        # bendahara pays the bank from the UP, and GU then restores the UP).
        for card, total in _by_card(self.spj[n] for n in spj_numbers).items():
            if total > self.cards[card]["paid"]:
                raise AdvanceRule(
                    f"card {card}: {total} of purchases to replenish, but only "
                    f"{self.cards[card]['paid']} of its bills is paid and not yet replenished"
                )
        return sum(self.spj[n]["amount"] for n in spj_numbers)

    def check_return(self, amount: Rupiah, tu: str | None) -> None:
        if amount > self.cash:
            raise AdvanceRule(f"SKPD {self.skpd}: cannot return {amount}, it holds {self.cash}")
        if tu is not None:
            found = self._tu(tu)
            left = found["given"] - found["spent"] - found["returned"]
            if amount > left:
                raise AdvanceRule(f"TU {tu}: {left} is left of it, not {amount}")

    def check_bill(self, card_id: str, amount: Rupiah) -> None:
        card = self._card(card_id)
        if amount > card["owed"]:
            raise AdvanceRule(f"card {card_id} owes {card['owed']}, not {amount}")
        if amount > self.cash:
            raise AdvanceRule(
                f"SKPD {self.skpd}: the bill of {amount} exceeds its cash {self.cash}"
            )

    def check_card(self, card_id: str, limit: Rupiah) -> None:
        if card_id in self.cards:
            raise AlreadyExists(f"card {card_id} is already registered to SKPD {self.skpd}")
        if len(self.cards) >= MAX_CARDS:
            raise AdvanceRule(f"SKPD {self.skpd} already holds {MAX_CARDS} cards")
        limits = sum(c["limit"] for c in self.cards.values()) + limit
        if limits > self.kkpd_ceiling:
            raise AdvanceRule(
                f"SKPD {self.skpd}: card limits of {limits} would exceed its UP KKPD of "
                f"{self.kkpd_ceiling}"
            )

    def _card(self, card_id: str | None) -> dict[str, Any]:
        if card_id is None or card_id not in self.cards:
            raise NotFound(f"card {card_id} is not registered to SKPD {self.skpd}")
        return self.cards[card_id]

    def _tu(self, number: str) -> dict[str, Any]:
        if number not in self.tu:
            raise NotFound(f"SKPD {self.skpd} holds no TU {number}")
        return self.tu[number]

    # -- commands ------------------------------------------------------------------------------
    def register_card(self, card_id: str, holder: str, limit: Rupiah, by: Stamp) -> None:
        self.check_card(card_id, limit)
        self._card_registered(card=card_id, holder=holder, limit=limit, **by.recorded())

    def spend(self, spj: dict[str, Any], at: date, by: Stamp) -> None:
        """Record one SPJ entry: ``spj`` holds number, line_id, amount, channel, card, tu,
        merchant, spent_on and evidence (see ``ledger.handlers.record_spj``)."""
        self.check_spend(spj, at)
        self._spent(**spj, **by.recorded())

    def withdraw(self, spj_number: str, reason: str, by: Stamp) -> dict[str, Any]:
        found = self.entry(spj_number)
        if found["claimed_by"] is not None:
            raise AdvanceRule(f"SPJ {spj_number} is claimed by SPP {found['claimed_by']}")
        if found["channel"] == Channel.CARD and found["amount"] > self.cards[found["card"]]["owed"]:
            raise AdvanceRule(f"SPJ {spj_number}: its card's bill is paid; it cannot be withdrawn")
        self._withdrawn(
            number=spj_number,
            amount=found["amount"],
            channel=found["channel"],
            card=found["card"],
            reason=reason,
            **by.recorded(),
        )
        return found

    def pay_bill(self, card_id: str, amount: Rupiah, reference: str, by: Stamp) -> None:
        self.check_bill(card_id, amount)
        self._bill_paid(card=card_id, amount=amount, reference=reference, **by.recorded())

    def return_cash(self, amount: Rupiah, tu: str | None, reference: str, by: Stamp) -> None:
        self.check_return(amount, tu)
        self._returned(amount=amount, tu=tu, reference=reference, **by.recorded())

    # What orders do to the advance: the order aggregate asks, then these record.
    def request_up(self, spp_number: str, amount: Rupiah, by: Stamp) -> None:
        self.check_up(amount)
        self._up_requested(spp_number=spp_number, amount=amount, **by.recorded())

    def request_tu(self, number: str, amount: Rupiah, deadline: date, at: date, by: Stamp) -> None:
        self.check_tu(number, amount, deadline, at)
        self._tu_requested(
            number=number, amount=amount, deadline=deadline.isoformat(), **by.recorded()
        )

    def claim(self, spp_number: str, spj_numbers: list[str], tu: str | None, by: Stamp) -> Rupiah:
        amount = self.check_claim(spj_numbers, tu)
        self._claimed(spp_number=spp_number, spj_numbers=spj_numbers, **by.recorded())
        return amount

    def unclaim(self, spp_number: str, mechanism: Mechanism, by: Stamp) -> None:
        """The order was rejected or cancelled before its SP2D: its SPJ or UP/TU request lapses."""
        self._unclaimed(spp_number=spp_number, mechanism=mechanism.value, **by.recorded())

    def account_for(self, order: AdvanceOrder, by: Stamp) -> None:
        """The SP2D of a GU or GU nihil: its SPJ entries leave the advance as realised spending."""
        self._accounted(
            spp_number=order.spp_number,
            mechanism=order.mechanism,
            entries=[self.spj[n] | {"number": n} for n in order.spj_numbers],
            tu=order.tu,
            amount=order.amount,
            **by.recorded(),
        )

    def receive(self, order: AdvanceOrder, by: Stamp) -> None:
        """The money of a settled SP2D (UP, TU or GU) reached the bendahara's account."""
        self._received(
            spp_number=order.spp_number,
            mechanism=order.mechanism,
            tu=order.tu,
            amount=order.amount,
            **by.recorded(),
        )

    # -- facts ---------------------------------------------------------------------------------
    @event("SetUp")
    def __init__(
        self,
        pemda: str,
        year: int,
        skpd: str,
        document: str,
        ceiling: Rupiah,
        kkpd_ceiling: Rupiah,
        tu_ceiling: Rupiah,
        account: dict[str, str],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.year = year
        self.skpd = skpd
        self.document = document
        self.ceiling = ceiling
        self.kkpd_ceiling = kkpd_ceiling
        self.tu_ceiling = tu_ceiling
        self.account = dict(account)
        self.cash = 0
        self.entrusted = 0
        self.replenishing = 0
        self.up_given = 0
        self.up_requested = 0
        self.spj: dict[str, dict[str, Any]] = {}  # open SPJ entries by number
        self.spj_numbers: set[str] = set()  # every SPJ number used, open or accounted
        self.cards: dict[str, dict[str, Any]] = {}
        self.tu: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, Rupiah] = {}  # SPP-UP requested, not yet settled

    @event("CardRegistered")
    def _card_registered(
        self, card: str, holder: str, limit: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        # owed: purchases not yet billed and paid; paid: bills paid, not yet restored by a GU.
        self.cards[card] = {"holder": holder, "limit": limit, "owed": 0, "paid": 0}

    @event("Spent")
    def _spent(
        self,
        number: str,
        line_id: str,
        amount: Rupiah,
        channel: str,
        card: str | None,
        tu: str | None,
        merchant: str,
        spent_on: str,
        evidence: dict[str, str],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.spj[number] = {
            "line_id": line_id,
            "amount": amount,
            "channel": channel,
            "card": card,
            "tu": tu,
            "merchant": merchant,
            "spent_on": spent_on,
            "claimed_by": None,
        }
        self.spj_numbers.add(number)
        if channel == Channel.CARD:
            self.cards[card or ""]["owed"] += amount
        else:
            self.cash -= amount
        if tu is not None:
            self.tu[tu]["spent"] += amount

    @event("Withdrawn")
    def _withdrawn(
        self,
        number: str,
        amount: Rupiah,
        channel: str,
        card: str | None,
        reason: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        found = self.spj.pop(number)
        if found["channel"] == Channel.CARD:
            self.cards[found["card"]]["owed"] -= amount
        else:
            self.cash += amount
        if found["tu"] is not None:
            self.tu[found["tu"]]["spent"] -= amount

    @event("CardBillPaid")
    def _bill_paid(
        self,
        card: str,
        amount: Rupiah,
        reference: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.cards[card]["owed"] -= amount
        self.cards[card]["paid"] += amount
        self.cash -= amount

    @event("CashReturned")
    def _returned(
        self,
        amount: Rupiah,
        tu: str | None,
        reference: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.cash -= amount
        self.entrusted -= amount
        if tu is not None:
            self.tu[tu]["returned"] += amount

    @event("UpRequested")
    def _up_requested(
        self, spp_number: str, amount: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.up_requested += amount
        self.pending[spp_number] = amount

    @event("TuRequested")
    def _tu_requested(
        self,
        number: str,
        amount: Rupiah,
        deadline: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.tu[number] = {
            "amount": amount,
            "deadline": deadline,
            "given": 0,
            "spent": 0,
            "returned": 0,
            "closed": False,
        }

    @event("SpjClaimed")
    def _claimed(
        self, spp_number: str, spj_numbers: list[str], actor_id: str, actor_role: str, at: datetime
    ) -> None:
        for number in spj_numbers:
            self.spj[number]["claimed_by"] = spp_number
        for card, total in _by_card(self.spj[n] for n in spj_numbers).items():
            self.cards[card]["paid"] -= total

    @event("ClaimLapsed")
    def _unclaimed(
        self, spp_number: str, mechanism: str, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        claimed = [entry for entry in self.spj.values() if entry["claimed_by"] == spp_number]
        for card, total in _by_card(claimed).items():
            self.cards[card]["paid"] += total
        for entry in claimed:
            entry["claimed_by"] = None
        if spp_number in self.pending:
            self.up_requested -= self.pending.pop(spp_number)
        if mechanism == Mechanism.TU:
            self.tu.pop(spp_number, None)

    @event("Accounted")
    def _accounted(
        self,
        spp_number: str,
        mechanism: str,
        entries: list[dict[str, Any]],
        tu: str | None,
        amount: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        for entry in entries:
            del self.spj[entry["number"]]
        if mechanism == Mechanism.GU:
            self.replenishing += amount
        else:  # GU nihil: accounted for with no money moving, the advance shrinks by it
            self.entrusted -= amount
            if tu is not None:
                self.tu[tu]["closed"] = True

    @event("Received")
    def _received(
        self,
        spp_number: str,
        mechanism: str,
        tu: str | None,
        amount: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.cash += amount
        if mechanism == Mechanism.GU:
            self.replenishing -= amount
            return
        self.entrusted += amount
        if mechanism == Mechanism.UP:
            self.up_given += amount
            self.up_requested -= self.pending.pop(spp_number)
        else:  # a TU is known by its SPP-TU's number
            self.tu[spp_number]["given"] = amount


def _by_card(entries: Iterable[dict[str, Any]]) -> dict[str, Rupiah]:
    """The total of the card purchases among ``entries``, card by card."""
    totals: dict[str, Rupiah] = {}
    for entry in entries:
        if entry["channel"] == Channel.CARD:
            totals[entry["card"]] = totals.get(entry["card"], 0) + entry["amount"]
    return totals


def _one_month_after(day: date) -> date:
    """The same day of the next month (the last day of a shorter month)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month, last)
        except ValueError:
            continue
    raise AssertionError(day)


# Statuses an advance order may be withdrawn in: before its SP2D only (once issued, its money is
# on its way to the bendahara, who returns what is not used).
_CANCELLABLE = frozenset({Status.REQUESTED, Status.VERIFIED, Status.APPROVED})


@fast_triggers
class AdvanceOrder(HumanSteps, Aggregate):
    """An SPP-UP, SPP-GU, SPP-TU or SPP-GU nihil of one SKPD, from SPP to SP2D and settlement.

    The same four hands as an LS payment (``ledger.steps``); its SP2D pays the bendahara's account
    (UP, GU, TU) or moves no money (GU nihil)."""

    CANCELLABLE = _CANCELLABLE

    @staticmethod
    def create_id(pemda: str, year: int, spp_number: str) -> UUID:
        return ids.advance_order_id(pemda, year, spp_number)

    @classmethod
    def request(
        cls,
        advance: Advance,
        spp_number: str,
        mechanism: Mechanism,
        amount: Rupiah,
        spj_numbers: list[str],
        tu: str | None,
        description: str,
        by: Stamp,
    ) -> AdvanceOrder:
        return cls(
            pemda=advance.pemda,
            year=advance.year,
            skpd=advance.skpd,
            spp_number=spp_number,
            mechanism=mechanism.value,
            amount=amount,
            spj_numbers=spj_numbers,
            tu=tu,
            description=description,
            **by.recorded(),
        )

    @property
    def pays_out(self) -> bool:
        return Mechanism(self.mechanism) in PAID_OUT

    def check_settle(self, actor: roles.Actor) -> None:
        self._require_status("settle", Status.AUTHORISED)
        actor.require(roles.GATEWAY, "settle")
        if not self.pays_out:
            raise InvalidTransition(f"SPP {self.spp_number}: a GU nihil moves no money")

    # -- commands ------------------------------------------------------------------------------
    def verify(self, by: Stamp) -> None:
        self.check_verify(by.actor)
        self._verified(**by.recorded())

    def approve(self, spm_number: str, by: Stamp) -> None:
        self.check_approve(by.actor)
        self._approved(spm_number=spm_number, **by.recorded())

    def authorise(self, sp2d_number: str, account: dict[str, str], by: Stamp) -> None:
        self.check_authorise(by.actor)
        self._authorised(
            sp2d_number=sp2d_number,
            account=account,
            skpd=self.skpd,
            mechanism=self.mechanism,
            amount=self.amount,
            **by.recorded(),
        )

    def reject(self, reason: str, by: Stamp) -> None:
        self.check_reject(by.actor)
        self._rejected(reason=reason, **by.recorded())

    def cancel(self, reason: str, by: Stamp) -> None:
        self.check_cancel(by.actor)
        self._cancelled(reason=reason, **by.recorded())

    def record_settled(self, bank_reference: str, by: Stamp) -> None:
        self.check_settle(by.actor)
        self._settled(
            bank_reference=bank_reference,
            skpd=self.skpd,
            mechanism=self.mechanism,
            amount=self.amount,
            **by.recorded(),
        )

    # -- facts ---------------------------------------------------------------------------------
    @event("Requested")
    def __init__(
        self,
        pemda: str,
        year: int,
        skpd: str,
        spp_number: str,
        mechanism: str,
        amount: Rupiah,
        spj_numbers: list[str],
        tu: str | None,
        description: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.year = year
        self.skpd = skpd
        self.spp_number = spp_number
        self.mechanism = mechanism
        self.amount = amount
        self.spj_numbers = list(spj_numbers)
        self.tu = tu
        self.description = description
        self.status = Status.REQUESTED
        self.performers: dict[str, str] = {"request": actor_id}
        self.spm_number: str | None = None
        self.sp2d_number: str | None = None
        self.account: dict[str, str] | None = None

    @event("Verified")
    def _verified(self, actor_id: str, actor_role: str, at: datetime) -> None:
        self.status = Status.VERIFIED
        self.performers["verify"] = actor_id

    @event("Approved")
    def _approved(self, spm_number: str, actor_id: str, actor_role: str, at: datetime) -> None:
        self.status = Status.APPROVED
        self.spm_number = spm_number
        self.performers["approve"] = actor_id

    @event("Authorised")
    def _authorised(
        self,
        sp2d_number: str,
        account: dict[str, str],
        skpd: str,
        mechanism: str,
        amount: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.status = Status.AUTHORISED if self.pays_out else Status.SETTLED
        self.sp2d_number = sp2d_number
        self.account = dict(account)
        self.performers["authorise"] = actor_id

    @event("Settled")
    def _settled(
        self,
        bank_reference: str,
        skpd: str,
        mechanism: str,
        amount: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.status = Status.SETTLED

    @event("Rejected")
    def _rejected(self, reason: str, actor_id: str, actor_role: str, at: datetime) -> None:
        self.status = Status.REJECTED
        self.performers["reject"] = actor_id

    @event("Cancelled")
    def _cancelled(self, reason: str, actor_id: str, actor_role: str, at: datetime) -> None:
        self.status = Status.CANCELLED
