"""Fixtures and helpers for tests that run our real application against the sandbox.

The carrier's caller "speaks" with speech rendered by espeak-ng, padded to an exact length so the
stored duration can be checked, and keeps RTP flowing until it hangs up.
"""

from __future__ import annotations

import array
import asyncio
import io
import math
import os
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import pg
from reconnect_pbx.config import DatabaseSettings
from reconnect_pbx.models import Centre, Language, Mailbox, Message
from reconnect_pbx.phone import national_format
from reconnect_pbx.sandbox import STASIS_APP, Sandbox
from reconnect_pbx.sandbox.speech import render_speech
from reconnect_pbx.services import centres, numbers, people
from reconnect_pbx.services.voicemail import NewMessage, store_message
from reconnect_pbx.storage import PostgresAudioStore

from app_process import AppProcess, unexpected_errors
from harness import APP_NAME_RELEASERS, AriApp, CarrierCall, place_call
from observer import PbxObserver

SPEECH_SECONDS = 4.0
SPEECH_TEXT = "Bonjour, c'est un message de test. Rappelez-moi quand vous pourrez, merci."
SOUNDS_INSIDE = "/usr/share/asterisk/sounds/test"


@dataclass(frozen=True)
class Person:
    id: int
    number: str
    mailbox_id: int
    language: str = "fr"
    # The PIN given at enrolment (kept out of repr: test output must not show it either).
    pin: str = field(default="", repr=False)

    @property
    def national(self) -> str:
        return national_format(self.number).replace(" ", "")


def media_names(media: list[str]) -> list[str]:
    """``sound:reconnect/short/fr/beep`` -> ``beep``; stored audio -> ``audio``."""
    names = []
    for uri in media:
        if uri.startswith("sound:/"):
            names.append("audio")
        else:
            names.append(uri.rsplit("/", 1)[-1])
    return names


def audio_rms(wav_bytes: bytes) -> float:
    """RMS level of 16-bit audio, 0..1: a silent recording is below 0.005."""
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768


def render_test_speech(target_dir: Path) -> None:
    """test/speech-4s and test/speech-1s: real speech, exactly that long, 8 kHz mono.

    The chroot is shared by every session running at once (parallel workers, other checkouts):
    each file is rendered aside and renamed into place, so a carrier playing it meanwhile reads
    the old file or the new one, never a half-written one."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for seconds, name in ((SPEECH_SECONDS, "speech-4s"), (1.0, "speech-1s")):
        partial = target_dir / f".{name}.{os.getpid()}.wav"
        render_speech(SPEECH_TEXT, partial, seconds=seconds)
        os.replace(partial, target_dir / f"{name}.wav")


async def leave_message(
    carrier: AriApp,
    observer: PbxObserver,
    dialled: str,
    caller: str,
    *,
    withheld: bool = False,
    speech: str = "test/speech-4s",
    end_with_hash: bool = False,
) -> CarrierCall:
    """Call ``dialled``, wait for the recording to start, speak, then hang up (or press #)."""
    call = await place_call(carrier, dialled, caller, withheld=withheld)
    await call.wait_answered(timeout=15)
    observed = await observer.call_from(caller, timeout=15)
    async with asyncio.timeout(20):
        while not observed.recordings:
            await asyncio.sleep(0.02)
    await call.say(f"sound:{speech}")
    if end_with_hash:
        await call.send_dtmf("#")
    else:
        await call.hangup()
    return call


async def wait_for_messages(db: Session, mailbox_id: int, count: int, timeout: float = 15) -> list[Message]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        db.expire_all()
        found = list(db.scalars(select(Message).where(Message.mailbox_id == mailbox_id).order_by(Message.id)))
        if len(found) >= count or loop.time() > deadline:
            assert len(found) == count, f"expected {count} messages, found {len(found)}"
            return found
        await asyncio.sleep(0.2)


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def speech_sounds(sandbox: Sandbox) -> None:
    render_test_speech(sandbox.carrier.root.host_path(SOUNDS_INSIDE))


@pytest.fixture(scope="session")
def serve_role_url(database_url: str) -> Iterator[str]:
    """The run's database, logging in as a member of serve's role (migration 0007), as in production:
    every call of the e2e tests also proves that role's rights are enough."""
    with pg.member_login(database_url, DatabaseSettings().serve_role) as url:
        yield url


@pytest.fixture(scope="session")
def app_process(sandbox: Sandbox, serve_role_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    process = AppProcess(sandbox, serve_role_url, tmp_path_factory.mktemp("app") / "serve.log")
    # A test standing in for the application (pbx_app) needs its name: stop ours first (the next
    # test that wants it restarts it).
    releasers = APP_NAME_RELEASERS.setdefault(STASIS_APP, [])
    releasers.append(process.stop)
    try:
        yield process
    finally:
        releasers.remove(process.stop)
        process.stop()


@pytest.fixture(autouse=True)
def serve_log_checked(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that runs the real ``serve`` fails on a traceback or an ERROR line that serve logged
    during it, unless the test says it causes that error on purpose::

        @pytest.mark.serve_errors(r"spool: messages wait for the database", reason="...")
    """
    if "app_process" not in request.fixturenames:
        yield
        return
    process: AppProcess = request.getfixturevalue("app_process")
    since = process.log_size()
    yield
    check_serve_log(process, request, since)


def check_serve_log(process: AppProcess, request: pytest.FixtureRequest, since: int = 0) -> None:
    """Fail on what ``serve_log_checked`` looks for (for a test's own ``AppProcess`` too)."""
    allowed = [pattern for mark in request.node.iter_markers("serve_errors") for pattern in mark.args]
    errors = unexpected_errors(process.log_text(since), allowed)
    assert not errors, "serve logged unexpected errors:\n" + "\n".join(errors)


@pytest.fixture
def running_app(app_process: AppProcess, speech_sounds: None) -> AppProcess:
    """Our application, connected to the pbx (started once, restarted if a test stopped it)."""
    app_process.start()
    return app_process


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def observer(sandbox: Sandbox) -> AsyncIterator[PbxObserver]:
    pbx = sandbox.pbx
    watcher = PbxObserver(pbx.ari_url, pbx.ari_user, pbx.ari_password)
    await watcher.start()
    try:
        yield watcher
    finally:
        await watcher.stop()


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture(scope="session")
def e2e_centre(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session, session.begin():
        centre = centres.add_centre(session, f"E2E centre {datetime.now().timestamp()}", "Paris", actor="e2e")
        return centre.id


@pytest.fixture
def enrol(session_factory: sessionmaker[Session], e2e_centre: int, number_block: Callable[[], str]) -> Callable[..., Person]:
    """``enrol()`` -> a new active person with a fresh number, in the e2e centre."""

    def make(language: str = "fr") -> Person:
        number = number_block() + "42"
        with session_factory() as session, session.begin():
            centre = session.get(Centre, e2e_centre)
            numbers.import_numbers(session, [number], centre=centre, trunk="trunk", actor="e2e", source="test")
            enrolment = people.enrol(
                session, centre=centre, display_name="Test Person", language=Language(language),
                pin_length=6, actor="e2e", number=number,
            )
            mailbox_id = session.scalar(select(Mailbox.id).where(Mailbox.beneficiary_id == enrolment.beneficiary_id))
        return Person(enrolment.beneficiary_id, number, mailbox_id, language, pin=enrolment.pin)

    return make


@pytest.fixture
def close_person(session_factory: sessionmaker[Session]) -> Callable[[Person], None]:
    def close(person: Person) -> None:
        with session_factory() as session, session.begin():
            beneficiary = people.find_person(session, str(person.id), "FR", lock=True)
            people.close(session, beneficiary, actor="e2e", quarantine_days=90)

    return close


@pytest.fixture
def fill_mailbox(session_factory: sessionmaker[Session]) -> Callable[[Person, int], None]:
    """Store ``count`` short messages directly, as if callers had left them."""
    silence = io.BytesIO()
    with wave.open(silence, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x00" * 8000 * 3)

    def fill(person: Person, count: int) -> None:
        now = datetime.now(timezone.utc)
        with session_factory() as session, session.begin():
            for i in range(count):
                store_message(
                    session,
                    PostgresAudioStore(),
                    NewMessage(person.mailbox_id, "+33142685300", person.number, now - timedelta(minutes=i), 3000,
                               f"fill-{person.id}-{i}"),
                    silence.getvalue(),
                )

    return fill
