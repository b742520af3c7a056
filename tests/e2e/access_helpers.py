"""Helpers for the access tests: log in from the carrier side and follow what the app plays.

``AccessCall`` pairs the carrier's call with the pbx-side call the observer sees, and reads the
media our app played in order: ``await call.until("enter-pin")`` waits for the next time that
prompt starts, after everything already waited for. Every key string a test types goes through
``press``, which remembers the digit strings so that ``no_pin_in_log`` can check that none of them
(PINs, personal numbers) ever reaches the app's log.
"""

from __future__ import annotations

import asyncio
import io
import math
import re
import secrets
import struct
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.models import Credential, Mailbox, Message, MessageState
from reconnect_pbx.services.voicemail import NewMessage, store_message
from reconnect_pbx.storage import PostgresAudioStore

from app_process import ACCESS_NUMBER, AppProcess
from deposit_helpers import Person, media_names
from harness import AriApp, CarrierCall, place_call
from observer import ObservedCall, PbxObserver

# Digit strings typed during the run (PINs, personal numbers): none may appear in the app's log.
TYPED: set[str] = set()

# The main menu: its choices, then "For English, press 5" (said in the other language).
MAIN_MENU = ["main-menu", "language-offer"]
# "*" in the main menu: the choices it leaves out and the key map, then the menu again.
MAIN_HELP = ["main-help", "help-phone", "help", *MAIN_MENU]
# The menu after a message that is not the last one, and after the last one.
MESSAGE_MENU = ["message-menu", "message-menu-next"]
LAST_MESSAGE_MENU = ["message-menu", "message-menu-last"]


def new_caller() -> str:
    """A caller number no other call of the run uses (the observer tells calls apart by it)."""
    return f"01{secrets.randbelow(10**8):08d}"


def wrong_pin(pin: str) -> str:
    return "".join(str((int(d) + 1) % 10) for d in pin)


@dataclass
class AccessCall:
    call: CarrierCall
    observed: ObservedCall
    caller: str
    seen: int = 0

    @property
    def names(self) -> list[str]:
        return media_names(self.observed.media)

    def languages(self) -> list[str]:
        return [uri.split("/")[-2] for uri in self.observed.media if not uri.startswith("sound:/")]

    async def until(self, name: str, timeout: float = 15) -> list[str]:
        """Wait for the next ``name`` played; returns what was played since the previous wait,
        ``name`` included."""
        async with asyncio.timeout(timeout):
            while True:
                names = self.names
                if name in names[self.seen:]:
                    end = names.index(name, self.seen) + 1
                    played, self.seen = names[self.seen:end], end
                    return played
                await asyncio.sleep(0.02)

    async def press(self, keys: str) -> None:
        for digits in re.findall(r"[0-9]{4,}", keys):
            TYPED.add(digits)
        # A phone's pace (100 ms tone, 100 ms gap): at 80/60 ms, with the two cores busy (the full
        # suite), the pbx once took a ten-digit number with a digit missing.
        await self.call.send_dtmf(keys)

    async def speak(self, seconds: float = 2.5) -> None:
        """The caller talks for ``seconds`` (a recording is running), then presses #."""
        async with asyncio.timeout(15):
            while not self.observed.recordings:
                await asyncio.sleep(0.02)
        await self.call.play("sound:test/speech-4s")
        await asyncio.sleep(seconds)
        await self.call.send_dtmf("#")

    async def hang_up(self) -> None:
        await self.call.hangup()
        await asyncio.wait_for(self.observed.ended.wait(), 10)

    async def wait_ended(self, timeout: float = 15) -> None:
        """The app hung up (after its goodbye)."""
        await asyncio.wait_for(self.observed.ended.wait(), timeout)


async def dial(
    carrier: AriApp, observer: PbxObserver, did: str, caller: str | None = None, *, endpoint: str = "pbx"
) -> AccessCall:
    """``endpoint="pbx-inband"``: a phone that sends its keys as tones in the audio."""
    caller = caller or new_caller()
    call = await place_call(carrier, did, caller, endpoint=endpoint)
    await call.wait_answered(timeout=15)
    observed = await observer.call_from(caller, timeout=15)
    return AccessCall(call, observed, caller)


async def dial_access(carrier: AriApp, observer: PbxObserver, caller: str | None = None) -> AccessCall:
    return await dial(carrier, observer, ACCESS_NUMBER, caller)


async def star_in_greeting(carrier: AriApp, observer: PbxObserver, person: Person, caller: str | None = None) -> AccessCall:
    """Call the person's own number and press * as soon as the greeting starts."""
    call = await dial(carrier, observer, person.national, caller)
    async with asyncio.timeout(15):
        while not call.observed.media:
            await asyncio.sleep(0.02)
    call.seen = len(call.names)
    await call.press("*")
    return call


async def log_in(
    carrier: AriApp,
    observer: PbxObserver,
    person: Person,
    *,
    pin: str | None = None,
    via: str = "greeting",
    until: str = MAIN_MENU[-1],
) -> AccessCall:
    """Log in (the greeting's * by default, or the access number) and wait for ``until``: the end
    of the main menu, which comes after the new messages (played straight after the login), or
    e.g. "audio", the first new message."""
    if via == "access":
        call = await dial_access(carrier, observer)
        await call.until("enter-personal-number")
        await call.press(person.national + "#")
    else:
        call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press((pin or person.pin) + "#")
    await call.until(until)
    return call


def onboard(session_factory: sessionmaker[Session], person: Person) -> None:
    """As if the person had been through the first login: onboarded, with a PIN of their own
    (the test keeps typing the enrolment PIN, but it is no longer one that must be changed)."""
    with session_factory() as session, session.begin():
        session.execute(update(Mailbox).where(Mailbox.id == person.mailbox_id).values(onboarded=True))
        session.execute(update(Credential).where(Credential.beneficiary_id == person.id).values(pin_must_change=False))


def credential(session_factory: sessionmaker[Session], person: Person) -> Credential:
    with session_factory() as session:
        return session.get(Credential, person.id)


def messages(session_factory: sessionmaker[Session], person: Person) -> list[Message]:
    with session_factory() as session:
        return list(session.scalars(select(Message).where(Message.mailbox_id == person.mailbox_id).order_by(Message.id)))


def tone_wav(seconds: float, frequency: float = 440.0) -> bytes:
    """A quiet sine tone, 8 kHz mono 16-bit: a message whose length the test controls."""
    rate = 8000
    frames = b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * frequency * i / rate))) for i in range(int(rate * seconds))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return buffer.getvalue()


def store(
    session_factory: sessionmaker[Session],
    person: Person,
    *,
    received_at: datetime | None = None,
    caller: str | None = "+33142685300",
    seconds: float = 1.0,
    state: MessageState = MessageState.NEW,
) -> int:
    """A message in the person's mailbox, as if a caller had left it; returns its id."""
    received_at = received_at or datetime.now(UTC)
    with session_factory() as session, session.begin():
        message_id = store_message(
            session,
            PostgresAudioStore(),
            NewMessage(person.mailbox_id, caller, person.number, received_at, int(seconds * 1000),
                       f"access-test-{secrets.token_hex(8)}"),
            tone_wav(seconds),
        )
        if state != MessageState.NEW:
            session.execute(update(Message).where(Message.id == message_id).values(state=state))
    return message_id


def secrets_in_log(log_text: str) -> list[str]:
    """The typed digit strings that appear in the log as a token of their own."""
    return sorted(
        typed for typed in TYPED if re.search(rf"(?<![0-9A-Za-z]){typed}(?![0-9A-Za-z])", log_text)
    )


@pytest.fixture
def no_pin_in_log(running_app: AppProcess) -> Iterator[None]:
    """After the test: nothing typed so far in the run (PINs, numbers) is in the app's log."""
    yield
    leaked = secrets_in_log(running_app.log_text())
    assert not leaked, f"{len(leaked)} typed digit string(s) found in {running_app.log_path}"


@pytest.fixture
def person(enrol: Callable[..., Person], session_factory: sessionmaker[Session]) -> Person:
    """An enrolled, onboarded person (French); their PIN is typed, so it is watched in the log."""
    enrolled = enrol()
    onboard(session_factory, enrolled)
    TYPED.add(enrolled.pin)
    return enrolled
