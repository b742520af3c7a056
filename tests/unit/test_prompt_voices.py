"""One voice per sentence: no sentence joined at run time from prompts of two voices.

The shipped set is checked from the sources in sounds/manifest.tsv; the same check
(prompt_voices.mixed_sentences) is what `reconnect-pbx prompts status` says of the association's
own sets, checked here on made-up ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconnect_pbx import prompt_voices, prompts

MANIFEST = Path(__file__).resolve().parents[2] / "sounds" / "manifest.tsv"


def shipped_voices(language: str) -> dict[str, str]:
    """Prompt name → the voice that says it in the shipped set (a tone is no voice)."""
    voices = {}
    for line in MANIFEST.read_text(encoding="utf-8").splitlines()[1:]:
        name, lang, source, _ = line.split("\t")
        if lang == language and not source.startswith("tone:"):
            voices[name] = source
    return voices


@pytest.mark.parametrize("language", prompts.LANGUAGES)
def test_no_shipped_sentence_is_joined_from_two_voices(language: str) -> None:
    assert prompt_voices.mixed_sentences(shipped_voices(language), language) == {}


@pytest.mark.parametrize("language", prompts.LANGUAGES)
def test_the_shipped_prompts_of_a_language_are_all_of_one_voice(language: str) -> None:
    voices = shipped_voices(language)
    assert set(voices) == set(prompts.CATALOGUE) - prompt_voices.TONES
    assert len(set(voices.values())) == 1, sorted(set(voices.values()))


@pytest.mark.parametrize("language", prompts.LANGUAGES)
def test_every_way_of_joining_prompts_is_checked(language: str) -> None:
    sentences = prompt_voices.joined_sentences(language)
    assert set(sentences) == {
        "envelope", "short envelope", "date", "time", "counts", "failed logins", "PIN length", "default greeting",
    }  # fmt: skip
    numbers = {f"number-{n}" for n in range(1, prompts.MAX_NUMBER + 1)}  # English times say 0 h as "twelve"
    digits = {f"digit-{d}" for d in range(10)}
    days = {name for name in prompts.CATALOGUE if name.startswith("day-")}
    months = {name for name in prompts.CATALOGUE if name.startswith("month-")}
    envelope = sentences["envelope"]
    assert {"message", "received", "today", "yesterday", "at", "from", "unknown-caller"} <= envelope
    assert numbers | digits | days | months <= envelope
    assert {"received", "today", "yesterday", "at", "from", "unknown-caller"} | digits | days | months <= sentences[
        "short envelope"
    ]
    assert numbers <= sentences["counts"] and {"you-have", "and", "new-messages", "saved-message"} <= sentences["counts"]
    assert digits | {"greeting-default-intro", "greeting-default-leave"} == sentences["default greeting"]
    if language == "fr":
        assert {"hour", "hours", "number-21-f", "ordinal-1"} <= envelope
    else:
        assert {"time-oh", "time-oclock", "time-am", "time-pm", "ordinal-31"} <= envelope
    assert all(names <= set(prompts.CATALOGUE) for names in sentences.values())


def test_a_set_whose_sentences_are_recorded_but_not_their_numbers_mixes_voices() -> None:
    # The association recorded every sentence of the catalogue but no fragment (digits, numbers,
    # days, months): every sentence with a value would switch voice around it, except the date,
    # which is all fragments.
    fragments = ("digit-", "number-", "ordinal-", "day-", "month-")
    voices = {
        name: "tts" if name.startswith(fragments) or name in ("today", "yesterday") else "association"
        for name in prompts.CATALOGUE
    }
    mixed = prompt_voices.mixed_sentences(voices, "fr")
    assert set(mixed) == set(prompt_voices.joined_sentences("fr")) - {"date"}
    assert "message" in mixed["envelope"]["association"] and "number-1" in mixed["envelope"]["tts"]
    assert mixed["default greeting"] == {
        "association": ["greeting-default-intro", "greeting-default-leave"],
        "tts": [f"digit-{d}" for d in range(10)],
    }


def test_a_set_recorded_whole_sentence_by_sentence_mixes_nothing_and_missing_prompts_do_not_count() -> None:
    counts = prompt_voices.joined_sentences("en")["counts"]
    voices = {name: "tts" for name in prompts.CATALOGUE} | {name: "association" for name in counts}
    del voices["saved-messages"]  # not recorded nor rendered: the doctor's business, not a voice
    mixed = prompt_voices.mixed_sentences(voices, "en")
    assert "counts" not in mixed
    # Those that share the numbers with the counts mix; an English date (ordinals) does not.
    assert set(mixed) == {"envelope", "short envelope", "time", "failed logins", "PIN length"}


def test_the_beep_is_a_tone_not_a_voice() -> None:
    voices = {name: "tts" for name in prompts.CATALOGUE} | {"beep": "association"}
    assert prompt_voices.mixed_sentences(voices, "fr") == {}
