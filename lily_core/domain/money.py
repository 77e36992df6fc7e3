from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_SYMBOLS = {"USD": "$", "CAD": "$", "AUD": "$"}


def format_money(cents: int, currency: str = "USD") -> str:
    """`27000` -> `$270`; `27050` -> `$270.50`; `-50` -> `-$0.50`; other currencies as
    `270 EUR`."""
    # The sign goes before the symbol ("-$0.50", not "$-0.50").
    sign = "-" if cents < 0 else ""
    units = Decimal(abs(cents)) / 100
    text = f"{units:,.0f}" if cents % 100 == 0 else f"{units:,.2f}"
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def format_range(low_cents: int, high_cents: int, currency: str = "USD") -> str:
    """`$270–$590` (an en dash between the bounds)."""
    return f"{format_money(low_cents, currency)}–{format_money(high_cents, currency)}"


def to_cents(amount: Decimal) -> int:
    """Round a Decimal amount of cents to whole cents, halves up."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
