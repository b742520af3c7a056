"""The person's minute on the phone, measured from the rendered prompts (``sounds/<lang>/*.wav``,
the real voice): every menu says at most four choices in at most 11 s, and from the access number
to the first new message takes at most 20 s, keys pressed at 0.5 s each (issue #18).

The menus and the path are the media lists the flows themselves build, so a longer text, a slower
voice or one more prompt on the way shows here.
"""

from __future__ import annotations

import datetime as dt
import re
import wave
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reconnect_pbx import prompts
from reconnect_pbx.config import Settings
from reconnect_pbx.flows import access as access_flow
from reconnect_pbx.flows.access import LOGIN_ANSWER_SECONDS, counts_media, main_menu_prompts
from reconnect_pbx.flows.greetings import GREETINGS_MENU
from reconnect_pbx.flows.listening import message_menu_prompts
from reconnect_pbx.services.access import MessageCounts

SOUNDS = Path(__file__).resolve().parents[2] / "sounds"
MAX_CHOICES = 4
MAX_MENU_SECONDS = 11.0
MAX_PATH_SECONDS = 20.0
SECONDS_PER_KEY = 0.5
# A choice is said "tapez N" / "press N" (the key map's words).
CHOICE = {"fr": re.compile(r"\btapez\b"), "en": re.compile(r"\bpress\b")}


def seconds(name: str, language: str) -> float:
    with wave.open(str(SOUNDS / language / f"{name}.wav")) as wav:
        return wav.getnframes() / wav.getframerate()


def said(uris: list[str]) -> list[tuple[str, str]]:
    """(prompt, language) of media URIs ``sound:reconnect/std/<lang>/<name>``."""
    return [(uri.rsplit("/", 1)[1], uri.rsplit("/", 2)[1]) for uri in uris]


def menus(language: str) -> dict[str, list[tuple[str, str]]]:
    """Every menu a person hears, in each of its forms."""
    found = {"main": main_menu_prompts(language), "greetings": [(name, language) for name in GREETINGS_MENU]}
    for deleted in (False, True):
        for last in (False, True):
            names = message_menu_prompts(deleted=deleted, last=last)
            found[f"message deleted={deleted} last={last}"] = [(name, language) for name in names]
    found["change-pin-offer"] = [("change-pin-offer", language)]
    found["confirm-quit"] = [("confirm-quit", language)]
    found["phone"] = [("phone-menu", language)]
    return found


MENUS = [(language, menu) for language in prompts.LANGUAGES for menu in menus(language)]


@pytest.mark.parametrize("language, menu", MENUS, ids=[f"{lang}-{menu}" for lang, menu in MENUS])
def test_every_menu_says_at_most_four_choices_in_at_most_eleven_seconds(language, menu):
    items = menus(language)[menu]
    choices = sum(len(CHOICE[lang].findall(prompts.text(name, lang).lower())) for name, lang in items)
    duration = sum(seconds(name, lang) for name, lang in items)
    assert 1 <= choices <= MAX_CHOICES, f"{menu}: {choices} choices"
    assert duration <= MAX_MENU_SECONDS, f"{menu}: {duration:.1f} s"


PARIS = ZoneInfo(prompts.LOCAL_TIMEZONE)
NOW = dt.datetime(2026, 12, 3, 16, 0, tzinfo=PARIS)  # a Thursday
RECEIVED = {
    "today": NOW.replace(hour=14, minute=30),
    "yesterday": NOW.replace(hour=14, minute=30) - dt.timedelta(days=1),
    "this week": NOW.replace(hour=14, minute=30) - dt.timedelta(days=2),
}


def path_to_the_first_message(received_at: dt.datetime, language: str = "fr") -> tuple[list[tuple[str, str]], int]:
    """What the access number plays up to the first new message of a mailbox with one new
    message (from a mobile), and how many keys the caller presses on the way."""
    settings = Settings()
    wanted = settings.access.personal_number_digits
    ask_number = "enter-personal-number" if wanted >= 10 else "enter-personal-number-end"
    played = [(ask_number, access_flow.SERVICE_LANGUAGE.value), ("enter-pin", access_flow.SERVICE_LANGUAGE.value)]
    played += said(counts_media(MessageCounts(new=1, saved=0), language, "std", new_only=True))
    played += said(prompts.short_envelope_media(received_at, "+33612345678", language, now=NOW))
    return played, wanted + settings.pin.length


def path_seconds(received_at: dt.datetime) -> float:
    played, keys = path_to_the_first_message(received_at)
    return sum(seconds(name, lang) for name, lang in played) + keys * SECONDS_PER_KEY + LOGIN_ANSWER_SECONDS


def manifest_sources() -> dict[tuple[str, str], str]:
    """(prompt, language) -> where its file came from (sounds/manifest.tsv)."""
    sources = {}
    for line in (SOUNDS / "manifest.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        name, lang, source, _ = line.split("\t")
        sources[name, lang] = source
    return sources


def recorded_fragments(played: list[tuple[str, str]]) -> list[str]:
    """The prompts on a path still made from Armelle's recordings: her digits and numbers take
    twice as long as the TTS voice's at 130 words a minute."""
    sources = manifest_sources()
    return sorted({f"{lang}/{name}" for name, lang in played if "armelle" in sources[name, lang]})


@pytest.mark.parametrize("received", RECEIVED)
def test_the_first_new_message_starts_at_most_twenty_seconds_after_the_access_number_answers(received, request):
    played, _ = path_to_the_first_message(RECEIVED[received])
    recorded = recorded_fragments(played)
    if recorded:
        # Every fragment goes to the TTS voice (issue #18 item 6, branch "voice"): until then
        # the path is over 20 s, and this must fail; strict, so it asserts again once they are.
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"recorded fragments: {', '.join(recorded)}"))
    duration = path_seconds(RECEIVED[received])
    assert duration <= MAX_PATH_SECONDS, f"{duration:.1f} s"


def test_the_path_to_the_first_message_says_no_menu():
    played, keys = path_to_the_first_message(RECEIVED["today"])
    names = [name for name, _ in played]
    assert names[:2] == ["enter-personal-number", "enter-pin"]
    assert not {name for name in names if "menu" in name}
    assert keys == 16
