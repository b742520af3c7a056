"""Prompt audio: any file sox reads made into an 8 kHz mono 16-bit prompt, as Asterisk plays them.

Shared by ``sounds/render.py`` (the shipped TTS voice) and ``reconnect-pbx prompts import`` (the
association's own recordings), so that both voices are cut and levelled the same way: decoded to
8 kHz mono with low rumble filtered out, silence trimmed at both ends, then one gain for the whole
file (speech at SPEECH_LEVEL_DB RMS, peaks never above PEAK_CEILING_DB) and soft edges.
Needs the ``sox`` command.
"""

from __future__ import annotations

import array
import math
import subprocess
import sys
import wave
from collections.abc import Sequence
from pathlib import Path

RATE = 8000
FRAME = RATE // 100  # 10 ms
PEAK_CEILING_DB = -3.0  # as `sox norm -3`: no peak above -3 dBFS
SPEECH_LEVEL_DB = -18.0  # RMS of the spoken frames, so that every voice sounds as loud
SILENCE_BELOW_DB = 30.0  # frames this far under the loudest frame are silence...
ABOVE_NOISE_DB = 15.0  # ...and so are frames less than this above the background noise
MIN_SOUND_MS = 60  # a shorter sound at either end of the speech...
MAX_PAUSE_MS = 150  # ...and further than this from it is a click, not speech
EDGE_MS = 30  # recordings often click in their first and last few milliseconds
LEAD_MS, TAIL_MS, FADE_MS = 30, 60, 5
HIGHPASS_HZ = 80  # under the voice: rumble, hum, handling noise


class AudioError(Exception):
    """A file that sox cannot read, or that holds no sound."""


def decode(path: Path, highpass_hz: int = HIGHPASS_HZ) -> array.array:
    """Any file sox reads, as 8 kHz mono 16-bit samples, low rumble filtered out."""
    try:
        raw = subprocess.run(
            ["sox", "-D", str(path), "-t", "raw", "-r", str(RATE), "-c", "1", "-e", "signed", "-b", "16",
             "-", "highpass", str(highpass_hz), "highpass", str(highpass_hz)],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
    except subprocess.CalledProcessError as error:
        reason = error.stderr.decode(errors="replace").strip().splitlines()
        last = reason[-1].removeprefix("sox FAIL formats: ").replace(str(path), path.name) if reason else "sox failed"
        raise AudioError(last) from None
    samples = array.array("h")
    samples.frombytes(raw[: len(raw) // 2 * 2])
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
    ``below_top_db``. A short sound alone at either end, far from the rest, is a click or a
    breath, not speech; a short one close to the rest stays (the release of a final "t").
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


def prepare(path: Path) -> array.array:
    """A recording as a prompt: decoded, silence trimmed, levelled. AudioError when it holds no sound."""
    samples = level(trim(decode(path)))
    if not any(samples):
        raise AudioError("no sound in it")
    return samples


def tone(hz: int, ms: int, amplitude: int) -> array.array:
    """A sine tone with 10 ms soft edges: the beep, and each prompt of the short set."""
    n, ramp = RATE * ms // 1000, RATE // 100
    return array.array(
        "h",
        (round(amplitude * math.sin(2 * math.pi * hz * i / RATE) * min(1.0, (i + 1) / ramp, (n - i) / ramp))
         for i in range(n)),
    )  # fmt: skip


def write_wav(path: Path, samples: array.array) -> None:
    """8 kHz mono 16-bit WAV, written aside then renamed: Asterisk never plays half a file."""
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
