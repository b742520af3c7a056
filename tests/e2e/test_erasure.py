"""Erased means erased on the pbx too: no copy of a person's audio stays behind in Asterisk's
folders (media cache, spool, playback files) or in its AstDB once the audio is erased."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from reconnect_pbx.models import AudioBlob, GreetingKind
from reconnect_pbx.services import access
from reconnect_pbx.services.voicemail import NewMessage, store_message
from reconnect_pbx.storage import PostgresAudioStore

import access_helpers
from access_helpers import dial, log_in, messages, tone_wav

person = access_helpers.person
no_pin_in_log = access_helpers.no_pin_in_log

pytestmark = pytest.mark.usefixtures("no_pin_in_log")


def copies_on_the_pbx(sandbox, audio: bytes) -> list[Path]:
    """Every file of the pbx instance (cache, spool, AstDB, logs, playback files...) that holds a
    piece of ``audio``'s samples."""
    samples = audio[44:]
    piece = samples[len(samples) // 2 : len(samples) // 2 + 512]
    found = []
    for path in sandbox.pbx.host_dir.rglob("*"):
        if path.is_file() and not path.is_symlink() and piece in path.read_bytes():
            found.append(path)
    return found


async def wait_no_copy(sandbox, audio: bytes, timeout: float = 10) -> None:
    """The app removes its playback file when the call's flow ends, just after the hangup."""
    try:
        async with asyncio.timeout(timeout):
            while copies_on_the_pbx(sandbox, audio):
                await asyncio.sleep(0.1)
    except TimeoutError:
        pass
    assert copies_on_the_pbx(sandbox, audio) == []


def media_cache_entries(sandbox) -> str:
    return sandbox.pbx.rx("database show MediaCache").strip()


async def test_a_message_heard_then_deleted_leaves_no_copy_anywhere_on_the_pbx(
    running_app, sandbox, carrier, observer, person, session_factory, db
):
    audio = tone_wav(3.0, frequency=1231.0)
    with session_factory() as session, session.begin():
        message_id = store_message(
            session,
            PostgresAudioStore(),
            NewMessage(person.mailbox_id, "+33142685300", person.number, datetime.now(UTC), 3000,
                       f"erasure-test-{secrets.token_hex(8)}"),
            audio,
        )
    call = await log_in(carrier, observer, person)
    await call.press("1")
    await call.until("audio")
    await call.press("3")
    await call.until("message-deleted")
    await call.hang_up()
    async with asyncio.timeout(10):
        while {m.id: m for m in messages(session_factory, person)}[message_id].audio_id is not None:
            await asyncio.sleep(0.1)

    await wait_no_copy(sandbox, audio)
    assert media_cache_entries(sandbox).endswith("0 results found.")
    assert "http" not in sandbox.pbx.rx("media cache show all")


async def test_a_personal_greeting_heard_by_a_caller_leaves_no_copy_on_the_pbx(
    running_app, sandbox, carrier, observer, person, session_factory, db
):
    audio = tone_wav(2.0, frequency=977.0)
    with session_factory() as session, session.begin():
        audio_id = access.save_greeting(session, PostgresAudioStore(), person.mailbox_id, GreetingKind.PERSONAL, audio)
    call = await dial(carrier, observer, person.national)
    assert await call.until("beep") == ["audio", "beep"]
    await call.hang_up()

    await wait_no_copy(sandbox, audio)
    assert media_cache_entries(sandbox).endswith("0 results found.")
    with session_factory() as session, session.begin():
        access.delete_greeting(session, PostgresAudioStore(), person.mailbox_id, GreetingKind.PERSONAL)
    assert db.scalar(select(AudioBlob.id).where(AudioBlob.id == audio_id)) is None
