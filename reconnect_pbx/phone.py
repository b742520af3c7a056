"""Phone numbers: one stored form (E.164), any written form accepted.

``01 42 68 53 00``, ``0033142685300`` and ``+33 1 42 68 53 00`` are the same number (default region
FR) and are all stored as ``+33142685300``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

from reconnect_pbx.errors import InvalidInput

# What people type around digits. Letters are refused: phonenumbers would read them as a vanity
# number (1-800-FLOWERS), which is never what staff mean when importing a pool.
_ALLOWED_CHARACTERS = re.compile(r"^[0-9+\s().\-/]+$")
# The stored form of a number: E.164, at most 15 digits after the "+".
E164_FORM = re.compile(r"\+[1-9][0-9]{1,14}")
# What a caller ID may look like around its digits for the caller to count as presented; the
# dialplan's fallback voicemail applies the same rule (dialplan/fallback.conf).
_CALLER_SEPARATORS = re.compile(r"[\s.()-]")
_CALLER_FORM = re.compile(r"\+?[0-9]{2,20}")


class InvalidNumber(InvalidInput):
    """A text that is not an acceptable phone number; the message gives the reason."""


def normalise(text: str, region: str = "FR", allowed_regions: Iterable[str] | None = None) -> str:
    """The E.164 form of ``text``, read as a national number of ``region`` unless international.

    ``allowed_regions`` (ISO codes) limits where the number may be from; None allows any region.
    """
    stripped = (text or "").strip()
    if not stripped:
        raise InvalidNumber("empty phone number")
    if not _ALLOWED_CHARACTERS.match(stripped):
        raise InvalidNumber(f"'{stripped}' is not a phone number: only digits, spaces and + . - ( ) /")
    try:
        parsed = phonenumbers.parse(stripped, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"'{stripped}' is not a phone number: {_parse_reason(exc)}") from None
    if not phonenumbers.is_valid_number(parsed):
        reason = _validation_reason(parsed)
        raise InvalidNumber(f"'{stripped}' is not a valid number: {reason}")
    number_region = phonenumbers.region_code_for_number(parsed)
    if allowed_regions is not None:
        allowed = {r.upper() for r in allowed_regions}
        if number_region not in allowed:
            raise InvalidNumber(
                f"'{stripped}' is a number of region {number_region}, not allowed here"
                f" (allowed: {', '.join(sorted(allowed))})"
            )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def caller_e164(raw: str, presentation: str, region: str) -> str | None:
    """The caller's number in E.164, or None when withheld or not a phone number at all.

    The one rule for a caller ID, whether the application took the call or the dialplan's fallback
    voicemail did (``services/recovery.py`` reads its spool file names with it)."""
    if (presentation or "").lower().startswith(("prohib", "unavailable")):
        return None
    cleaned = _CALLER_SEPARATORS.sub("", raw or "")
    if not _CALLER_FORM.fullmatch(cleaned):
        return None  # "anonymous", "unknown", empty, too long...
    try:
        parsed = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164 if E164_FORM.fullmatch(e164) else None


def stored_caller(value: str | None) -> str | None:
    """A message's stored caller number if it is E.164, else None (said and treated as withheld).

    Rows written by an older version, or imported, may hold anything ("anonymous", a national
    form, a SIP URI): nothing may be said or dialled from such a value."""
    if value is None or not E164_FORM.fullmatch(value):
        return None
    return value


def national_format(e164: str) -> str:
    """The readable national form: ``+33142685300`` -> ``01 42 68 53 00``; unchanged if unparsable."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def digit_forms(e164: str) -> list[str]:
    """The digit strings a person may know their number as: national (0142685300) and E.164 digits."""
    forms = [e164.lstrip("+")]
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return forms
    national = re.sub(r"\D", "", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))
    if national:
        forms.append(national)
    return forms


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "no digits to read",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "unreadable")


def _validation_reason(parsed: phonenumbers.PhoneNumber) -> str:
    result = phonenumbers.is_possible_number_with_reason(parsed)
    reasons = {
        phonenumbers.ValidationResult.TOO_SHORT: "too short",
        phonenumbers.ValidationResult.TOO_LONG: "too long",
        phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length",
        phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    }
    return reasons.get(result, "no such number range")
