"""Rupiah at the edge: gateways write amounts as decimal strings ("10000.00"). They are parsed here,
exactly, into integer rupiah; nothing else in kasda touches a fractional amount."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MAX_RUPIAH = 10**16


class AmountError(ValueError):
    """A gateway amount that is not a whole number of rupiah."""


def parse_rupiah(text: object) -> int:
    """``"10000.00"`` / ``"10000"`` / ``10000`` -> ``10000``; anything with sen, a sign, an exponent,
    NaN or a float is refused."""
    if isinstance(text, (bool, float)):
        raise AmountError(f"amount must be a decimal string or an integer, got {text!r}")
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, str):
        raw = text.strip()
        if not raw or not all(ch.isdigit() or ch == "." for ch in raw) or raw.count(".") > 1:
            raise AmountError(f"not a plain decimal amount: {text!r}")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise AmountError(f"not a decimal amount: {text!r}") from None
    else:
        raise AmountError(f"amount must be a decimal string, got {type(text).__name__}")
    if value != value.to_integral_value():
        raise AmountError(f"amount {text!r} has a fraction of a rupiah")
    rupiah = int(value)
    if rupiah > MAX_RUPIAH:
        raise AmountError(f"amount {text!r} is beyond the limit")
    return rupiah


def format_rupiah(amount: int) -> str:
    """``10000`` -> ``"10000.00"``, as Midtrans writes amounts."""
    if type(amount) is not int or amount < 0:
        raise AmountError(f"amount must be a non-negative int, got {amount!r}")
    return f"{amount}.00"
