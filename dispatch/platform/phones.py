"""Phone numbers: parsed and stored as E.164, so '(555) 010-2030' and '+1 555 010 2030' match."""

from __future__ import annotations

import phonenumbers

from dispatch.platform.errors import Invalid


def normalise(raw: str, region: str, *, field: str = "phone") -> str:
    """E.164 form of a number read in `region`, or Invalid naming the field."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise Invalid.field(field, "is not a phone number") from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise Invalid.field(field, "is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalise(raw: str, region: str) -> str | None:
    """E.164 form, or None when the text is not a valid number (for searches)."""
    try:
        return normalise(raw, region)
    except Invalid:
        return None


def masked(e164: str | None) -> str:
    """A number safe for logs: country code and last two digits only."""
    if not e164:
        return ""
    return e164[:2] + "*" * max(len(e164) - 4, 0) + e164[-2:]
