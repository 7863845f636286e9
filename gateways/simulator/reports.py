"""The files a gateway and a bank send every day, written from the simulator's memory, in the formats
the reconciliation readers take (``reconciliation/readers``; docs/gateways.md, "daily files"):

* ``payout_report(day)``: the Iris payout report (CSV), one row per payout COMPLETED that day, in
  that day's batch ``IRISyyyymmdd``: ``reference_no,batch_id,status,beneficiary_bank,
  beneficiary_account,amount,fee,completed_at``.
* ``settlement_report(day)``: the Midtrans settlement report (CSV) of the batch Midtrans pays into
  the RKUD that day, ``STLyyyymmdd`` (as Midtrans dates its settlement reports: by the day the
  money is paid out). Its rows are the receipts settled at the gateway ``settlement_lag_days``
  earlier (``settlement_time``): ``order_id,batch_id,settlement_time,payment_type,gross_amount,
  fee,net_amount``. So the statement of a day and the reports of the same day explain each other.
* ``rkud_statement(day, fmt)``: the RKUD statement (rekening koran), MT940 or the BPD's CSV, every
  movement of the account that day: one debit per payout batch (sum of amount + fee, remark
  starting with the batch id; or, with ``batch_payouts=False``, one debit per payout whose remark
  starts with the payout reference and carries the SP2D number, plus one ``BIAYA TRANSFER`` line
  for the day's fees), one credit per returned payout (remark ``RETUR <payout reference>``), ONE
  credit per settlement batch (the receipts net of fees, remark starting with the batch id), one
  credit per payment made at the bank (``bank_credit``: teller deposits, transfers from the
  centre; remark starting with the payer's reference), and at month end the bank's interest
  (``BUNGA JASA GIRO``) and admin fee (``BIAYA ADMINISTRASI``). A day without movement is a
  statement too (opening = closing balance), as the bank sends one every day.

Gateway CSV amounts are ``10000.00``; the BPD CSV writes ``10.000,00`` with ``;`` separators and
``dd/mm/yyyy`` dates; MT940 writes ``10000,00``.
"""

from __future__ import annotations

import calendar
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from gateways.references import BI_CODES
from gateways.simulator.state import WIB, SimCredit, SimPayout, SimState

RKUD_BANK = "BJBRIDJA"  # BPD Jawa Barat dan Banten (BIC)
RKUD_ACCOUNT = "0001000100010"
MONTHLY_ADMIN_FEE = 10_000
INTEREST_PER_MILLE_MONTHLY = 1  # 0.1 % a month of the month-end balance


@dataclass(frozen=True, slots=True)
class Entry:
    day: date
    sign: str  # "D" money out of the RKUD, "C" money in, "RD" a debit reversed (a return)
    amount: int
    code: str  # MT940 transaction type: TRF, CHG, INT, RTI
    reference: str  # customer reference: batch id or payout reference
    bank_reference: str
    narrative: str  # starts with the document reference (or BIAYA / BUNGA / RETUR)
    counterparty_account: str = ""
    counterparty_bank: str = ""

    @property
    def credit(self) -> bool:
        return self.sign in ("C", "RD")


def _bi_code(iris_bank: str) -> str:
    """The bank writes the counterparty's kode bank (BI), not Iris's bank name."""
    return BI_CODES.get(iris_bank, iris_bank)


def _sp2d(payout: SimPayout) -> str:
    """The payout's notes without its reference: kasda writes ``<SP2D number> <reference>``."""
    return _clean(payout.notes.replace(payout.reference_no, ""))


def payout_batch(day: date) -> str:
    return f"IRIS{day:%Y%m%d}"


def settlement_batch(day: date) -> str:
    return f"STL{day:%Y%m%d}"


def _money(amount: int) -> str:
    return f"{amount}.00"


def _time(moment: datetime | None) -> str:
    assert moment is not None
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S")


def _clean(text: str) -> str:
    return " ".join(text.replace(",", " ").replace(";", " ").split())


def payout_report(state: SimState, day: date) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "reference_no",
            "batch_id",
            "status",
            "beneficiary_bank",
            "beneficiary_account",
            "amount",
            "fee",
            "completed_at",
        ]
    )
    with state.lock:
        done = [
            p
            for p in state.payouts.values()
            if p.completed_at is not None and p.completed_at.astimezone(WIB).date() == day
        ]
        for p in sorted(done, key=lambda p: (p.completed_at, p.reference_no)):
            writer.writerow(
                [
                    p.reference_no,
                    payout_batch(day),
                    "completed",  # it completed that day; a later bank return is the bank's line
                    _clean(p.beneficiary_bank),
                    p.beneficiary_account,
                    _money(p.amount),
                    _money(p.fee),
                    _time(p.completed_at),
                ]
            )
    return out.getvalue()


def settlement_report(state: SimState, day: date) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "order_id",
            "batch_id",
            "settlement_time",
            "payment_type",
            "gross_amount",
            "fee",
            "net_amount",
        ]
    )
    paid_on = day - timedelta(days=state.settlement_lag_days)
    with state.lock:
        settled = [
            o
            for o in state.orders.values()
            if o.settled_at is not None and o.settled_at.astimezone(WIB).date() == paid_on
        ]
        for o in sorted(settled, key=lambda o: (o.settled_at, o.order_id)):
            writer.writerow(
                [
                    o.order_id,
                    settlement_batch(day),
                    _time(o.settled_at),
                    o.payment_type,
                    _money(o.gross),
                    _money(o.fee),
                    _money(o.gross - o.fee),
                ]
            )
    return out.getvalue()


def entries(state: SimState) -> list[Entry]:
    """Every movement of the RKUD the simulation caused, in booking order."""
    lag = timedelta(days=state.settlement_lag_days)
    with state.lock:
        payouts = list(state.payouts.values())
        settled = [o for o in state.orders.values() if o.settled_at is not None]
        found = [entry for p in payouts for entry in _payout_entries(p, state.batch_payouts)]
        found += [_bank_credit(n, credit) for n, credit in enumerate(state.credits)]
    completed = [p for p in payouts if p.completed_at is not None]
    if state.batch_payouts:  # one debit per day's batch, amounts and fees together
        batches = _daily((_wib_day(p.completed_at), p.amount + p.fee) for p in completed)
        found += [_payout_batch(day, amounts) for day, amounts in batches.items()]
    else:  # one debit per payout (above), the day's fees in one line
        fees = _daily((_wib_day(p.completed_at), p.fee) for p in completed)
        found += [_fee_line(day, amounts) for day, amounts in fees.items()]
    # Midtrans pays the receipts into the RKUD ``lag`` days after they settle.
    receipts = _daily((_wib_day(o.settled_at) + lag, o.gross - o.fee) for o in settled)
    found += [_settlement_batch(day, amounts, lag) for day, amounts in receipts.items()]
    found.sort(key=lambda e: (e.day, 0 if e.credit else 1, e.reference))
    return _with_month_end(state, found)


def _wib_day(moment: datetime | None) -> date:
    assert moment is not None
    return moment.astimezone(WIB).date()


def _daily(amounts: Iterable[tuple[date, int]]) -> dict[date, list[int]]:
    """The amounts of each day, days in the order first seen."""
    by_day: dict[date, list[int]] = {}
    for day, amount in amounts:
        by_day.setdefault(day, []).append(amount)
    return by_day


def _payout_entries(p: SimPayout, batch_payouts: bool) -> list[Entry]:
    """A payout's own lines: its debit (when payouts are not batched) and its return."""
    found = []
    if p.completed_at is not None and not batch_payouts:
        found.append(
            Entry(
                _wib_day(p.completed_at),
                "D",
                p.amount,
                "TRF",
                p.reference_no[:16],
                f"IRS{p.reference_no[-13:].upper()}",
                f"{p.reference_no} {_sp2d(p)} REK:{p.beneficiary_account} "
                f"BANK:{_bi_code(p.beneficiary_bank)} {_clean(p.beneficiary_name)}",
                p.beneficiary_account,
                _bi_code(p.beneficiary_bank),
            )
        )
    if p.returned_at is not None:
        found.append(
            Entry(
                _wib_day(p.returned_at),
                "RD",
                p.amount,
                "RTI",
                p.reference_no[:16],
                f"RTR{p.reference_no[-13:].upper()}",
                f"RETUR {p.reference_no} {_sp2d(p)} {p.error_code.upper()} "
                f"REK:{p.beneficiary_account} BANK:{_bi_code(p.beneficiary_bank)}",
                p.beneficiary_account,
                _bi_code(p.beneficiary_bank),
            )
        )
    return found


def _bank_credit(n: int, credit: SimCredit) -> Entry:
    day = _wib_day(credit.at)
    return Entry(
        day,
        "D" if credit.debit else "C",
        credit.amount,
        "TRF",
        credit.reference[:16],
        f"{'DBT' if credit.debit else 'KRD'}{day:%y%m%d}{n:07d}",
        credit.remark,
        credit.counterparty_account,
        credit.counterparty_bank,
    )


def _fee_line(day: date, fees: list[int]) -> Entry:
    ref = f"FEE{day:%Y%m%d}"
    return Entry(day, "D", sum(fees), "CHG", ref, ref, f"BIAYA TRANSFER IRIS {len(fees)} TRX")


def _payout_batch(day: date, amounts: list[int]) -> Entry:
    batch = payout_batch(day)
    narrative = f"{batch} IRIS PAYOUT {len(amounts)} TRX MIDTRANS"
    return Entry(day, "D", sum(amounts), "TRF", batch, batch, narrative)


def _settlement_batch(day: date, amounts: list[int], lag: timedelta) -> Entry:
    batch = settlement_batch(day)
    narrative = f"{batch} MIDTRANS SETTLEMENT {len(amounts)} TRX {day - lag:%d/%m/%Y}"
    return Entry(day, "C", sum(amounts), "TRF", batch, batch, narrative)


def _with_month_end(state: SimState, found: list[Entry]) -> list[Entry]:
    """Interest and the bank's admin fee on the last day of each month that saw a movement."""
    if not found:
        return found
    months = sorted({(e.day.year, e.day.month) for e in found})
    balance = state.opening_balance
    out: list[Entry] = []
    pending = list(found)
    for year, month in months:
        last = date(year, month, calendar.monthrange(year, month)[1])
        for entry in [e for e in pending if e.day <= last]:
            out.append(entry)
            balance += entry.amount if entry.credit else -entry.amount
        pending = [e for e in pending if e.day > last]
        interest = max(balance, 0) * INTEREST_PER_MILLE_MONTHLY // 1000
        if interest:
            ref = f"INT{last:%Y%m}"
            out.append(Entry(last, "C", interest, "INT", ref, ref, f"BUNGA JASA GIRO {last:%m/%Y}"))
            balance += interest
        ref = f"ADM{last:%Y%m}"
        out.append(
            Entry(
                last,
                "D",
                MONTHLY_ADMIN_FEE,
                "CHG",
                ref,
                ref,
                f"BIAYA ADMINISTRASI REKENING {last:%m/%Y}",
            )
        )
        balance -= MONTHLY_ADMIN_FEE
    return out


def day_entries(state: SimState, day: date) -> tuple[int, list[Entry], int]:
    """Opening balance, the day's entries, closing balance."""
    everything = entries(state)
    opening = state.opening_balance + sum(
        e.amount if e.credit else -e.amount for e in everything if e.day < day
    )
    todays = [e for e in everything if e.day == day]
    closing = opening + sum(e.amount if e.credit else -e.amount for e in todays)
    return opening, todays, closing


def report(state: SimState, kind: str, day: date, fmt: str = "csv") -> str:
    """The file ``GET /sim/reports/{kind}/{day}[.{fmt}]`` answers: ``payouts``, ``settlements``
    (CSV whatever ``fmt``) or ``rkud`` (``fmt``: mt940 or csv)."""
    if kind == "payouts":
        return payout_report(state, day)
    if kind == "settlements":
        return settlement_report(state, day)
    assert kind == "rkud", kind
    return rkud_statement(state, day, fmt)


def rkud_statement(state: SimState, day: date, fmt: str = "mt940") -> str:
    opening, todays, closing = day_entries(state, day)
    return _statement(day, opening, todays, closing, fmt)


def _statement(day: date, opening: int, todays: list[Entry], closing: int, fmt: str) -> str:
    if fmt == "csv":
        return _csv(opening, todays)
    if fmt == "mt940":
        return _mt940(day, opening, todays, closing)
    raise ValueError(f"unknown statement format {fmt!r}; mt940 or csv")


def daily_files(state: SimState, days: list[date]) -> list[tuple[str, str]]:
    """``(file name, text)`` of every day's four files: ``payouts-D.csv``, ``settlements-D.csv``,
    ``rkud-D.sta`` (MT940) and ``rkud-D.csv``; the account's movements are gathered once."""
    everything = entries(state)
    by_day: dict[date, list[Entry]] = {}
    for e in everything:
        by_day.setdefault(e.day, []).append(e)
    files: list[tuple[str, str]] = []
    balance, done = state.opening_balance, 0  # the closing balance of everything before ``day``
    for day in sorted(days):
        while done < len(everything) and everything[done].day < day:
            e = everything[done]
            balance += e.amount if e.credit else -e.amount
            done += 1
        todays = by_day.get(day, [])
        closing = balance + sum(e.amount if e.credit else -e.amount for e in todays)
        files += [
            (f"payouts-{day}.csv", payout_report(state, day)),
            (f"settlements-{day}.csv", settlement_report(state, day)),
            (f"rkud-{day}.sta", _statement(day, balance, todays, closing, "mt940")),
            (f"rkud-{day}.csv", _statement(day, balance, todays, closing, "csv")),
        ]
    return files


def _id_amount(amount: int) -> str:
    """``98000000`` -> ``98.000.000,00`` (Indonesian style)."""
    return f"{amount:,}".replace(",", ".") + ",00"


def _csv(opening: int, todays: list[Entry]) -> str:
    rows = ["tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan"]
    balance = opening
    for e in todays:
        balance += e.amount if e.credit else -e.amount
        debit, credit = (0, e.amount) if e.credit else (e.amount, 0)
        rows.append(
            ";".join(
                [
                    f"{e.day:%d/%m/%Y}",
                    _clean(e.narrative),
                    _id_amount(debit),
                    _id_amount(credit),
                    _id_amount(balance),
                    e.bank_reference,
                    e.counterparty_account,
                    e.counterparty_bank,
                ]
            )
        )
    return "\n".join(rows) + "\n"


def _balance_field(tag: str, day: date, amount: int) -> str:
    sign = "C" if amount >= 0 else "D"
    return f":{tag}:{sign}{day:%y%m%d}IDR{abs(amount)},00"


def _mt940(day: date, opening: int, todays: list[Entry], closing: int) -> str:
    lines = [
        f":20:KASDA{day:%Y%m%d}",
        f":25:{RKUD_BANK}/{RKUD_ACCOUNT}",
        f":28C:{day.timetuple().tm_yday:05d}/1",
        _balance_field("60F", day, opening),
    ]
    for e in todays:
        lines.append(
            f":61:{e.day:%y%m%d}{day:%m%d}{e.sign}{e.amount},00N{e.code}"
            f"{e.reference[:16]}//{e.bank_reference[:16]}"
        )
        text = _clean(e.narrative)[:390]
        chunks = [text[i : i + 65] for i in range(0, len(text), 65)]
        lines.append(":86:" + "\r\n".join(chunks))
    lines.append(_balance_field("62F", day, closing))
    return "\r\n".join(lines) + "\r\n-\r\n"
