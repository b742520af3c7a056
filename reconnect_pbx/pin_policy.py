"""Which PINs are refused, and random PINs that pass. Used by enrolment, ``pin reset`` and the phone menu.

A PIN is a handful of digits guessed over the phone, so the lockout (``access.*`` settings) is the
real defence; this policy removes the PINs a guesser tries first. Rules, in the order checked (the
first that matches gives the reason code):

- ``not-digits``: anything but the ASCII digits 0-9.
- ``length``: not exactly the configured length, or a configured length under 4.
- ``repeated``: one digit repeated (000000, 7777).
- ``sequence``: each digit one more, or one less, than the previous, wrapping around 9-0 because
  the keypad's 0 sits just under 8 and 9 (123456, 654321, 890123, 109876).
- ``pairs``: a shorter group of digits repeated to fill the PIN: pairs (121212, 1212) and triples
  (123123), and halves of 8-digit PINs (12341234).
- ``date``: a calendar date. 4 digits: DDMM, MMDD. 6 digits: DDMMYY, MMDDYY, YYMMDD. 8 digits:
  DDMMYYYY, MMDDYYYY, YYYYMMDD (years 1900-2099). 29 February always counts.
- ``year``: a 4-digit PIN from 1900 to 2099; for longer PINs, the first four or the last four digits
  form such a year (198512, 061985): people pad their birth year.
- ``own-number``: the PIN appears in the person's own number (its last digits, any part of it),
  written nationally (0142685300) or internationally (33142685300).
- ``common``: in ``COMMON_PINS``, the most used PINs the rules above miss (keypad shapes, 123321...).
- ``error``: the check itself failed unexpectedly: the policy fails closed, the PIN is refused.

For 6-digit PINs these rules refuse about 12% of all PINs (4 digits: about 9%), which leaves ample choice.
"""

from __future__ import annotations

import calendar
import re
import secrets

from reconnect_pbx.phone import digit_forms
from reconnect_pbx.errors import InvalidInput

MINIMUM_LENGTH = 4
_GENERATION_ATTEMPTS = 1000
_DIGITS = re.compile(r"^[0-9]+$")

# Frequent PINs from published PIN-frequency studies that no rule catches: keypad columns,
# diagonals and crosses, mirrored halves. Entries a rule already refuses are left out.
COMMON_PINS = frozenset(
    {
        # 4 digits
        "2580", "0852", "1397", "1379", "1478", "1590", "1470", "1342", "2468", "1357", "1369",
        "0007", "0070", "1233",
        # 6 digits
        "123321", "159753", "147258", "258369", "147852", "789456", "456123", "159357", "147369",
        "963852", "124578", "100000", "123654", "321654", "753951", "357159", "142536", "135790",
        "246810", "123789", "778899", "998877", "987123",
        # 8 digits
        "11223344", "12344321", "14725836", "13572468",
    }
)


class WeakPin(InvalidInput):
    """A refused PIN: ``reason_code`` for the phone menu's prompt, the message for staff."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code


def check_pin(pin: str, *, length: int, own_number: str | None = None) -> None:
    """Return None if ``pin`` is acceptable, else raise ``WeakPin`` saying why."""
    try:
        _check(pin, length, own_number)
    except WeakPin:
        raise
    except Exception:  # noqa: BLE001 - fail closed, whatever went wrong
        raise WeakPin("error", "the PIN could not be checked, so it is refused") from None


def generate_pin(length: int, own_number: str | None = None) -> str:
    """A random PIN of ``length`` digits from ``secrets`` that passes ``check_pin``."""
    if length < MINIMUM_LENGTH:
        raise ValueError(f"a PIN has at least {MINIMUM_LENGTH} digits, not {length}")
    for _ in range(_GENERATION_ATTEMPTS):
        pin = "".join(secrets.choice("0123456789") for _ in range(length))
        try:
            check_pin(pin, length=length, own_number=own_number)
        except WeakPin:
            continue
        return pin
    # Unreachable with a sane policy (most PINs pass); refuse rather than hand out a weak one.
    raise RuntimeError("could not generate a PIN passing the policy")


def _check(pin: str, length: int, own_number: str | None) -> None:
    if not isinstance(pin, str) or not _DIGITS.match(pin):
        raise WeakPin("not-digits", "a PIN is made of digits only")
    if length < MINIMUM_LENGTH:
        raise WeakPin("length", f"PINs must have at least {MINIMUM_LENGTH} digits")
    if len(pin) != length:
        raise WeakPin("length", f"the PIN must have {length} digits, not {len(pin)}")
    if len(set(pin)) == 1:
        raise WeakPin("repeated", "the PIN is one digit repeated")
    if _is_run(pin):
        raise WeakPin("sequence", "the PIN is a run of consecutive digits")
    if _is_repeated_group(pin):
        raise WeakPin("pairs", "the PIN is a group of digits repeated")
    if _is_date(pin):
        raise WeakPin("date", "the PIN looks like a date")
    if _has_year(pin):
        raise WeakPin("year", "the PIN looks like a year")
    if own_number and any(pin in form for form in digit_forms(own_number)):
        raise WeakPin("own-number", "the PIN is part of the person's own phone number")
    if pin in COMMON_PINS:
        raise WeakPin("common", "the PIN is one of the most common PINs")


def _is_run(pin: str) -> bool:
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:])}
    return steps in ({1}, {9})


def _is_repeated_group(pin: str) -> bool:
    n = len(pin)
    return any(n % size == 0 and pin == pin[:size] * (n // size) for size in range(2, n // 2 + 1))


def _is_year(four_digits: str) -> bool:
    return 1900 <= int(four_digits) <= 2099


def _has_year(pin: str) -> bool:
    if len(pin) == 4:
        return _is_year(pin)
    return _is_year(pin[:4]) or _is_year(pin[-4:])


# Field layouts of dates per PIN length: D day, M month, Y two-digit year, C four-digit year.
_DATE_LAYOUTS = {
    4: ("DDMM", "MMDD"),
    6: ("DDMMYY", "MMDDYY", "YYMMDD"),
    8: ("DDMMCCCC", "MMDDCCCC", "CCCCMMDD"),
}


def _is_date(pin: str) -> bool:
    for layout in _DATE_LAYOUTS.get(len(pin), ()):
        day = int("".join(d for d, f in zip(pin, layout) if f == "D"))
        month = int("".join(d for d, f in zip(pin, layout) if f == "M"))
        century_year = "".join(d for d, f in zip(pin, layout) if f == "C")
        if century_year and not _is_year(century_year):
            continue
        # 2000 is a leap year: 29 February is a date whatever the year.
        if 1 <= month <= 12 and 1 <= day <= calendar.monthrange(2000, month)[1]:
            return True
    return False
