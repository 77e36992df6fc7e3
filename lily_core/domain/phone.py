from __future__ import annotations

import phonenumbers

from lily_core.errors import InvalidInput


def normalize_phone(raw: str, *, field: str = "phone", region: str = "US") -> str:
    """Return `raw` as an E.164 string (+12145550100); raise InvalidInput if it is not a
    valid number. National numbers are read as `region` numbers."""
    try:
        parsed = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{raw!r} is not a phone number", field=field) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"{raw!r} is not a valid phone number", field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_business_phone(raw: str, *, field: str = "phone") -> str:
    """normalize_phone for a business's own numbers (the one customers call, the one calls
    forward to): North American (+1) only, since Lily serves US businesses (ZIP codes, US
    texting rules). Customers' numbers are not restricted."""
    number = normalize_phone(raw, field=field)
    if not number.startswith("+1"):  # E.164: no other country code begins with 1
        raise InvalidInput(f"{raw!r} must be a US or Canadian (+1) number", field=field)
    return number


def try_normalize_phone(raw: str | None) -> str | None:
    """Like normalize_phone, but None for anything that is not a valid number."""
    if not raw:
        return None
    try:
        return normalize_phone(raw)
    except InvalidInput:
        return None
