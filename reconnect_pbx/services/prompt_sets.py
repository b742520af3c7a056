"""Prompt sets of the association's own voice, as PBXs' "system recordings".

A prompt set is a folder of Asterisk's sounds dir (``<sounds_dir>/<set>/<lang>/<name>.wav``,
played as ``sound:reconnect/<set>/<lang>/<name>`` when ``voicemail.prompt_set`` names it). ``std``
(the shipped TTS voice) and ``short`` (the tests' tones) are installed from the repository; any
other set is made here from recordings: ``import_recordings`` converts files of any format sox
reads (prompt_audio: 8 kHz mono 16-bit, silence trimmed, level-normalised, as the shipped voice)
and fills every prompt not recorded yet from ``std``, so that the set is always complete.
``sources.tsv`` in the set says, per prompt and language, who says it (the association or the
synthetic voice) and the catalogue text it was recorded for; ``status`` reads it.
"""

from __future__ import annotations

import array
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from reconnect_pbx import prompt_voices, prompts
from reconnect_pbx.prompt_audio import AudioError, prepare, write_wav
from reconnect_pbx.services.errors import InvalidInput, NotFound

SOURCES_FILE: Final = "sources.tsv"
SOURCES_HEADER: Final = ("name", "lang", "voice", "text")
ASSOCIATION: Final = "association"
SYNTHETIC: Final = "synthetic"
SHIPPED_SET: Final = prompts.DEFAULT_PROMPT_SET


@dataclass(frozen=True)
class Refusal:
    file: str
    reason: str


@dataclass
class ImportResult:
    set_name: str
    language: str
    folder: Path
    created: bool
    imported: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


@dataclass(frozen=True)
class LanguageStatus:
    language: str
    recorded: list[str]  # by the association, for the current catalogue text
    outdated: list[str]  # by the association, for a text the catalogue has changed since
    synthetic: list[str]
    missing: list[str]
    mixed: dict[str, dict[str, list[str]]]  # joined sentence → {voice: prompts} (prompt_voices)


def set_folder(sounds_dir: Path, set_name: str) -> Path:
    if not prompts.PROMPT_SET_NAME.fullmatch(set_name):
        raise InvalidInput(f"{set_name!r} is not a prompt set name: letters, digits, '-', '_' (e.g. association)")
    return sounds_dir / set_name


def import_recordings(sounds_dir: Path, set_name: str, language: str, source: Path) -> ImportResult:
    """Install the recordings of ``source`` (files named after catalogue prompts: ``goodbye.wav``,
    ``message-menu.flac``) as set ``set_name`` in ``language``.

    A file whose name is no prompt, given twice, or whose audio cannot be read is refused (one
    Refusal each) and nothing is written for it; the others are installed.
    """
    folder = own_set_folder(sounds_dir, set_name, language)
    if not source.is_dir():
        raise NotFound(f"{source} is not a folder")
    accepted: dict[str, array.array] = {}
    refused = []
    for path in sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")):
        name = path.name.split(".", 1)[0]
        if name not in prompts.CATALOGUE:
            refused.append(Refusal(path.name, f"no prompt named {name!r} in the catalogue"))
        elif name in accepted:
            refused.append(Refusal(path.name, f"a second recording of {name!r}"))
        else:
            try:
                accepted[name] = prepare(path)
            except AudioError as error:
                refused.append(Refusal(path.name, f"cannot read the audio: {error}"))
    created = not (folder / SOURCES_FILE).exists()
    if accepted:  # else no empty set is made
        _install(sounds_dir, folder, language, accepted)
    return ImportResult(set_name, language, folder, created and bool(accepted), sorted(accepted), refused)


def install_recording(sounds_dir: Path, set_name: str, language: str, name: str, path: Path) -> Path:
    """One recording (``prompts record``) as prompt ``name`` of set ``set_name``; its file."""
    folder = own_set_folder(sounds_dir, set_name, language)
    prompts.require(name)
    try:
        samples = prepare(path)
    except AudioError as error:
        raise InvalidInput(f"the recording of {name!r} is unusable: {error}") from None
    _install(sounds_dir, folder, language, {name: samples})
    return folder / language / f"{name}.wav"


def own_set_folder(sounds_dir: Path, set_name: str, language: str) -> Path:
    """The folder of a set the association may write (not std nor short)."""
    if set_name in prompts.PROMPT_SETS:
        raise InvalidInput(f"set {set_name!r} is installed from the repository; import into a set of your own (e.g. association)")
    if language not in prompts.LANGUAGES:
        raise InvalidInput(f"no prompts in language {language!r}; languages are {', '.join(prompts.LANGUAGES)}")
    return set_folder(sounds_dir, set_name)


def _install(sounds_dir: Path, folder: Path, language: str, recordings: dict[str, array.array]) -> None:
    rows = _fill_from_shipped(sounds_dir, folder)
    for name, samples in sorted(recordings.items()):
        write_wav(folder / language / f"{name}.wav", samples)
        rows[(name, language)] = (ASSOCIATION, prompts.text(name, language))
    _write_sources(folder, rows)


def status(sounds_dir: Path, set_name: str) -> list[LanguageStatus]:
    """Per language, who says each prompt of the set, and the joined sentences that mix voices."""
    folder = set_folder(sounds_dir, set_name)
    if not folder.is_dir():
        raise NotFound(f"no prompt set {set_name!r} in {sounds_dir}")
    rows = _read_sources(folder)
    result = []
    for language in prompts.LANGUAGES:
        recorded, outdated, synthetic, missing = [], [], [], []
        voices = {}
        for name in prompts.CATALOGUE:
            voice, text = rows.get((name, language), (SYNTHETIC, ""))
            if not (folder / language / f"{name}.wav").is_file():
                missing.append(name)
                continue
            voices[name] = voice
            if voice == SYNTHETIC:
                synthetic.append(name)
            elif text == prompts.text(name, language):
                recorded.append(name)
            else:
                outdated.append(name)
        mixed = prompt_voices.mixed_sentences(voices, language)
        result.append(LanguageStatus(language, recorded, outdated, synthetic, missing, mixed))
    return result


def _fill_from_shipped(sounds_dir: Path, folder: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """Every prompt the association has not recorded, copied from the shipped set (again: the
    shipped voice may have been re-rendered since); the rows of sources.tsv."""
    shipped = sounds_dir / SHIPPED_SET
    rows = _read_sources(folder) if (folder / SOURCES_FILE).exists() else {}
    lacking = [
        f"{language}/{name}"
        for language in prompts.LANGUAGES
        for name in prompts.CATALOGUE
        if not (shipped / language / f"{name}.wav").is_file()
    ]
    if lacking:
        raise NotFound(
            f"the shipped prompts are not all in {shipped} ({len(lacking)} missing, e.g. {lacking[0]}): install them first"
        )
    for language in prompts.LANGUAGES:
        (folder / language).mkdir(parents=True, exist_ok=True)
        for name in prompts.CATALOGUE:
            if rows.get((name, language), (SYNTHETIC,))[0] == SYNTHETIC:
                shutil.copyfile(shipped / language / f"{name}.wav", folder / language / f"{name}.wav")
                rows[(name, language)] = (SYNTHETIC, prompts.text(name, language))
    return rows


def _read_sources(folder: Path) -> dict[tuple[str, str], tuple[str, str]]:
    path = folder / SOURCES_FILE
    if not path.exists():
        return {}  # std, short: the synthetic voice throughout
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        name, language, voice, text = line.split("\t")
        rows[(name, language)] = (voice, text)
    return rows


def _write_sources(folder: Path, rows: dict[tuple[str, str], tuple[str, str]]) -> None:
    lines = ["\t".join(SOURCES_HEADER)]
    lines += ["\t".join((name, lang, voice, text)) for (name, lang), (voice, text) in sorted(rows.items())]
    tmp = folder / (SOURCES_FILE + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(folder / SOURCES_FILE)
