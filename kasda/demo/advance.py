"""The bendahara's advance in the demo year (``ledger.advance``): for a few SKPD, BPKAD sets the UP
with a KKPD part and registers two cards; the bendahara receives the UP, buys in cash and by card
through the year (SPJ on the unit's own lines), pays the card bills monthly and asks a GU when about
half of the cash UP is spent; one TU is spent, its rest returned and closed by GU nihil; in December
a last GU nihil and the setoran leave every advance's outstanding at 0 by 31 December.

The plan keeps its own copy of each advance's cash and cards, so every command is one the ledger
accepts. Its money moves at the bank too (``after``, at the BANK slot): the SP2D of each UP, GU and
TU leaves the RKUD by the bank's own transfer and each setoran comes in, on the RKUD statement. The
issuing bank's KKPD statement of the year (``write_kkpd_statement``) lists every card purchase, one
of them with no SPJ (an exception of the KKPD reconciliation), and the bills paid.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kasda.demo.gateway import DemoGateway
from kasda.demo.pemda import PEMDA, YEAR
from kasda.demo.people import People
from kasda.demo.state import Calendar, Schedule
from kasda.demo.world import Line, Skpd, Slot
from ledger import commands as c
from ledger import ids

JT = 1_000_000
SKPDS = 3  # the units whose advance the demo plays
UP, KKPD, TU = 90 * JT, 30 * JT, 40 * JT  # ceiling, its KKPD part, the TU limit
CASH_UP = UP - KKPD


@dataclass(eq=False)
class Book:
    """One SKPD's advance as the plan keeps it."""

    skpd: Skpd
    lines: list[Line]
    account: str
    cards: list[str]
    cash: int = 0
    owed: dict[str, int] = field(default_factory=dict)
    open: list[tuple[str, int]] = field(default_factory=list)  # (SPJ number, amount), not in a GU
    spj_seq: int = 0


class Advances:
    """Plans the advances of the year on its own random stream (the rest of the year is drawn
    before it and does not change), and plays their bank side."""

    def __init__(self, seed: int, calendar: Calendar, schedule: Schedule, people: People) -> None:
        self.rng = random.Random(seed * 7_919 + 16)
        self.calendar, self.schedule, self.people = calendar, schedule, people
        self.seq = 0
        # day -> (the bank's reference, amount, remark (the SP2D or STS number first), out of the
        # RKUD?, the bendahara's account); MT940 allows no "/" in a reference
        self.bank_moves: dict[int, list[tuple[str, int, str, bool, str]]] = {}
        self.card_lines: list[tuple[int, str, str, str, int, str]] = []  # the KKPD statement
        self.books: list[Book] = []
        self.tu_done = False
        # Every SPJ entry planned (line, day, amount): the anggaran kas and SPD cover them too.
        self.purchases: list[tuple[Line, int, int]] = []

    # -- the plan ----------------------------------------------------------------------------------
    def plan(self) -> None:
        units = [s for s in self.people.skpds if len(self._lines(s)) >= 3][:SKPDS]
        for n, skpd in enumerate(units):
            self._year(Book(skpd, self._lines(skpd)[:3], f"77{n:02d}001234", self._cards(n)), n)

    def _lines(self, skpd: Skpd) -> list[Line]:
        return [x for x in self.people.lines if x.skpd is skpd and x.rekening is not None
                and x.special == "" and x.category != "konstruksi"]  # fmt: skip

    @staticmethod
    def _cards(n: int) -> list[str]:
        return [f"5264-xxxx-xxxx-{4100 + 10 * n + k}" for k in (1, 2)]

    def _year(self, book: Book, n: int) -> None:
        self.books.append(book)
        start = self.calendar.day_of(1, 5) + n
        self._set_up(book, start)
        self._order(book, "up", start + 1, CASH_UP, amount=CASH_UP)
        book.cash = CASH_UP
        day, end = start + 4, self.calendar.day_of(12, 8)
        month = self.calendar.month(day)
        while day < end:
            if self.calendar.month(day) != month:  # the card bills, monthly
                month = self.calendar.month(day)
                self._pay_bills(book, day, Slot.ADMIN)
            self._purchase(book, day)
            if sum(a for _, a in book.open) >= CASH_UP // 2:
                self._pay_bills(book, day, Slot.SPM)
                self._gu(book, day + 1)
                day += 4
            if n == 0 and self.calendar.month(day) == 6 and not self.tu_done:
                self.tu_done = True  # the one TU of the year
                day = self._tu(book, day)
            day += self.rng.randint(3, 7)
        self._close(book, end + 3)  # after the last GU's money is in

    def _set_up(self, book: Book, day: int) -> None:
        admin, skpd = self.people.admins[0], book.skpd
        base = {"actor": admin, "pemda": PEMDA, "year": YEAR, "skpd": skpd.code}
        self._add(day, Slot.ADMIN, c.SetAdvance, **base, document=f"KEP/UP/{skpd.short}/{YEAR}",
                  ceiling=UP, kkpd_ceiling=KKPD, tu_ceiling=TU, bank_code="110",
                  account_number=book.account,
                  account_holder=f"Bendahara Pengeluaran {skpd.short}")  # fmt: skip
        for k, card in enumerate(book.cards):
            self._add(day, Slot.ADMIN, c.RegisterCard, **base, card=card,
                      holder=f"{skpd.short} pemegang {k + 1}", limit=KKPD // 2)  # fmt: skip

    def _add(self, day: int, slot: int, kind: type[c.Command], **fields: Any) -> None:
        self.schedule.add(day, slot, lambda _ledger, key: kind(idempotency_key=key, **fields))

    def _mine(self, book: Book) -> dict[str, Any]:
        return {"actor": book.skpd.bendahara, "pemda": PEMDA, "year": YEAR, "skpd": book.skpd.code}

    def _purchase(self, book: Book, day: int, tu: str | None = None) -> int:
        """One SPJ entry: by card while a card has room and no TU pays, else in cash."""
        book.spj_seq += 1
        number = f"SPJ/{book.skpd.short}/{book.spj_seq:04d}/{YEAR}"
        amount = self.rng.randint(5, 40) * 100_000
        card = self.rng.choice(book.cards)
        by_card = tu is None and self.rng.random() < 0.45
        by_card = by_card and book.owed.get(card, 0) + amount <= KKPD // 2
        if not by_card and (tu is None and amount > book.cash):
            return 0
        line = self.rng.choice(book.lines)
        line.pagu += amount  # the DPA holds what the bendahara spends too
        self.purchases.append((line, day, amount))
        on = self.calendar.days[day].isoformat()
        evidence = {"kuitansi": f"KW/{book.skpd.short}/{book.spj_seq:04d}"}
        merchant = self.rng.choice(("TOKO ATK SUMBER REJEKI", "CV MAKMUR JAYA", "RM SEDERHANA"))
        if by_card:
            auth = f"A{self.rng.randrange(16**5):05X}"
            evidence["otorisasi"] = auth
            book.owed[card] = book.owed.get(card, 0) + amount
            self.card_lines.append((day, card, merchant, auth, amount, "PEMBELIAN"))
        elif tu is None:
            book.cash -= amount
        self._add(day, Slot.REQUEST, c.RecordSpj, **self._mine(book), spj_number=number,
                  line=line.ref, amount=amount, channel="kkpd" if by_card else "tunai",
                  card=card if by_card else None, tu=tu, merchant=merchant, spent_on=on,
                  evidence=evidence)  # fmt: skip
        if tu is None:
            book.open.append((number, amount))
        return amount

    def _pay_bills(self, book: Book, day: int, slot: int) -> None:
        for card, owed in sorted(book.owed.items()):
            if owed and owed <= book.cash:
                self.seq += 1
                self._add(day, slot, c.PayCardBill, **self._mine(book), card=card, amount=owed,
                          reference=f"TAGIHAN/{self.seq:04d}")  # fmt: skip
                self.card_lines.append((day, card, "", "", -owed, "PEMBAYARAN TAGIHAN"))
                book.cash -= owed
                book.owed[card] = 0

    def _gu(self, book: Book, day: int, mechanism: str = "gu") -> None:
        """A GU (or GU nihil) of every open entry, once every card's bill is paid."""
        entries, book.open = (book.open, []) if not any(book.owed.values()) else ([], book.open)
        total = sum(a for _, a in entries)
        paid = total if mechanism == "gu" else 0
        if entries:
            self._order(book, mechanism, day, paid, spj_numbers=tuple(n for n, _ in entries))
        if mechanism == "gu":
            book.cash += total  # back by the GU's settlement, days before the next purchase

    def _tu(self, book: Book, day: int) -> int:
        amount = 30 * JT
        deadline = self.calendar.days[day + 12].isoformat()
        spp = self._order(book, "tu", day, amount, amount=amount, deadline=deadline)
        spent = sum(self._purchase(book, day + k, tu=spp) for k in (3, 5, 8))
        numbers = tuple(f"SPJ/{book.skpd.short}/{book.spj_seq - k:04d}/{YEAR}" for k in (2, 1, 0))
        self._return(book, day + 9, amount - spent, tu=spp)
        self._order(book, "gu_nihil", day + 10, 0, spj_numbers=numbers, tu=spp)
        return day + 14

    def _return(self, book: Book, day: int, amount: int, tu: str | None = None) -> None:
        self.seq += 1
        reference = f"STS/{self.seq:04d}/{book.skpd.short}/{YEAR}"
        self._add(day, Slot.SP2D, c.ReturnAdvance, **self._mine(book), amount=amount,
                  reference=reference, tu=tu)  # fmt: skip
        remark = f"{reference} SETORAN SISA {'TU' if tu else 'UP'} {book.skpd.short}"
        self.bank_moves.setdefault(day, []).append(
            (f"STS{self.seq:05d}", amount, remark, False, book.account)
        )

    def _close(self, book: Book, day: int) -> None:
        """December: the last bills, GU nihil for the last SPJ, the cash back to the RKUD."""
        self._pay_bills(book, day, Slot.ADMIN)
        self._gu(book, day + 1, "gu_nihil")
        if book.cash:
            self._return(book, day + 5, book.cash)
        book.cash = 0

    def _order(self, book: Book, mechanism: str, day: int, paid: int, **fields: Any) -> str:
        """An SPP of ``mechanism`` on ``day``, its SPM and SP2D the next; the bank pays ``paid``
        to the bendahara's account at the SP2D (none for a GU nihil)."""
        self.seq += 1
        skpd, kind = book.skpd, mechanism.upper().replace("_", "")
        spp = f"{PEMDA}/{self.seq:05d}/SPP-{kind}/{skpd.short}/{YEAR}"
        sp2d = f"{PEMDA}/{self.seq:05d}/SP2D-{kind}/BUD/{YEAR}"
        self._add(day, Slot.REQUEST, c.RequestAdvance, **self._mine(book), spp_number=spp,
                  mechanism=mechanism, description=f"SPP-{kind} {skpd.short}", **fields)  # fmt: skip
        order = {"pemda": PEMDA, "order_id": ids.advance_order_id(PEMDA, YEAR, spp)}
        self._add(day, Slot.VERIFY, c.VerifyAdvance, actor=skpd.ppk[0], **order)
        spm = f"{PEMDA}/{self.seq:05d}/SPM-{kind}/{skpd.short}/{YEAR}"
        self._add(day + 1, Slot.SPM, c.ApproveAdvance, actor=skpd.pa[0], spm_number=spm, **order)
        bud = self.people.kuasa_bud[0]
        self._add(day + 1, Slot.SP2D, c.AuthoriseAdvance, actor=bud, sp2d_number=sp2d, **order)
        if paid:
            self._add(day + 1, Slot.BANK, c.RecordAdvanceSettled, actor=self.people.gateways[0],
                      bank_reference=f"BANK/{self.seq:05d}", **order)  # fmt: skip
            remark = f"{sp2d} {mechanism.upper()} {skpd.short}"
            self.bank_moves.setdefault(day + 1, []).append(
                (f"SP2D{self.seq:05d}", paid, remark, True, book.account)
            )
        return spp

    # -- the bank's side ---------------------------------------------------------------------------
    def after(self, slot: int, day: int, gateway: DemoGateway) -> None:
        """At the BANK slot: the day's SP2D of the advances leave the RKUD to the bendahara's
        account, and the day's setoran come in."""
        if slot != Slot.BANK:
            return
        for reference, amount, remark, debit, account in self.bank_moves.get(day, []):
            move = gateway.sim.bank_debit if debit else gateway.sim.bank_credit
            move(reference, amount, remark, account=account, bank="110")

    def write_kkpd_statement(self, folder: Path) -> Path:
        """The issuing BPD's KKPD statement of the year (``reconciliation/readers/kkpd_csv.py``'s
        ``bpd_kkpd`` profile): every purchase and bill payment, and one purchase nobody put in an
        SPJ (its exception)."""
        stray = (self.calendar.day_of(11, 16), self.books[0].cards[0], "TOKO ELEKTRONIK JAYA",
                 "AFFFFF", 1_750_000, "PEMBELIAN")  # fmt: skip
        rows = ["tanggal_transaksi;tanggal_posting;nomor_kartu;nama_merchant;kode_otorisasi;"
                "uraian;debet;kredit"]  # fmt: skip
        for day, card, merchant, auth, amount, remark in sorted([*self.card_lines, stray]):
            on = self.calendar.days[day]
            posted = self.calendar.days[min(day + 1, self.calendar.last_day)]
            money = f"{abs(amount):,}".replace(",", ".") + ",00"
            debit, credit = (money, "") if amount > 0 else ("", money)
            rows.append(f"{on:%d/%m/%Y};{posted:%d/%m/%Y};{card};{merchant};{auth};{remark};"
                        f"{debit};{credit}")  # fmt: skip
        path = folder / f"kkpd-{YEAR}.csv"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        return path
