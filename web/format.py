"""How kasda's screens write numbers and times: rupiah as ``Rp 1.234.567`` (dots between
thousands, no decimals), a shortfall in brackets as accountants write it, dates and times in WIB
(``21 Okt 2026``, ``14.05 WIB``). Jinja filters (``web.render``) and the CSV downloads use these."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ledger.errors import InvalidInput

WIB = ZoneInfo("Asia/Jakarta")
NONE = "\N{EN DASH}"  # an empty cell
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
          "Oktober", "November", "Desember")  # fmt: skip
SHORT_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


def thousands(amount: int) -> str:
    """``1234567`` -> ``1.234.567`` (an integer, never a float)."""
    assert isinstance(amount, int), f"an amount of rupiah is an integer, not {amount!r}"
    return f"{abs(amount):,}".replace(",", ".")


def rupiah(amount: int | None) -> str:
    """``Rp 1.234.567``; a negative amount in brackets, ``(Rp 1.234)``; None as a dash."""
    if amount is None:
        return NONE
    written = f"Rp {thousands(amount)}"
    return f"({written})" if amount < 0 else written


def persen(basis_points: int | None) -> str:
    """Basis points as a percentage with a comma: ``8712`` -> ``87,12%``."""
    if basis_points is None:
        return NONE
    sign = "-" if basis_points < 0 else ""
    whole, part = divmod(abs(basis_points), 100)
    return f"{sign}{whole},{part:02d}%"


def _moment(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:  # the read models keep UTC
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(WIB)


def local(value: datetime | str) -> datetime:
    """A moment of the read models (UTC ISO text) or a datetime, in WIB."""
    return _moment(value)


def tanggal(value: datetime | date | str | None) -> str:
    """``21 Okt 2026``."""
    if value is None or value == "":
        return NONE
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    day = value if isinstance(value, date) and not isinstance(value, datetime) else _moment(value)
    return f"{day.day} {SHORT_MONTHS[day.month - 1]} {day.year}"


def waktu(value: datetime | str | None) -> str:
    """``21 Okt 2026 14.05 WIB``."""
    if value is None or value == "":
        return NONE
    moment = _moment(value)
    return f"{tanggal(moment)} {moment.hour:02d}.{moment.minute:02d} WIB"


def bulan(month: int) -> str:
    return MONTHS[month - 1]


def umur(value: datetime | str | None, now: datetime) -> str:
    """How long something has waited: ``3 hari``, ``5 jam``, ``12 menit``."""
    if value is None or value == "":
        return NONE
    seconds = max(0, int((now - _moment(value)).total_seconds()))
    if seconds >= 86400:
        return f"{seconds // 86400} hari"
    if seconds >= 3600:
        return f"{seconds // 3600} jam"
    return f"{seconds // 60} menit"


def parse_rupiah(text: str) -> int:
    """What a person types as an amount of rupiah (``1.234.567``, ``Rp 1.234.567``, ``1234567``)
    as an integer; anything else (decimals, letters, nothing) is ``InvalidInput``."""
    cleaned = text.strip().removeprefix("Rp").replace(".", "").replace(" ", "")
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 18:
        raise InvalidInput(
            f"jumlah harus bilangan bulat rupiah, misalnya 1.500.000; bukan {text!r}"
        )
    return int(cleaned)


def parse_tanggal(text: str, what: str) -> date | None:
    """A day a person typed or picked (``TTTT-BB-HH``, as a date field sends it); empty is None,
    anything else is ``InvalidInput`` naming ``what``."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} bukan tanggal (TTTT-BB-HH)") from None
