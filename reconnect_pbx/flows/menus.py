"""Menu building blocks shared by the logged-in flows: the key map, choose a key, type a number.

One key map for the whole service, said at the end of every help (prompt ``help``) and printed on
the leaflet (``services/cards.py``):

    0  the main menu (in the main menu: the menu again)
    *  back, repeat or cancel: in a menu, the help (the choices the menu leaves out, then the key
       map) and the menu again; while a message plays, 5 s back; in an entry, cancel (announced)
    #  confirm or skip: the end of an entry, the next message, 5 s on while a message plays,
       leaving the main menu once confirmed by a second #

A menu says at most four choices, the most used first (``tests/unit/test_menus.py`` measures them
from the rendered prompts); the others are in its help.

Every wait has a timeout; a caller who stays silent hears the menu again, twice, and then the
menu gives up (``None``): the flow says goodbye rather than keep a line open forever.
"""

from __future__ import annotations

from collections.abc import Sequence

from .channel import DTMF_KEYS, CallChannel

MAIN_MENU_KEY = "0"
BACK_KEY = "*"
CONFIRM_KEY = "#"
# What ``collect_digits`` returns when the caller pressed the cancel key.
CANCELLED = BACK_KEY
# The key map said at the end of every help.
KEY_MAP_PROMPT = "help"


async def choose(
    channel: CallChannel,
    menu: Sequence[str],
    *,
    valid: str,
    timeout: float,
    invalid: Sequence[str],
    intro: Sequence[str] = (),
    repeats: int = 2,
) -> str | None:
    """Play ``intro`` and ``menu`` and return the key pressed (during them or up to ``timeout`` s
    after them).

    A key not in ``valid`` plays ``invalid`` and then the menu again; silence plays the menu
    again ``repeats`` times, then returns None. ``intro`` is said the first time only."""
    silences = 0
    first = [*intro]
    while True:
        await channel.play([*first, *menu], interrupt=DTMF_KEYS)
        first = []
        key = await channel.get_key(timeout)
        if key is None:
            silences += 1
            if silences > repeats:
                return None
            continue
        if key in valid:
            return key
        channel.clear_keys()
        await channel.play(invalid, interrupt=DTMF_KEYS)


async def collect_digits(
    channel: CallChannel,
    *,
    max_digits: int,
    first_timeout: float,
    next_timeout: float = 8.0,
    terminator: str = CONFIRM_KEY,
    cancel: str = BACK_KEY,
) -> str | None:
    """Digits until the terminator, ``max_digits`` digits, or a pause of ``next_timeout`` s.

    Returns the digits (never with the terminator), None if nothing was typed before
    ``first_timeout``, or ``CANCELLED`` when ``cancel`` was pressed at any point. A terminator
    typed before any digit is ignored (the end of an earlier entry typed ahead). An entry that
    ends at ``max_digits`` needs no terminator; one typed anyway is dropped by the channel
    (``absorb_terminator``), so that it neither cuts the next prompt nor chooses in a menu."""
    digits = ""
    timeout = first_timeout
    while len(digits) < max_digits:
        key = await channel.get_key(timeout)
        if key is None:
            break
        if cancel and key in cancel:
            return CANCELLED
        if key in terminator:
            if digits:
                break
            continue
        digits += key
        timeout = next_timeout
    if len(digits) >= max_digits:
        channel.absorb_terminator()
    return digits or None
