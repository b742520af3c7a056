"""``reconnect-pbx prompts import`` and ``prompts status`` on real audio files (made with espeak-ng
and sox), into a sounds dir of the test's own holding a copy of the shipped set."""

from __future__ import annotations

import array
import math
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from reconnect_pbx import prompts
from reconnect_pbx.prompt_audio import PEAK_CEILING_DB, SPEECH_LEVEL_DB

SHIPPED = Path(__file__).resolve().parents[2] / "sounds"


@pytest.fixture
def sounds_dir(tmp_path: Path) -> Path:
    """Asterisk's sounds/reconnect as `install-asterisk-config.sh --sounds` leaves it: the std set."""
    target = tmp_path / "sounds-reconnect"
    for language in prompts.LANGUAGES:
        shutil.copytree(SHIPPED / language, target / "std" / language)
    return target


@pytest.fixture
def prompts_cli(cli_process, sounds_dir: Path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli_process("prompts", *args, env={"RECONNECT_ASTERISK_SOUNDS_DIR": str(sounds_dir)})

    return run


def say(path: Path, text: str, *effects: str, voice: str = "fr") -> Path:
    """``text`` spoken by espeak-ng, then through sox (format from the file name, ``effects``)."""
    spoken = path.with_name(path.name + ".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(spoken), text], check=True)
    subprocess.run(["sox", str(spoken), str(path), *effects], check=True)
    spoken.unlink()
    return path


def read(path: Path) -> tuple[tuple[int, int, int], array.array]:
    with wave.open(str(path), "rb") as audio:
        shape = (audio.getframerate(), audio.getnchannels(), audio.getsampwidth())
        samples = array.array("h", audio.readframes(audio.getnframes()))
    return shape, samples


def loudest_10ms_db(samples: array.array) -> float:
    frames = [samples[i : i + 80] for i in range(0, len(samples) - 79, 80)]
    return max(20 * math.log10(max(math.sqrt(sum(s * s for s in f) / 80), 1) / 32768) for f in frames)


def test_import_converts_trims_and_levels_any_format_and_refuses_bad_files_one_line_each(
    tmp_path: Path, sounds_dir: Path, prompts_cli
) -> None:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    # Quiet, 44.1 kHz stereo FLAC, with a second of silence before and after the words.
    say(recordings / "goodbye.flac", "Au revoir.", "rate", "44100", "channels", "2", "vol", "0.05", "pad", "1", "1")
    say(recordings / "received.wav", "reçu", "rate", "16000")
    (recordings / "message.wav").write_text("not audio")
    say(recordings / "not-a-prompt.wav", "bonjour")

    result = prompts_cli("import", str(recordings), "--set", "asso")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "refused message.wav: cannot read the audio: can't open input file `message.wav': WAVE: RIFF header not found",
        "refused not-a-prompt.wav: no prompt named 'not-a-prompt' in the catalogue",
        "Error: 2 file(s) refused, 2 imported",
    ]
    assert result.stdout == f"set asso made in {sounds_dir / 'asso'}: 2 fr prompt(s) imported\n"
    shape, goodbye = read(sounds_dir / "asso" / "fr" / "goodbye.wav")
    assert shape == (8000, 1, 2)
    assert len(goodbye) / 8000 < 1.5  # the two seconds of silence are gone, the words stay
    assert len(goodbye) / 8000 > 0.4
    peak_db = 20 * math.log10(max(abs(s) for s in goodbye) / 32768)
    assert peak_db <= PEAK_CEILING_DB + 0.1
    assert loudest_10ms_db(goodbye) > SPEECH_LEVEL_DB - 6  # was 26 dB quieter before (vol 0.05)
    # Refused names and prompts not recorded yet keep the shipped voice; nothing of "not-a-prompt".
    for language in prompts.LANGUAGES:
        assert sorted(p.stem for p in (sounds_dir / "asso" / language).glob("*.wav")) == sorted(prompts.CATALOGUE)
    assert (sounds_dir / "asso" / "fr" / "message.wav").read_bytes() == (SHIPPED / "fr" / "message.wav").read_bytes()
    assert (sounds_dir / "asso" / "en" / "goodbye.wav").read_bytes() == (SHIPPED / "en" / "goodbye.wav").read_bytes()


def test_status_says_what_the_association_recorded_and_which_sentences_mix_voices(
    tmp_path: Path, sounds_dir: Path, prompts_cli
) -> None:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    say(recordings / "goodbye.wav", "Goodbye!", voice="en")
    say(recordings / "received.ogg", "received", voice="en")
    assert prompts_cli("import", str(recordings), "--language", "en", "--set", "asso").returncode == 0

    result = prompts_cli("status", "--set", "asso")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    total = len(prompts.CATALOGUE)
    assert lines[0] == f"fr: 0 of {total} prompts recorded by the association, 0 recorded for an older text, {total} synthetic, 0 missing"
    assert lines[2] == "  one voice in every sentence"
    english = lines[3:]
    assert english[0] == f"en: 2 of {total} prompts recorded by the association, 0 recorded for an older text, {total - 2} synthetic, 0 missing"
    assert english[1] == "  recorded: goodbye, received"
    synthetic = english[2].removeprefix("  synthetic: ").split(", ")
    assert len(synthetic) == total - 2 and "goodbye" not in synthetic and "not-in-service" in synthetic
    assert english[3].startswith("  mixes voices in the envelope: association: received; synthetic: at, ")
    assert english[4].startswith("  mixes voices in the short envelope: association: received; synthetic: ")
    assert len(english) == 5


def test_status_of_the_shipped_set_is_all_synthetic_in_one_voice(prompts_cli) -> None:
    result = prompts_cli("status", "--set", "std")
    assert result.returncode == 0, result.stderr
    summaries = [line for line in result.stdout.splitlines() if not line.startswith("  ")]
    total = len(prompts.CATALOGUE)
    assert summaries == [
        f"{language}: 0 of {total} prompts recorded by the association, 0 recorded for an older text, {total} synthetic, 0 missing"
        for language in prompts.LANGUAGES
    ]
    assert result.stdout.count("  one voice in every sentence\n") == 2


def test_import_refuses_the_shipped_sets_and_a_folder_that_is_not_there(tmp_path: Path, prompts_cli) -> None:
    result = prompts_cli("import", str(tmp_path), "--set", "std")
    assert (result.returncode, result.stderr) == (
        2, "Error: set 'std' is installed from the repository; import into a set of your own (e.g. association)\n",
    )  # fmt: skip
    result = prompts_cli("import", str(tmp_path / "nowhere"))
    assert (result.returncode, result.stderr) == (2, f"Error: {tmp_path / 'nowhere'} is not a folder\n")
    result = prompts_cli("status", "--set", "../etc")
    assert result.returncode == 2
    assert result.stderr == "Error: '../etc' is not a prompt set name: letters, digits, '-', '_' (e.g. association)\n"
