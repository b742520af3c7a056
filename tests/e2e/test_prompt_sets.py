"""The association's own voice: a prompt set made by ``reconnect-pbx prompts import`` is what a
real call plays once ``voicemail.prompt_set`` names it; ``prompts record`` calls the operator."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from reconnect_pbx import prompts
from reconnect_pbx.models import AuditEvent
from reconnect_pbx.sandbox import Sandbox
from reconnect_pbx.sandbox.chroot import file_lock
from reconnect_pbx.sandbox.instance import SOUNDS_TARGET

from app_process import ACCESS_NUMBER, CLI, AppProcess
from deposit_helpers import audio_rms, leave_message, media_names, wait_for_messages
from test_callback_calls import LANDLINE, FarEnd, is_call_from_pbx

# The whole default greeting, so that the call is short and that sentence in one voice.
RECORDED = {
    "greeting-default-intro": "Bonjour, ici la messagerie de",
    "greeting-default-leave": "Laissez un message après le bip.",
    **{f"digit-{d}": prompts.text(f"digit-{d}", "fr") for d in range(10)},
}


@pytest.fixture
def imported_set(sandbox: Sandbox, running_app: AppProcess, tmp_path: Path) -> Iterator[str]:
    """A set of this test's own, made from recordings by the real CLI, removed afterwards.

    The chroot's sounds are shared by every sandbox of the machine: the lock that a starting
    sandbox takes to reinstall the shipped sets (install_sounds) is held meanwhile."""
    sounds = sandbox.pbx.root.host_path(SOUNDS_TARGET)
    name = f"asso-{secrets.token_hex(3)}"
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for prompt, words in RECORDED.items():
        subprocess.run(["espeak-ng", "-v", "fr", "-w", str(recordings / f"{prompt}.wav"), words], check=True)
    with file_lock(sounds.parent / ".reconnect-sounds.lock"):
        try:
            result = subprocess.run(
                [CLI, "prompts", "import", str(recordings), "--set", name],
                env={**running_app.env, "RECONNECT_ASTERISK_SOUNDS_DIR": str(sounds)},
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert (result.returncode, result.stderr) == (0, "")
            assert result.stdout == f"set {name} made in {sounds / name}: {len(RECORDED)} fr prompt(s) imported\n"
            yield name
        finally:
            shutil.rmtree(sounds / name, ignore_errors=True)


async def test_a_call_plays_the_set_made_by_prompts_import(
    imported_set: str, running_app: AppProcess, carrier, observer, enrol, db
) -> None:
    person = enrol()
    caller = f"01{secrets.randbelow(10**8):08d}"
    with running_app.reconfigured(voicemail_prompt_set=imported_set):
        call = await leave_message(carrier, observer, person.national, caller)
        await wait_for_messages(db, person.mailbox_id, 1, timeout=30)
        await call.wait_hung_up()
    observed = await observer.call_from(caller)
    assert all(uri.startswith(f"sound:reconnect/{imported_set}/fr/") for uri in observed.media), observed.media
    digits = [f"digit-{d}" for d in prompts.dialled_digits(person.number)]
    assert media_names(observed.media) == ["greeting-default-intro", *digits, "greeting-default-leave", "beep"]
    # Asterisk found every file of the set (a missing one ends its playback as "failed").
    finished = [e["playback"]["state"] for e in observed.playback_events if e.type == "PlaybackFinished"]
    assert finished and set(finished) == {"done"}


async def test_prompts_record_calls_the_operator_and_installs_what_they_said(
    sandbox: Sandbox, running_app: AppProcess, carrier, observer, db
) -> None:
    sounds = sandbox.pbx.root.host_path(SOUNDS_TARGET)
    name = f"asso-{secrets.token_hex(3)}"
    since = carrier.mark()
    with file_lock(sounds.parent / ".reconnect-sounds.lock"):
        try:
            cli = await asyncio.create_subprocess_exec(
                CLI, "prompts", "record", "goodbye", "--number", LANDLINE, "--set", name,
                env={**running_app.env, "RECONNECT_ASTERISK_SOUNDS_DIR": str(sounds)},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            start = await carrier.wait_event("StasisStart", is_call_from_pbx, since=since, timeout=15)
            operator = FarEnd(carrier, start["channel"]["id"], start, carrier.events.index(start))
            assert start["channel"]["caller"]["number"] == ACCESS_NUMBER
            await operator.answer()
            recording = await observer.call_from(ACCESS_NUMBER)
            async with asyncio.timeout(20):
                while not recording.recordings:  # the prompt as it is, then the beep
                    await asyncio.sleep(0.02)
            said = str(uuid.uuid4())
            mark = carrier.mark()
            await carrier.post(f"/channels/{operator.channel}/play/{said}", media="sound:goodbye")
            await carrier.wait_event("PlaybackFinished", lambda e: e["playback"]["id"] == said, since=mark)
            await carrier.post(f"/channels/{operator.channel}/dtmf", dtmf="#")
            stdout, stderr = await asyncio.wait_for(cli.communicate(), 30)
            await operator.wait_gone()

            installed = sounds / name / "fr" / "goodbye.wav"
            assert (cli.returncode, stderr.decode()) == (0, "")
            assert stdout.decode().startswith("recorded goodbye (fr, ")
            assert stdout.decode().endswith(f" s) into set {name}: {installed}\n")
            assert recording.media == ["sound:reconnect/std/fr/goodbye"]
            with wave.open(str(installed), "rb") as audio:
                assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
                assert audio_rms(installed.read_bytes()) > 0.01  # what the operator said, not silence
            assert installed.read_bytes() != (sounds / "std" / "fr" / "goodbye.wav").read_bytes()
            audited = db.scalars(select(AuditEvent).where(AuditEvent.action == "prompts.record")).all()
            assert [e.details for e in audited if e.details["prompt_set"] == name] == [
                {"prompt": "goodbye", "language": "fr", "prompt_set": name, "destination": "+33142******"}
            ]
        finally:
            shutil.rmtree(sounds / name, ignore_errors=True)


def test_prompts_record_refuses_a_premium_number_before_calling(running_app: AppProcess) -> None:
    result = subprocess.run(
        [CLI, "prompts", "record", "goodbye", "--number", "0899123456"],
        env=running_app.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        "Error: 0899123456 cannot be called (refused:premium): give a landline or mobile number in France\n"
    )
