"""The prompt catalogue: every prompt has its texts and its audio, and values are said in the right order."""

from __future__ import annotations

import datetime as dt
import wave
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reconnect_pbx import prompts
from reconnect_pbx.models import Language

SOUNDS = Path(__file__).resolve().parents[2] / "sounds"
AUDIO_DIRS = [("std", "fr"), ("std", "en"), ("short", "fr"), ("short", "en")]


def _folder(prompt_set: str, language: str) -> Path:
    return SOUNDS / language if prompt_set == "std" else SOUNDS / "short" / language


def _names(uris: list[str], language: str = "fr", prompt_set: str = "std") -> list[str]:
    prefix = f"sound:reconnect/{prompt_set}/{language}/"
    assert all(uri.startswith(prefix) for uri in uris), uris
    return [uri.removeprefix(prefix) for uri in uris]


@pytest.mark.parametrize(("prompt_set", "language"), AUDIO_DIRS)
def test_every_prompt_has_an_8khz_mono_16bit_wav(prompt_set: str, language: str) -> None:
    folder = _folder(prompt_set, language)
    problems = []
    for name in prompts.CATALOGUE:
        path = folder / f"{name}.wav"
        if not path.exists():
            problems.append(f"{name}: missing")
            continue
        with wave.open(str(path), "rb") as audio:
            shape = (audio.getframerate(), audio.getnchannels(), audio.getsampwidth(), audio.getcomptype())
            if shape != (8000, 1, 2, "NONE"):
                problems.append(f"{name}: {shape}")
            elif audio.getnframes() < 800 or len(audio.readframes(audio.getnframes())) != 2 * audio.getnframes():
                problems.append(f"{name}: {audio.getnframes()} samples")
    assert not problems, f"{folder}: run sounds/render.py\n" + "\n".join(problems)


@pytest.mark.parametrize(("prompt_set", "language"), AUDIO_DIRS)
def test_no_audio_file_is_left_without_a_prompt(prompt_set: str, language: str) -> None:
    extra = sorted(p.stem for p in _folder(prompt_set, language).glob("*.wav") if p.stem not in prompts.CATALOGUE)
    assert not extra


def test_the_short_set_is_short() -> None:
    for language in prompts.LANGUAGES:
        with wave.open(str(SOUNDS / "short" / language / "main-menu.wav"), "rb") as audio:
            assert audio.getnframes() / audio.getframerate() <= 0.2


def test_every_prompt_has_a_text_in_both_languages() -> None:
    for name, prompt in prompts.CATALOGUE.items():
        assert prompt.fr.strip() and prompt.en.strip(), name
        assert "\t" not in prompt.fr + prompt.en and "\n" not in prompt.fr + prompt.en, name


def test_the_audio_was_rendered_from_the_current_texts() -> None:
    rows = {}
    lines = (SOUNDS / "manifest.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == ["name", "lang", "source", "text"]
    for line in lines[1:]:
        name, language, source, text = line.split("\t")
        rows[(name, language)] = text
        assert source, line
    expected = {
        (name, lang): prompt.text(lang) for name, prompt in prompts.CATALOGUE.items() for lang in prompts.LANGUAGES
    }
    stale = sorted(f"{lang}/{name}" for (name, lang), text in expected.items() if rows.get((name, lang)) != text)
    assert not stale, "texts changed since the audio was made; run sounds/render.py: " + ", ".join(stale)
    assert set(rows) == set(expected)


def test_names_are_kebab_case() -> None:
    for name in prompts.CATALOGUE:
        assert name == name.lower() and " " not in name and "_" not in name, name


def test_the_prompts_the_flows_need_are_in_the_catalogue() -> None:
    needed = """
        not-in-service greeting-default-intro greeting-default-leave beep mailbox-full message-too-short
        message-saved technical-problem goodbye enter-personal-number enter-pin login-incorrect login-locked
        login-suspended first-login-welcome record-your-name name-recorded change-pin-offer you-have
        new-message new-messages and saved-message saved-messages no-messages main-menu invalid-key no-input
        not-available-yet message received at from unknown-caller message-menu message-deleted
        message-restored message-saved-folder no-more-messages first-message greetings-menu
        greeting-recorded greeting-deleted no-personal-greeting record-after-tone enter-new-pin
        reenter-new-pin pins-dont-match pin-changed pin-weak-repeated pin-weak-sequence pin-weak-pairs
        pin-weak-year pin-weak-date pin-weak-own-number pin-weak-common pin-weak-length language-changed
        service-unavailable hours minutes enter-number-to-call calling destination-refused-premium
        destination-refused-short destination-refused-international destination-refused-withheld
        destination-refused-invalid emergency-dial-directly outbound-suspended quota-exhausted
        call-limit-warning call-busy call-no-answer call-failed call-ended too-many-calls
        day-monday day-sunday month-january month-december number-0 number-59 digit-0 digit-9
    """.split()
    assert [name for name in needed if name not in prompts.CATALOGUE] == []


def test_require_refuses_an_unknown_prompt() -> None:
    assert prompts.require("beep") == "beep"
    with pytest.raises(KeyError, match="no-such-prompt"):
        prompts.require("no-such-prompt")
    with pytest.raises(KeyError):
        prompts.media("no-such-prompt", "fr")


def test_media_names_the_installed_file() -> None:
    assert prompts.media("mailbox-full", "fr") == "sound:reconnect/std/fr/mailbox-full"
    assert prompts.media("mailbox-full", "en", "short") == "sound:reconnect/short/en/mailbox-full"
    assert prompts.media("beep", Language.EN) == "sound:reconnect/std/en/beep"
    # A set of the association's own voice (reconnect-pbx prompts import) is any folder name.
    assert prompts.media("goodbye", "fr", "asso-2027") == "sound:reconnect/asso-2027/fr/goodbye"


@pytest.mark.parametrize(("language", "prompt_set"), [("de", "std"), ("fr", "../long")])
def test_media_refuses_an_unknown_language_or_set(language: str, prompt_set: str) -> None:
    with pytest.raises(ValueError):
        prompts.media("beep", language, prompt_set)


def test_a_french_number_is_said_digit_by_digit_as_dialled_in_france() -> None:
    said = prompts.digits_media("+33142685300", "fr")
    assert _names(said) == [f"digit-{d}" for d in "0142685300"]
    assert prompts.digits_media("01 42 68 53 00", "fr") == said


def test_a_foreign_number_is_said_with_the_international_prefix() -> None:
    assert _names(prompts.digits_media("+447911123456", "en", "short"), "en", "short") == [
        f"digit-{d}" for d in "00447911123456"
    ]


@pytest.mark.parametrize("number", ["", "+", "anonymous"])
def test_a_number_without_digits_cannot_be_said(number: str) -> None:
    with pytest.raises(ValueError):
        prompts.digits_media(number, "fr")


@pytest.mark.parametrize(
    ("n", "french", "english"),
    [
        (0, "zéro", "zero"),
        (16, "seize", "sixteen"),
        (17, "dix-sept", "seventeen"),
        (21, "vingt et un", "twenty-one"),
        (22, "vingt-deux", "twenty-two"),
        (59, "cinquante-neuf", "fifty-nine"),
        (71, "soixante et onze", "seventy-one"),
        (80, "quatre-vingts", "eighty"),
        (91, "quatre-vingt-onze", "ninety-one"),
    ],
)
def test_numbers_are_spelled_the_traditional_way(n: int, french: str, english: str) -> None:
    assert prompts.french_number(n) == french
    assert prompts.english_number(n) == english


def test_number_prompts_say_their_number() -> None:
    assert prompts.text("number-21", "fr") == "vingt et un"
    assert prompts.text("number-21-f", "fr") == "vingt et une"
    assert prompts.text("number-1-f", "fr") == "une"
    assert prompts.text("number-45", "en") == "forty-five"
    assert [prompts.text(f"ordinal-{n}", "fr") for n in (1, 2, 5, 9, 21)] == [
        "premier", "deuxième", "cinquième", "neuvième", "vingt et unième",
    ]  # fmt: skip
    assert [prompts.text(f"ordinal-{n}", "en") for n in (1, 12, 20, 23, 31)] == [
        "first", "twelfth", "twentieth", "twenty-third", "thirty-first",
    ]  # fmt: skip


def test_number_media_says_0_to_59_and_refuses_more() -> None:
    assert _names(prompts.number_media(0, "fr")) == ["number-0"]
    assert _names(prompts.number_media(59, "fr")) == ["number-59"]
    assert _names(prompts.number_media(31, "fr", feminine=True)) == ["number-31-f"]
    assert _names(prompts.number_media(32, "fr", feminine=True)) == ["number-32"]
    for n in (-1, prompts.MAX_NUMBER + 1):
        with pytest.raises(ValueError):
            prompts.number_media(n, "fr")


@pytest.mark.parametrize(
    ("language", "n", "expected"),
    [
        ("fr", 0, ["number-0", "new-message"]),
        ("fr", 1, ["number-1", "new-message"]),
        ("fr", 3, ["number-3", "new-messages"]),
        ("en", 0, ["number-0", "new-messages"]),
        ("en", 1, ["number-1", "new-message"]),
        ("en", 3, ["number-3", "new-messages"]),
    ],
)
def test_a_count_agrees_with_its_noun(language: str, n: int, expected: list[str]) -> None:
    said = prompts.count_media(n, "new-message", "new-messages", language)
    assert _names(said, language) == expected


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [
        (14, 5, ["number-14", "hours", "number-5"]),
        (14, 0, ["number-14", "hours"]),
        (1, 0, ["number-1-f", "hour"]),
        (0, 30, ["number-0", "hour", "number-30"]),
        (21, 31, ["number-21-f", "hours", "number-31-f"]),
        (23, 59, ["number-23", "hours", "number-59"]),
    ],
)
def test_french_times_use_the_24_hour_clock(hour: int, minute: int, expected: list[str]) -> None:
    assert _names(prompts.time_media(hour, minute, "fr")) == expected


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [
        (14, 5, ["number-2", "time-oh", "number-5", "time-pm"]),
        (14, 0, ["number-2", "time-oclock", "time-pm"]),
        (0, 0, ["number-12", "time-oclock", "time-am"]),
        (12, 30, ["number-12", "number-30", "time-pm"]),
        (9, 45, ["number-9", "number-45", "time-am"]),
    ],
)
def test_english_times_use_the_12_hour_clock(hour: int, minute: int, expected: list[str]) -> None:
    assert _names(prompts.time_media(hour, minute, "en"), "en") == expected


def test_an_impossible_time_is_refused() -> None:
    with pytest.raises(ValueError):
        prompts.time_media(24, 0, "fr")


def test_dates_are_said_with_their_weekday() -> None:
    tuesday = dt.date(2026, 11, 24)
    assert _names(prompts.date_media(tuesday, "fr")) == ["day-tuesday", "number-24", "month-november"]
    assert _names(prompts.date_media(tuesday, "en"), "en") == ["day-tuesday", "month-november", "ordinal-24"]
    first = dt.date(2026, 12, 1)
    assert _names(prompts.date_media(first, "fr")) == ["day-tuesday", "ordinal-1", "month-december"]


def test_the_envelope_says_number_date_time_and_caller() -> None:
    received = dt.datetime(2026, 11, 24, 13, 5, tzinfo=dt.UTC)  # 14:05 in Paris
    now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    said = prompts.envelope_media(1, received, "+33142685300", "fr", now=now)
    assert _names(said) == [
        "message", "number-1", "received", "day-tuesday", "number-24", "month-november",
        "at", "number-14", "hours", "number-5", "from", *[f"digit-{d}" for d in "0142685300"],
    ]  # fmt: skip


def test_the_envelope_says_today_and_an_unknown_caller() -> None:
    paris = ZoneInfo("Europe/Paris")
    received = dt.datetime(2026, 7, 14, 9, 30, tzinfo=paris)
    now = dt.datetime(2026, 7, 14, 18, 0, tzinfo=paris)
    said = prompts.envelope_media(12, received, None, "en", "short", now=now)
    assert _names(said, "en", "short") == [
        "message", "number-12", "received", "today", "at", "number-9", "number-30", "time-am", "unknown-caller",
    ]  # fmt: skip
    yesterday = prompts.envelope_media(2, received, None, "fr", now=now + dt.timedelta(days=1))
    assert _names(yesterday)[3] == "yesterday"


def test_the_short_envelope_says_the_weekday_within_a_week_and_no_message_number() -> None:
    received = dt.datetime(2026, 11, 24, 13, 30, tzinfo=dt.UTC)  # Tuesday, 14:30 in Paris
    now = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)  # the Friday after
    said = prompts.short_envelope_media(received, "+33612345678", "fr", now=now)
    assert _names(said) == [
        "received", "day-tuesday", "at", "number-14", "hours", "number-30",
        "from", *[f"digit-{d}" for d in "0612345678"],
    ]  # fmt: skip
    today = prompts.short_envelope_media(received, None, "en", "short", now=received)
    assert _names(today, "en", "short")[:2] == ["received", "today"]
    assert _names(today, "en", "short")[-1] == "unknown-caller"
    older = prompts.short_envelope_media(received, None, "fr", now=now + dt.timedelta(days=7))
    assert _names(older)[1:4] == ["day-tuesday", "number-24", "month-november"]
