"""Stored audio reaches Asterisk as a file that exists only while it plays (reconnect_pbx/media.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.media import PlaybackFiles
from reconnect_pbx.storage import PostgresAudioStore

AUDIO = b"RIFF-not-really-a-wav-but-bytes-to-find"


@pytest.fixture
def audio_id(session_factory: sessionmaker[Session]):
    store = PostgresAudioStore()
    with session_factory() as session, session.begin():
        audio_id = store.put(session, AUDIO)
    yield audio_id
    with session_factory() as session, session.begin():
        store.delete(session, audio_id)


@pytest.fixture
def files(session_factory: sessionmaker[Session], tmp_path: Path) -> PlaybackFiles:
    return PlaybackFiles(
        session_factory, PostgresAudioStore(), directory=str(tmp_path / "play"), asterisk_directory="/run/play"
    )


async def test_the_audio_is_a_file_asterisk_can_read_while_it_plays_and_gone_after(files, audio_id):
    files.clear()
    async with files.playing(audio_id) as media:
        (path,) = list(files.directory.iterdir())
        assert path.read_bytes() == AUDIO
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        assert media == [f"sound:/run/play/{path.stem}"]
    assert list(files.directory.iterdir()) == []


async def test_the_file_is_removed_when_the_playback_fails(files, audio_id):
    files.clear()
    with pytest.raises(RuntimeError):
        async with files.playing(audio_id):
            raise RuntimeError("caller hung up")
    assert list(files.directory.iterdir()) == []


async def test_erased_or_absent_audio_is_left_out(files, audio_id):
    files.clear()
    async with files.playing(None, audio_id + 10_000_000, audio_id) as media:
        assert len(media) == 1
        assert len(list(files.directory.iterdir())) == 1


async def test_clear_makes_the_folder_and_removes_what_a_crash_left(files):
    assert files.clear() == 0
    (files.directory / "left-by-a-crash.wav").write_bytes(AUDIO)
    assert files.clear() == 1
    assert list(files.directory.iterdir()) == []


async def test_audio_that_cannot_be_written_is_left_out_and_the_call_goes_on(files, audio_id):
    files.clear()
    files.directory.rmdir()  # the tmpfs gone, or full: writing fails
    async with files.playing(audio_id) as media:
        assert media == []
