#!/usr/bin/env python3
"""Make the prompt audio from the catalogue in reconnect_pbx/prompts.py.

    .venv/bin/python sounds/render.py            # render what is missing or out of date
    .venv/bin/python sounds/render.py --force    # render every TTS prompt again
    .venv/bin/python sounds/render.py --check    # only say what is missing or out of date

Writes, for every catalogue prompt and language:

- ``sounds/<lang>/<name>.wav``: the shipped voice, 8 kHz mono 16-bit: every sentence and every
  fragment (digits, numbers, days, months, times) said by the same TTS voice (pico2wave), so that a
  sentence joined from fragments never changes voice; the beep is a tone. Cut and levelled by
  reconnect_pbx/prompt_audio.py, as the association's own recordings are (`prompts import`).
- ``sounds/short/<lang>/<name>.wav``: a 0.15 s tone, the fast set the end-to-end tests play.
- ``sounds/manifest.tsv``: name, lang, source, text of every shipped-voice file.

Idempotent: a file is made again only when it is missing, or its text or source changed in the
manifest (``--force`` renders them all again). See sounds/README.md.
"""

from __future__ import annotations

import argparse
import array
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

SOUNDS = Path(__file__).resolve().parent
sys.path.insert(0, str(SOUNDS.parent))

from reconnect_pbx.prompt_audio import decode, level, tone, trim, write_wav  # noqa: E402 - path set above
from reconnect_pbx.prompts import CATALOGUE, LANGUAGES  # noqa: E402

MANIFEST = SOUNDS / "manifest.tsv"
MANIFEST_HEADER = ("name", "lang", "source", "text")

TTS_VOICES = {"fr": "fr-FR", "en": "en-US"}
# pico's rate in percent: 70 gives about 130 words a minute (fr 130, en 127; 100 gave 179 and
# 174), the pace that suits people whose French is a second language (issue #18). The menus were
# shortened to hold it.
TTS_SPEED = 70
TTS_SOURCE = {lang: f"tts:pico2wave {voice} speed={TTS_SPEED}" for lang, voice in TTS_VOICES.items()}

# Prompts that are a tone, not words: the same in every language.
BEEP_HZ, BEEP_MS = 1000, 300
TONES = {"beep": (f"tone:{BEEP_HZ}Hz {BEEP_MS}ms", lambda: level(tone(BEEP_HZ, BEEP_MS, 8192)))}


def render_tts(text: str, language: str) -> array.array:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tts.wav"
        subprocess.run(
            ["pico2wave", "-l", TTS_VOICES[language], "-w", str(out),
             f"<speed level='{TTS_SPEED}'>{text}</speed>"],
            check=True, capture_output=True,
        )  # fmt: skip
        return level(trim(decode(out)))


def short_tone() -> array.array:
    """0.15 s of a quiet 440 Hz tone with soft edges: the short prompt set."""
    return tone(440, 150, 3277)


# --- Bookkeeping -------------------------------------------------------------------------------


def read_manifest() -> dict[tuple[str, str], tuple[str, str]]:
    rows: dict[tuple[str, str], tuple[str, str]] = {}
    if MANIFEST.exists():
        lines = MANIFEST.read_text(encoding="utf-8").splitlines()
        for line in lines[1:]:
            name, lang, source, text = line.split("\t")
            rows[(name, lang)] = (source, text)
    return rows


def write_manifest(rows: dict[tuple[str, str], tuple[str, str]]) -> None:
    lines = ["\t".join(MANIFEST_HEADER)]
    for (name, lang), (source, text) in sorted(rows.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append("\t".join((name, lang, source, text)))
    MANIFEST.write_text("\n".join(lines) + "\n", encoding="utf-8")


def planned_source(name: str, language: str) -> str:
    return TONES[name][0] if name in TONES else TTS_SOURCE[language]


def check_tools(need_tts: bool) -> None:
    problems = []
    if shutil.which("sox") is None:
        problems.append("sox is missing: apt-get install sox libsox-fmt-base")
    if need_tts and shutil.which("pico2wave") is None:
        problems.append("pico2wave is missing: see sounds/README.md (libttspico-utils, Debian non-free)")
    if problems:
        raise SystemExit("cannot render:\n  " + "\n  ".join(problems))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="render every prompt again")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is out of date")
    args = parser.parse_args(argv)

    manifest = read_manifest()
    todo: list[tuple[str, str, str]] = []
    rows: dict[tuple[str, str], tuple[str, str]] = {}
    for language in LANGUAGES:
        for name, prompt in CATALOGUE.items():
            text = prompt.text(language)
            source = planned_source(name, language)
            rows[(name, language)] = (source, text)
            made = (SOUNDS / language / f"{name}.wav").exists()
            if not made or manifest.get((name, language)) != (source, text) or args.force:
                todo.append((name, language, text))

    stale = [p for lang in LANGUAGES for base in (SOUNDS, SOUNDS / "short")
             for p in sorted((base / lang).glob("*.wav")) if p.stem not in CATALOGUE]  # fmt: skip
    missing_short = [(lang, name) for lang in LANGUAGES for name in CATALOGUE
                     if not (SOUNDS / "short" / lang / f"{name}.wav").exists()]  # fmt: skip
    if args.check:
        for name, language, _ in todo:
            print(f"out of date: {language}/{name}")
        for path in stale:
            print(f"not in the catalogue: {path.relative_to(SOUNDS)}")
        for language, name in missing_short:
            print(f"missing: short/{language}/{name}")
        return 1 if todo or stale or missing_short else 0

    check_tools(any(name not in TONES for name, *_ in todo))
    for count, (name, language, text) in enumerate(todo, 1):
        samples = TONES[name][1]() if name in TONES else render_tts(text, language)
        write_wav(SOUNDS / language / f"{name}.wav", samples)
        print(f"[{count}/{len(todo)}] {language}/{name}: {rows[(name, language)][0]}")
    short = short_tone()
    for language in LANGUAGES:
        for name in CATALOGUE:
            path = SOUNDS / "short" / language / f"{name}.wav"
            if not path.exists():
                write_wav(path, short)
    for path in stale:
        path.unlink()
        print(f"removed {path.relative_to(SOUNDS)} (not in the catalogue)")
    write_manifest(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
