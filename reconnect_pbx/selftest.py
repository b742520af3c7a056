"""``reconnect-pbx selftest``: a call into this pbx as if from the trunk, to the test mailbox.

Through ARI, a Local channel is placed into the trunk's context (``from-trunk``, the dialplan the
carrier's calls take) to the self-test number; its other half joins this module's own Stasis
application. The dialplan hands the call to ``serve`` as any call, which greets and records; once
the recording has started, our half says a prompt and hangs up. The message must then be stored in
the test mailbox (``services.selftest``), which is erased again: message, audio, call record.

One line per step (``Step``); the first failure ends the test.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx import phone
from reconnect_pbx.ari import AriClient, AriError, Event, EventTimeout, NotFound
from reconnect_pbx.config import Settings
from reconnect_pbx.db import transaction
from reconnect_pbx.services import selftest

SELFTEST_APP = "reconnect-pbx-selftest"
TRUNK_CONTEXT = "from-trunk"
# What the test caller says: a real spoken prompt (4 s), above voicemail.min_message_seconds.
SPEECH = "sound:reconnect/std/fr/fallback-greeting"
CALLER = "+33100000000"
# A Local channel has no codecs of its own: those of the trunk (asterisk-conf/pjsip.conf).
CALL_FORMATS = ("alaw", "ulaw")


class SelftestFailed(RuntimeError):
    """One step failed; the message says which and why."""


@dataclass(frozen=True)
class Step:
    name: str
    detail: str


Report = Callable[[Step], None]


async def _wait_application(client: AriClient, app: str, timeout: float) -> None:
    """Until Asterisk lists ``app``: right after the installer started `serve`, it may still connect."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.request("GET", f"/applications/{app}")
            return
        except NotFound:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def run(settings: Settings, sessions: sessionmaker[Session], report: Report, timeout: float = 60) -> None:
    """Run the self-test, reporting each step done; raises SelftestFailed at the first failure."""
    raw = settings.access.selftest_number.strip()
    if not raw:
        raise SelftestFailed("mailbox: access.selftest_number is not set (the installer sets it)")
    number = phone.normalise(raw, settings.numbers.default_region)
    with transaction(sessions) as session:
        mailbox = selftest.ensure_test_mailbox(session, number, datetime.now(timezone.utc))
        leftover = selftest.erase_test_calls(session, mailbox)
    report(Step("mailbox", f"test mailbox {number} ready" + (f" ({leftover} old test message(s) erased)" if leftover else "")))

    ari = settings.ari
    client = AriClient(ari.url, ari.username, ari.password, SELFTEST_APP)
    runner = asyncio.create_task(client.run())
    ours, theirs = f"selftest-{uuid.uuid4().hex}", f"selftest-{uuid.uuid4().hex}"
    recording_started = asyncio.Event()

    def on_recording_started(event: Event) -> None:
        if event["recording"].get("target_uri", "") == f"channel:{theirs}":
            recording_started.set()

    client.events.on("RecordingStarted", on_recording_started)
    try:
        try:
            await client.wait_connected(10)
            await _wait_application(client, settings.ari.app, timeout)
        except AriError as exc:
            # A 404 here: `serve` has not registered its application (not started, or still starting).
            raise SelftestFailed(f"ari: {exc} (is `serve` running?)") from None
        report(Step("ari", f"{ari.url}: application {settings.ari.app!r} registered"))

        answered = client.expect({"StasisStart"}, ours)
        ended = client.expect({"ChannelDestroyed"}, ours)
        try:
            await client.originate(
                f"Local/{number}@{TRUNK_CONTEXT}", channel_id=ours, other_channel_id=theirs, caller_id=CALLER,
                app_args=["selftest"], formats=CALL_FORMATS,
            )
            # The application's half: its recording's events come to us through this subscription.
            await client.request("POST", f"/applications/{SELFTEST_APP}/subscription", params={"eventSource": f"channel:{theirs}"})
            await answered.wait(timeout)
        except (AriError, EventTimeout) as exc:
            raise SelftestFailed(f"call: Local/{number}@{TRUNK_CONTEXT} was not answered ({exc}); is `serve` running?") from None
        report(Step("call", f"Local/{number}@{TRUNK_CONTEXT} answered"))

        try:
            await asyncio.wait_for(recording_started.wait(), timeout)
        except asyncio.TimeoutError:
            raise SelftestFailed("record: the application did not start recording (see serve's log)") from None
        playback = f"selftest-{uuid.uuid4().hex}"
        finished = client.expect({"PlaybackFinished"}, playback)
        try:
            await client.play(ours, [SPEECH], playback)
            await finished.wait(timeout)
            await client.hangup(ours)
            await ended.wait(10)
        except (AriError, EventTimeout) as exc:
            raise SelftestFailed(f"record: the message could not be said ({exc})") from None
        report(Step("record", "a spoken message left after the tone, then hung up"))
    finally:
        await client.close()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    deadline = time.monotonic() + timeout
    while True:
        with transaction(sessions) as session:
            stored = selftest.stored_message(session, mailbox, theirs)
        if stored is not None:
            break
        if time.monotonic() > deadline:
            raise SelftestFailed(f"stored: no message in the test mailbox after {timeout:.0f} s (see serve's log)")
        await asyncio.sleep(0.2)
    if stored.duration_ms <= 0 or stored.audio_bytes <= 0:
        raise SelftestFailed(f"stored: message {stored.message_id} has no audio")
    report(Step("stored", f"message {stored.message_id}, {stored.duration_ms / 1000:.1f} s, {stored.audio_bytes} bytes of audio"))

    with transaction(sessions) as session:
        erased = selftest.erase_test_calls(session, mailbox)
    report(Step("erased", f"{erased} test message(s), their audio and call records"))
