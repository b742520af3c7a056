"""Which prompts are joined into one sentence at run time, and whether a prompt set would say such a
sentence in two voices ("Message" in one voice, "un" in another, "reçu" in the first again).

A sentence with a value is played as a list of files: the envelopes, the message counts, dates,
times, numbers, the default greeting around the digits of a number. ``joined_sentences`` gives, for
each, every prompt it can take, computed from the builders of prompts.py over all their values,
plus the lists the call flows put together themselves (FLOW_SENTENCES). Each sentence has a
prompt it always says ("reçu", "vous avez"...), so it can be said in two voices exactly when the
prompts it can take are of more than one voice: ``mixed_sentences`` checks that, for the shipped
set (tests/unit/test_prompt_voices.py, from sounds/manifest.tsv) and for the association's own
sets (`reconnect-pbx prompts status`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cache
from typing import Final

from reconnect_pbx import prompts

# Not a voice: the same tone whoever speaks around it.
TONES: Final = frozenset({"beep"})

_SET = "voices"  # any set name: only the prompt names are kept
_NOW = dt.datetime(2024, 12, 31, 12, 0)  # a leap year before it: every day of the month and week
_CALLER = "+33" + "123456789"  # with the leading 0: every digit

# Sentences the call flows join themselves, beside those built in prompts.py; "{number}" is any
# number-N, "{digits}" any digit-N, "{count}" number-N then the noun's singular or plural.
FLOW_SENTENCES: Final[Mapping[str, tuple[str, ...]]] = {
    # flows/access.py counts_media: "vous avez 3 nouveaux messages et 2 messages archivés"
    "counts": ("you-have", "{count:new-message:new-messages}", "and", "{count:saved-message:saved-messages}"),
    # flows/access.py say_failures: "... le nombre d'essais ... est de (plus de) 12. Si ce n'était pas vous..."
    "failed logins": ("failed-logins-since", "more-than", "{number}", "failed-logins-advice"),
    # flows/access.py weak_pin_prompts: "votre code secret doit comporter 6 chiffres"
    "PIN length": ("pin-weak-length", "pin-must-have", "{number}", "pin-digits"),
    # flows/deposit.py _greeting_media: "vous êtes sur la messagerie vocale de 0 6 12 ... laissez un message"
    "default greeting": ("greeting-default-intro", "{digits}", "greeting-default-leave"),
}


def _names(uris: list[str]) -> set[str]:
    return {uri.rsplit("/", 1)[1] for uri in uris}


def _flow_sentence(parts: tuple[str, ...], language: str) -> frozenset[str]:
    names: set[str] = set()
    for part in parts:
        if part == "{number}":
            names |= {f"number-{n}" for n in range(prompts.MAX_NUMBER + 1)}
        elif part == "{digits}":
            names |= {f"digit-{d}" for d in range(10)}
        elif part.startswith("{count:"):
            singular, plural = part[len("{count:") : -1].split(":")
            for n in range(prompts.MAX_NUMBER + 1):
                names |= _names(prompts.count_media(n, singular, plural, language, _SET))
        else:
            names.add(prompts.require(part))
    return frozenset(names)


@cache
def joined_sentences(language: str) -> Mapping[str, frozenset[str]]:
    """Every sentence said from several prompts in ``language``: what it says → every prompt it can take."""
    days = [_NOW.date() - dt.timedelta(days=age) for age in range(366)]
    moments = [dt.datetime.combine(day, dt.time(9, 30)) for day in days]
    moments += [dt.datetime(2024, 3, 5, hour, minute) for hour in range(24) for minute in range(60)]

    def envelope(builder, **values) -> set[str]:  # noqa: ANN001 - one of the two envelope builders
        return _names(builder(language=language, prompt_set=_SET, now=_NOW, **values))

    full: set[str] = set()
    short: set[str] = set()
    for caller in (_CALLER, None):
        for moment in moments:
            full |= envelope(prompts.envelope_media, index=1, received_at=moment, caller=caller)
            short |= envelope(prompts.short_envelope_media, received_at=moment, caller=caller)
    for index in range(1, prompts.MAX_NUMBER + 1):
        full |= envelope(prompts.envelope_media, index=index, received_at=_NOW, caller=None)
    sentences = {
        "envelope": frozenset(full),
        "short envelope": frozenset(short),
        "date": frozenset(n for day in days for n in _names(prompts.date_media(day, language, _SET))),
        "time": frozenset(
            n for h in range(24) for m in range(60) for n in _names(prompts.time_media(h, m, language, _SET))
        ),
    }
    sentences |= {label: _flow_sentence(parts, language) for label, parts in FLOW_SENTENCES.items()}
    return sentences


def mixed_sentences(voices: Mapping[str, str], language: str) -> dict[str, dict[str, list[str]]]:
    """The joined sentences of ``language`` that would be said in more than one voice.

    ``voices``: prompt name → its voice in the set (a prompt without a file is left out; tones do
    not count). Answers what each such sentence says → {voice: the prompts of that voice}.
    """
    mixed = {}
    for label, names in joined_sentences(language).items():
        by_voice: dict[str, list[str]] = {}
        for name in sorted(names - TONES):
            if name in voices:
                by_voice.setdefault(voices[name], []).append(name)
        if len(by_voice) > 1:
            mixed[label] = by_voice
    return mixed
