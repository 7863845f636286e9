"""Each scheme of ``schemes``, planted: where in the year, to whom and for how much.

Every payment of a case is a plain lifecycle of the demo (requested, verified, approved,
authorised, paid through the gateway simulator); what makes it a scheme is who, when and how much.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from functools import partial

from kasda.demo.chart import rek
from kasda.demo.schemes import DIRECT_PROCUREMENT, Schemes
from kasda.demo.world import Line, Skpd, Slot


def plant_all(s: Schemes) -> None:
    split_purchases(s)
    duplicate_invoices(s)
    account_changed_and_back(s)
    shared_account(s)
    new_vendors(s)
    off_hours(s)
    fast_track(s)
    year_end_spike(s)
    concentration(s)


def split_purchases(s: Schemes) -> None:
    """Pecah paket: 2 or 3 SPP to one vendor on one line within a month, each under the
    direct-procurement limit for goods, together over it."""
    for parts, month in ((2, 3), (3, 8)):
        case = s.case(f"pecah paket: {parts} SPP, one vendor, one line", "split_purchase")
        line = s.line("mebel")
        vendor = s.vendor(line.category)
        share = DIRECT_PROCUREMENT // parts
        day = s.calendar.day_of(month, s.rng.randint(2, 12))
        for _ in range(parts):
            lc = s.payment(case, line, vendor, s.gross(share * 11 // 10, share * 17 // 10), day)
            s.play(lc)
            day += s.rng.randint(3, 7)  # working days: all of them within 30 days


def duplicate_invoices(s: Schemes) -> None:
    """One invoice (faktur) paid twice, three and six weeks apart."""
    for month, later in ((4, 15), (9, 30)):
        case = s.case("faktur ganda: one invoice paid twice", "duplicate_payment")
        line = s.line("cetak", "katering", "eo")
        vendor = s.vendor(line.category)
        gross = s.gross(20_000_000, 85_000_000)
        first = s.payment(case, line, vendor, gross, s.calendar.day_of(month, s.rng.randint(2, 9)))
        again = s.payment(case, line, vendor, gross, first.day + later)
        again.documents = dict(first.documents)  # the same contract, invoice and BAST again
        s.play(first)
        s.play(again)


def account_changed_and_back(s: Schemes) -> None:
    """The vendor's account changes the working day before the SP2D and back three working days
    after the change. No other payment to it is in flight across either change
    (``clear_of_account_changes``)."""
    case = s.case(
        "account changed before the SP2D and back after", "account_changed_before_payment"
    )
    line = s.line("it", "konstruksi")
    taken = tuple(v for p in s.planted for v in (*p.vendors, *(lc.vendor for lc in p.payments)))
    vendor = s.vendor(line.category, avoid=taken)
    s.payments.switching.add(id(vendor))
    case.vendors.append(vendor)
    change = s.calendar.day_of(5, s.rng.randint(4, 20))
    lc = s.payment(case, line, vendor, s.gross(60_000_000, 180_000_000), change - 3)
    s.play(lc, gaps=(1, 1, 2))  # SPM the day before the change, SP2D the day after
    own, other = (vendor.bank_code, vendor.account), ("110", s.account())
    for day, to, why in (
        (change, other, "Surat rekanan: mohon pembayaran ke rekening baru"),
        (change + 3, own, "Surat rekanan: rekening dikembalikan ke rekening semula"),
    ):
        s.schedule.add(day, Slot.ADMIN, partial(s.change_account, vendor=vendor, to=to, reason=why))
        s.payments.account_changes.append((lc, day))


def shared_account(s: Schemes) -> None:
    """A second vendor registered with the bank account of another, and paid."""
    case = s.case("shared bank account: two vendors, one account", "shared_bank_account", "vendors")
    line = s.line("atk")
    owner = s.vendor("atk")
    twin = s.new_vendor(f"{owner.name} Utama", "atk", (owner.bank_code, owner.account))
    case.vendors += [owner, twin]
    registered = s.calendar.day_of(2, s.rng.randint(2, 20))
    s.register(twin, registered)
    s.play(s.payment(case, line, twin, s.gross(15_000_000, 40_000_000), registered + 4))


def new_vendors(s: Schemes) -> None:
    """A vendor registered days before its first, large, payment."""
    for month, name in ((6, "PT Cahaya Baru Konstruksi"), (9, "CV Karya Baru Sentosa")):
        case = s.case("new vendor paid a large amount days after registration", "new_vendor_paid")
        vendor = s.new_vendor(name, "konstruksi")
        case.vendors.append(vendor)
        registered = s.calendar.day_of(month, s.rng.randint(2, 12))
        s.register(vendor, registered)
        day = registered + s.rng.randint(2, 5)
        gross = s.gross(450_000_000, 900_000_000)
        s.play(s.payment(case, s.line("konstruksi"), vendor, gross, day))


def off_hours(s: Schemes) -> None:
    """An SP2D authorised at 22:30 WIB, an SPP verified on a Sunday, one on a national holiday."""
    cal = s.calendar
    case = s.case("SP2D authorised at 22:30 WIB", "off_hours_approval")
    line = s.line("it", "alkes")
    day = cal.day_of(5, s.rng.randint(4, 25))
    lc = s.payment(case, line, s.vendor(line.category), s.gross(60_000_000, 240_000_000), day)
    s.play(lc, authorise=s.wib(cal.days[day + 2], 22, 30))

    case = s.case("SPP verified on a Sunday", "off_hours_approval")
    line = s.line("katering", "eo", "cetak")
    friday = s.rng.choice(s.fridays(7))
    lc = s.payment(case, line, s.vendor(line.category), s.gross(20_000_000, 90_000_000), friday)
    s.play(lc, verify=s.wib(cal.days[friday] + timedelta(days=2), 10, 15))

    before, holiday = s.holiday()
    case = s.case(f"SPP verified on a national holiday ({holiday})", "off_hours_approval")
    line = s.line("katering", "eo", "cetak")
    lc = s.payment(case, line, s.vendor(line.category), s.gross(20_000_000, 90_000_000), before)
    s.play(lc, verify=s.wib(holiday, 9, 40))


def fast_track(s: Schemes) -> None:
    """SPP, verification, SPM and SP2D all within the hour of the request."""
    for month in (3, 10):
        case = s.case("SPP to SP2D within the hour", "fast_track")
        line = s.line("alihdaya", "eo", "it")
        day = s.calendar.day_of(month, s.rng.randint(3, 20))
        gross = s.gross(90_000_000, 190_000_000)
        lc = s.payment(case, line, s.vendor(line.category), gross, day)
        d = s.calendar.days[day]  # requested at 09:00-09:24 (the REQUEST slot)
        s.play(lc, verify=s.wib(d, 9, 30), approve=s.wib(d, 9, 38), authorise=s.wib(d, 9, 46))


def _works_units(s: Schemes) -> list[Skpd]:
    units = {id(x.skpd): x.skpd for x in s.people.lines if x.rekening is not None
             and x.special == "" and x.category == "konstruksi"}  # fmt: skip
    return list(units.values())


def year_end_spike(s: Schemes) -> None:
    """The SKPD that spends least pays twice its year's spending in the first days of December."""
    spent = Counter[str]()
    for lc in s.payments.lifecycles:
        spent[lc.skpd.code] += lc.gross
    unit = min(_works_units(s), key=lambda u: (spent[u.code], u.code))
    case = s.case(f"December spike in {unit.short}", "year_end_spike", "skpd")
    case.skpd = unit.code
    each = max(spent[unit.code] * 2 // 3, 500_000_000) // 1_000_000 * 1_000_000
    for k in range(3):
        line = s.line("konstruksi", skpd=unit.short)
        vendor = s.vendor("konstruksi", avoid=tuple(lc.vendor for lc in case.payments))
        day = s.calendar.day_of(12, 1 + 3 * k)
        s.play(s.payment(case, line, vendor, each + s.gross(0, 90_000_000), day))


def concentration(s: Schemes) -> None:
    """One media company takes (nearly) all of an SKPD's advertising: the unit's advertising
    lines pay it, and three more orders besides."""
    code = rek("iklan").code

    def advertising(unit: Skpd) -> list[Line]:
        return [x for x in s.people.lines if x.skpd is unit and x.code == code and x.special == ""]

    units = [u for u in s.people.skpds if advertising(u)]
    unit = max(units, key=lambda u: sum(len(x.planned) for x in advertising(u)))
    media = s.vendor("media")
    case = s.case(f"one media company takes {unit.short}'s advertising", "vendor_concentration",
                   "vendors")  # fmt: skip
    case.vendors.append(media)
    case.skpd = unit.code
    lines = advertising(unit)
    for line in lines:
        for lc in line.planned:
            if id(lc.vendor) not in s.payments.switching and not lc.scheme:
                lc.vendor = media
    for k in range(3):
        day = s.calendar.day_of(2 + 3 * k, s.rng.randint(2, 20))
        gross = s.gross(25_000_000, 90_000_000)
        s.play(s.payment(case, s.rng.choice(lines), media, gross, day))
