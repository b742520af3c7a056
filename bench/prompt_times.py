"""How long the person spends listening, from the rendered prompts (sounds/<lang>/*.wav): every
menu (its choices and seconds), the access number to the first new message (keys at 0.5 s each),
and how many times the voice changes in a session with three new messages (sounds/manifest.tsv).

    .venv/bin/python bench/prompt_times.py

The limits (4 choices, 11 s a menu, 20 s to the first message) are asserted by
tests/unit/test_menus.py, whose helpers this script uses; this prints the figures.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "unit"))

import test_menus as measured  # noqa: E402

from reconnect_pbx import prompts  # noqa: E402
from reconnect_pbx.flows.access import counts_media, main_menu_prompts  # noqa: E402
from reconnect_pbx.services.access import MessageCounts  # noqa: E402


def voice(source: str, language: str) -> str:
    """The voice of a manifest source: the TTS of a language, or a human recording set."""
    return f"tts {language}" if source.startswith("tts") else source.split(":")[0]


def three_message_session() -> list[tuple[str, str]]:
    """The access number, three new messages played straight (one withheld caller), then the menu."""
    now = measured.NOW
    messages = [
        (now.replace(hour=9, minute=12) - dt.timedelta(days=2), "+33612345678"),
        (now.replace(hour=11, minute=41) - dt.timedelta(days=1), None),
        (now.replace(hour=14, minute=30), "+33142685300"),
    ]
    played = [("enter-personal-number", "fr"), ("enter-pin", "fr")]
    played += measured.said(counts_media(MessageCounts(new=3, saved=0), "fr", "std", new_only=True))
    for received_at, caller in messages:
        played += measured.said(prompts.short_envelope_media(received_at, caller, "fr", now=now))
    played += measured.said(counts_media(MessageCounts(new=0, saved=3), "fr", "std"))
    return played + main_menu_prompts("fr")


def main() -> int:
    for language in prompts.LANGUAGES:
        for menu, items in measured.menus(language).items():
            choices = sum(
                len(measured.CHOICE[lang].findall(prompts.text(name, lang).lower())) for name, lang in items
            )
            seconds = sum(measured.seconds(name, lang) for name, lang in items)
            print(f"menu {language} {menu:<32} {choices} choices {seconds:5.1f} s")
    for received, at in measured.RECEIVED.items():
        played, _ = measured.path_to_the_first_message(at)
        recorded = measured.recorded_fragments(played)
        note = f" (recorded fragments: {len(recorded)})" if recorded else ""
        print(f"access number -> first new message ({received}): {measured.path_seconds(at):.1f} s{note}")
    manifest = measured.manifest_sources()
    voices = [voice(manifest[name, lang], lang) for name, lang in three_message_session()]
    changes = sum(1 for before, after in zip(voices, voices[1:]) if before != after)
    print(f"three-message session: {len(voices)} prompt files, {changes} voice changes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
