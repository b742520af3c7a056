#!/usr/bin/env python3
"""Make the prompt audio from the catalogue in reconnect_pbx/prompts.py.

    .venv/bin/python sounds/render.py            # render what is missing or out of date
    .venv/bin/python sounds/render.py --force    # render every TTS prompt again
    .venv/bin/python sounds/render.py --check    # only say what is missing or out of date

Writes, for every catalogue prompt and language:

- ``sounds/<lang>/<name>.wav``: the real voice, 8 kHz mono 16-bit. A human recording from Asterisk's
  prompt packages where one says exactly the catalogue text (HUMAN_SOURCES below, pieces joined
  when it takes several), otherwise the TTS voice (pico2wave). Silence trimmed at both ends, level
  set so that human and TTS prompts sound equally loud (peaks never above -3 dBFS).
- ``sounds/short/<lang>/<name>.wav``: a 0.15 s tone, the fast set the end-to-end tests play.
- ``sounds/manifest.tsv``: name, lang, source, text of every real-voice file.

Idempotent: a file is made again only when it is missing, or its text or source changed in the
manifest (``--force`` renders the TTS ones again anyway). Human recordings need their packages
only when one of them must be made again; see sounds/README.md for the packages and options.
"""

from __future__ import annotations

import argparse
import array
import math
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SOUNDS = Path(__file__).resolve().parent
sys.path.insert(0, str(SOUNDS.parent))

from reconnect_pbx.prompts import (  # noqa: E402 - the repository root is put on the path above
    CATALOGUE,
    FEMININE_NUMBERS,
    LANGUAGES,
    MAX_NUMBER,
)

RATE = 8000
MANIFEST = SOUNDS / "manifest.tsv"
MANIFEST_HEADER = ("name", "lang", "source", "text")

# Human voices: (label written in the manifest, default folder, file extensions tried in order).
ALLISON = "asterisk-core-sounds-en-wav"  # Allison Smith, US English, CC BY-SA 3.0 (Digium)
ARMELLE = "asterisk-prompt-fr-armelle"  # Armelle Desjardins, French (France), BSD-2-Clause
DEFAULT_DIRS = {
    ALLISON: Path("/usr/share/asterisk/sounds/en_US_f_Allison"),
    ARMELLE: Path("/usr/share/asterisk/sounds/fr"),
}
EXTENSIONS = (".wav", ".gsm")

TTS_VOICES = {"fr": "fr-FR", "en": "en-US"}
# pico's rate in percent: 70 gives about 130 words a minute (fr 130, en 127; 100 gave 179 and
# 174), the pace that suits people whose French is a second language (issue #18). The menus were
# shortened to hold it.
TTS_SPEED = 70
TTS_SOURCE = {lang: f"tts:pico2wave {voice} speed={TTS_SPEED}" for lang, voice in TTS_VOICES.items()}

_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")  # day-0 = Sunday
_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip


@dataclass(frozen=True)
class Human:
    """A prompt made of one or more recordings of one voice, said one after the other."""

    voice: str
    pieces: tuple[str, ...]
    gap_ms: int = 120  # between the pieces of a phrase; numbers ("vingt" "deux") are joined closer

    @property
    def source(self) -> str:
        return f"{self.voice}:{'+'.join(self.pieces)}"


def _numbers(voice: str, et: str | None) -> dict[str, Human]:
    """number-N from the digits/ recordings: whole tens and 0-20 exist, the rest is joined.

    ``et`` is the recording of "et" for French 21, 31, ... (vingt et un); None for English."""
    direct = set(range(21)) | set(range(20, 100, 10))
    result = {}
    for n in range(MAX_NUMBER + 1):
        if n in direct:
            pieces = [f"digits/{n}"]
        elif et is None:
            pieces = [f"digits/{n - n % 10}", f"digits/{n % 10}"]
        elif n < 70:
            tail = [et, "digits/1"] if n % 10 == 1 else [f"digits/{n % 10}"]
            pieces = [f"digits/{n - n % 10}", *tail]
        elif n < 80:  # soixante-douze = soixante + douze; soixante et onze
            pieces = ["digits/60", *([et] if n == 71 else []), f"digits/{n - 60}"]
        else:  # quatre-vingt-deux, quatre-vingt-douze
            pieces = ["digits/80", f"digits/{n - 80}"]
        result[f"number-{n}"] = Human(voice, tuple(pieces), gap_ms=0)
    return result


def _calendar(voice: str) -> dict[str, Human]:
    result = {f"digit-{d}": Human(voice, (f"digits/{d}",)) for d in range(10)}
    result |= {f"day-{day}": Human(voice, (f"digits/day-{i}",)) for i, day in enumerate(_WEEKDAYS)}
    result |= {f"month-{month}": Human(voice, (f"digits/mon-{i}",)) for i, month in enumerate(_MONTHS)}
    result["today"] = Human(voice, ("digits/today",))
    result["yesterday"] = Human(voice, ("digits/yesterday",))
    return result


def _english_ordinals() -> dict[str, Human]:
    result = {}
    for n in range(1, 32):
        if n <= 20 or n % 10 == 0:
            pieces: tuple[str, ...] = (f"digits/h-{n}",)
        else:
            pieces = (f"digits/{n - n % 10}", f"digits/h-{n % 10}")
        result[f"ordinal-{n}"] = Human(ALLISON, pieces, gap_ms=0)
    return result


def _allison(*pieces: str) -> Human:
    return Human(ALLISON, pieces)


# Where a human recording says exactly the catalogue text. The English texts of these prompts are
# the words of the recordings (core-sounds-en.txt); the French ones are Armelle's digits, days and
# months, whose names say what they are. Everything else is TTS.
HUMAN_SOURCES: dict[str, dict[str, Human]] = {
    "en": {
        **_calendar(ALLISON),
        **_numbers(ALLISON, et=None),
        **{f"number-{n}-f": Human(ALLISON, (f"digits/{n - n % 10}", f"digits/{n % 10}") if n > 20
                                  else (f"digits/{n}",), gap_ms=0) for n in FEMININE_NUMBERS},
        **_english_ordinals(),
        "not-in-service": _allison("ss-noservice"),
        "beep": _allison("beep"),
        "goodbye": _allison("goodbye"),
        "message-saved": _allison("vm-msgsaved", "vm-goodbye"),
        "mailbox-full": _allison("vm-mailboxfull", "please-try-call-later"),
        "please-try-again": _allison("please-try-again"),
        "you-have": _allison("vm-youhave"),
        "new-message": _allison("vm-INBOX", "vm-message"),
        "new-messages": _allison("vm-INBOX", "vm-messages"),
        "saved-message": _allison("vm-saved", "vm-message"),
        "saved-messages": _allison("vm-saved", "vm-messages"),
        "and": _allison("vm-and"),
        "no-messages": _allison("vm-youhave", "vm-no", "vm-messages"),
        "invalid-key": _allison("pm-invalid-option"),
        "message": _allison("vm-message"),
        "first-message": _allison("vm-first", "vm-message"),
        "received": _allison("vm-received"),
        "at": _allison("digits/at"),
        "from": _allison("vm-from"),
        "unknown-caller": _allison("vm-unknown-caller"),
        "message-deleted": _allison("vm-deleted"),
        "message-restored": _allison("vm-undeleted"),
        "message-saved-folder": _allison("vm-message", "vm-saved"),
        "no-more-messages": _allison("vm-nomore"),
        "enter-number-to-call": _allison("vm-enter-num-to-call"),
        "calling": _allison("vm-dialout"),
        "call-no-answer": _allison("number-not-answering"),
        "hours": _allison("hours"),
        "minute": _allison("minute"),
        "minutes": _allison("minutes"),
        "time-oh": _allison("digits/oh"),
        "time-oclock": _allison("digits/oclock"),
        "time-am": _allison("digits/a-m"),
        "time-pm": _allison("digits/p-m"),
    },
    "fr": {
        **_calendar(ARMELLE),
        **_numbers(ARMELLE, et="vm-and"),
        **{f"ordinal-{n}": Human(ARMELLE, (f"digits/h-{n}",)) for n in (*range(1, 21), 30)},
        "beep": _allison("beep"),  # a tone: the same in every language
    },
}


# --- Audio -------------------------------------------------------------------------------------

FRAME = RATE // 100  # 10 ms
PEAK_CEILING_DB = -3.0  # as `sox norm -3`: no peak above -3 dBFS
SPEECH_LEVEL_DB = -18.0  # RMS of the spoken frames, so that every voice sounds as loud
SILENCE_BELOW_DB = 30.0  # frames this far under the loudest frame are silence...
JOINED_BELOW_TOP_DB = 20.0  # the same for the words of a joined number ("twenty" "one")
ABOVE_NOISE_DB = 15.0  # ...and so are frames less than this above the background noise
MIN_SOUND_MS = 60  # a shorter sound at either end of the speech...
MAX_PAUSE_MS = 150  # ...and further than this from it is a click, not speech
EDGE_MS = 30  # Armelle's files click in their first and last few milliseconds
LEAD_MS, TAIL_MS, FADE_MS = 30, 60, 5


def decode(path: Path, highpass_hz: int) -> array.array:
    """Any file sox reads, as 8 kHz mono 16-bit samples, low rumble filtered out."""
    raw = subprocess.run(
        ["sox", "-D", str(path), "-t", "raw", "-r", str(RATE), "-c", "1", "-e", "signed", "-b", "16",
         "-", "highpass", str(highpass_hz), "highpass", str(highpass_hz)],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    samples = array.array("h")
    samples.frombytes(raw)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _frame_db(samples: Sequence[int]) -> list[float]:
    levels = []
    for start in range(0, len(samples) - FRAME + 1, FRAME):
        chunk = samples[start : start + FRAME]
        rms = math.sqrt(sum(s * s for s in chunk) / FRAME) / 32768
        levels.append(20 * math.log10(max(rms, 1e-7)))
    return levels


def trim(samples: array.array, below_top_db: float = SILENCE_BELOW_DB) -> array.array:
    """Cut the silence before and after the speech, keeping a short margin.

    Speech is the frames well above both the background noise and the loudest frame's level less
    SILENCE_BELOW_DB. A short sound alone at either end, far from the rest, is a click or a breath,
    not speech; a short one close to the rest stays (the release of a final "t").
    ``below_top_db`` is smaller for the words of a number, whose fading ends would slow it down.
    """
    edge = EDGE_MS * RATE // 1000
    samples = samples[edge : len(samples) - edge]
    levels = _frame_db(samples)
    if not levels:
        return samples
    floor = sorted(levels)[len(levels) // 10]
    threshold = max(max(levels) - below_top_db, floor + ABOVE_NOISE_DB)
    blocks: list[list[int]] = []  # [first frame, last frame] of each run of loud frames
    for i, db in enumerate(levels):
        if db > threshold:
            if blocks and i - blocks[-1][1] <= 3:
                blocks[-1][1] = i
            else:
                blocks.append([i, i])

    def stray(block: list[int], neighbour: list[int]) -> bool:
        short = (block[1] - block[0] + 1) * 10 < MIN_SOUND_MS
        return short and (max(neighbour[0] - block[1], block[0] - neighbour[1]) * 10 > MAX_PAUSE_MS)

    while len(blocks) > 1 and stray(blocks[0], blocks[1]):
        blocks.pop(0)
    while len(blocks) > 1 and stray(blocks[-1], blocks[-2]):
        blocks.pop()
    if not blocks:
        return samples
    start = max(0, blocks[0][0] * FRAME - LEAD_MS * RATE // 1000)
    end = min(len(samples), (blocks[-1][1] + 1) * FRAME + TAIL_MS * RATE // 1000)
    return samples[start:end]


def fade(samples: array.array) -> array.array:
    """Soft edges (FADE_MS), so that cut or joined pieces do not click."""
    n, ramp = len(samples), FADE_MS * RATE // 1000
    return array.array("h", (round(s * min(1.0, (i + 1) / ramp, (n - i) / ramp)) for i, s in enumerate(samples)))


def level(samples: array.array) -> array.array:
    """Speech at SPEECH_LEVEL_DB RMS, unless that would put a peak above PEAK_CEILING_DB."""
    levels = _frame_db(samples)
    peak = max((abs(s) for s in samples), default=0)
    if not levels or peak == 0:
        return samples
    top = max(levels)
    spoken = [10 ** (db / 10) for db in levels if db > top - SILENCE_BELOW_DB]
    speech_db = 10 * math.log10(sum(spoken) / len(spoken))
    gain_db = min(SPEECH_LEVEL_DB - speech_db, PEAK_CEILING_DB - 20 * math.log10(peak / 32768))
    gain = 10 ** (gain_db / 20)
    return fade(array.array("h", (max(-32768, min(32767, round(s * gain))) for s in samples)))


def write_wav(path: Path, samples: array.array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    tmp = path.with_suffix(".wav.tmp")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(data.tobytes())
    tmp.replace(path)


def render_human(spec: Human, dirs: dict[str, Path]) -> array.array:
    folder = dirs[spec.voice]
    # Armelle's recordings carry a low rumble (mostly under 100 Hz) that hides where speech starts.
    highpass = 150 if spec.voice == ARMELLE else 80
    joined = array.array("h")
    gap = array.array("h", bytes(2 * (spec.gap_ms * RATE // 1000)))
    for index, piece in enumerate(spec.pieces):
        path = next((folder / f"{piece}{ext}" for ext in EXTENSIONS if (folder / f"{piece}{ext}").exists()), None)
        if path is None:
            raise SystemExit(f"{spec.voice}: no recording {piece} in {folder}")
        if index:
            joined.extend(gap)
        tight = spec.gap_ms == 0 and len(spec.pieces) > 1
        joined.extend(fade(trim(decode(path, highpass), JOINED_BELOW_TOP_DB if tight else SILENCE_BELOW_DB)))
    return level(joined)


def render_tts(text: str, language: str) -> array.array:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tts.wav"
        subprocess.run(
            ["pico2wave", "-l", TTS_VOICES[language], "-w", str(out),
             f"<speed level='{TTS_SPEED}'>{text}</speed>"],
            check=True, capture_output=True,
        )  # fmt: skip
        return level(trim(decode(out, 80)))


def short_tone() -> array.array:
    """0.15 s of a quiet 440 Hz tone with soft edges: the short prompt set."""
    n = RATE * 15 // 100
    fade = RATE // 100
    return array.array(
        "h",
        (round(3277 * math.sin(2 * math.pi * 440 * i / RATE) * min(1.0, (i + 1) / fade, (n - i) / fade))
         for i in range(n)),
    )  # fmt: skip


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


def planned_source(name: str, language: str) -> tuple[str, Human | None]:
    human = HUMAN_SOURCES[language].get(name)
    return (human.source, human) if human else (TTS_SOURCE[language], None)


def check_tools(need_tts: bool, voices: set[str], dirs: dict[str, Path]) -> None:
    problems = []
    if shutil.which("sox") is None:
        problems.append("sox is missing: apt-get install sox libsox-fmt-base")
    if need_tts and shutil.which("pico2wave") is None:
        problems.append("pico2wave is missing: see sounds/README.md (libttspico-utils, Debian non-free)")
    for voice in sorted(voices):
        folder = dirs[voice]
        if not (folder / "digits").is_dir():
            problems.append(f"{voice}: no recordings in {folder} (see sounds/README.md)")
        elif voice == ARMELLE and any((folder / f"activated{ext}").exists() for ext in EXTENSIONS):
            # asterisk-core-sounds-fr (June, Canadian French) can also live in sounds/fr.
            problems.append(f"{folder} holds asterisk-core-sounds-fr (fr-CA), not Armelle's prompts")
    if problems:
        raise SystemExit("cannot render:\n  " + "\n  ".join(problems))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="render every TTS prompt again")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is out of date")
    parser.add_argument("--allison", type=Path, default=DEFAULT_DIRS[ALLISON], help="English recordings")
    parser.add_argument("--armelle", type=Path, default=DEFAULT_DIRS[ARMELLE], help="French recordings")
    args = parser.parse_args(argv)
    dirs = {ALLISON: args.allison, ARMELLE: args.armelle}

    manifest = read_manifest()
    todo: list[tuple[str, str, str, Human | None]] = []
    rows: dict[tuple[str, str], tuple[str, str]] = {}
    for language in LANGUAGES:
        for name, prompt in CATALOGUE.items():
            text = prompt.text(language)
            source, human = planned_source(name, language)
            rows[(name, language)] = (source, text)
            made = (SOUNDS / language / f"{name}.wav").exists()
            if not made or manifest.get((name, language)) != (source, text) or (args.force and human is None):
                todo.append((name, language, text, human))

    stale = [p for lang in LANGUAGES for base in (SOUNDS, SOUNDS / "short")
             for p in sorted((base / lang).glob("*.wav")) if p.stem not in CATALOGUE]  # fmt: skip
    missing_short = [(lang, name) for lang in LANGUAGES for name in CATALOGUE
                     if not (SOUNDS / "short" / lang / f"{name}.wav").exists()]  # fmt: skip
    if args.check:
        for name, language, _, _ in todo:
            print(f"out of date: {language}/{name}")
        for path in stale:
            print(f"not in the catalogue: {path.relative_to(SOUNDS)}")
        for language, name in missing_short:
            print(f"missing: short/{language}/{name}")
        return 1 if todo or stale or missing_short else 0

    check_tools(any(h is None for *_, h in todo), {h.voice for *_, h in todo if h}, dirs)
    for count, (name, language, text, human) in enumerate(todo, 1):
        samples = render_human(human, dirs) if human else render_tts(text, language)
        write_wav(SOUNDS / language / f"{name}.wav", samples)
        print(f"[{count}/{len(todo)}] {language}/{name}: {rows[(name, language)][0]}")
    tone = short_tone()
    for language in LANGUAGES:
        for name in CATALOGUE:
            path = SOUNDS / "short" / language / f"{name}.wav"
            if not path.exists():
                write_wav(path, tone)
    for path in stale:
        path.unlink()
        print(f"removed {path.relative_to(SOUNDS)} (not in the catalogue)")
    write_manifest(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
