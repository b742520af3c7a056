"""Outgoing calls through the trunk: a logged-in person dials a landline or calls a caller back.

Real calls both ways: the person calls in from the carrier simulator, logs in (``*`` in their own
greeting, then the PIN), presses 2 and a number; our application originates the call on the trunk
and the carrier simulator's "carrier" application plays the far end (answers, rings, refuses). What
each side hears is recorded on the carrier through a snoop channel and measured.

The limits of the test configuration are in ``app_process.CALLBACK_TEST_LIMITS``. The helpers here
are shared with the other ``test_callback_*`` modules.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.models import CallDirection, CallRecord

import access_helpers
from access_helpers import LAST_MESSAGE_MENU, MAIN_MENU, AccessCall, log_in, store
from deposit_helpers import Person, audio_rms
from harness import AriApp, asterisk_time
from observer import PbxObserver

# An enrolled, onboarded person who knows their PIN (the access tests' fixture).
person = access_helpers.person

# A landline the carrier simulator plays the far end of.
LANDLINE = "0142685300"
LANDLINE_E164 = "+33142685300"
# Silence is below 0.005 (deposit_helpers.audio_rms); speech and tones are well above this.
HEARD = 0.01
# What each side says: Asterisk's own long recordings, which no test session rewrites (the
# speech files of deposit_helpers are rendered again by every session). Not tones: a snoop on a
# channel that plays a tone (a generator) records nothing of what the channel receives.
FAR_END_SPEAKS = "sound:tt-monkeys"
PERSON_SPEAKS = "sound:demo-congrats"


@dataclass
class FarEnd:
    """The far end of an outgoing call, as the carrier simulator receives it."""

    carrier: AriApp
    channel: str
    start: dict[str, Any]
    since: int

    async def variable(self, name: str) -> str:
        return await self.carrier.variable(self.channel, name)

    @property
    def arrived(self) -> float:
        """When the call reached the carrier, on Asterisk's clock (``harness.asterisk_time``)."""
        return asterisk_time(self.start)

    async def ring(self) -> None:
        await self.carrier.post(f"/channels/{self.channel}/ring")

    async def answer(self) -> float:
        """Answer; returns when, on Asterisk's clock."""
        since = self.carrier.mark()
        await self.carrier.post(f"/channels/{self.channel}/answer")
        event = await self.carrier.wait_event(
            "ChannelStateChange", lambda e: e["channel"]["state"] == "Up", channel=self.channel, since=since
        )
        return asterisk_time(event)

    async def reject(self, reason: str) -> None:
        """Refuse the call: ``busy`` (486), ``congestion`` (503)..."""
        await self.carrier.http.delete(f"/channels/{self.channel}", params={"reason": reason})

    async def play(self, media: str = FAR_END_SPEAKS) -> None:
        """The far end speaks; returns once the playback has started."""
        playback = str(uuid.uuid4())
        since = self.carrier.mark()
        await self.carrier.post(f"/channels/{self.channel}/play/{playback}", media=media)
        started = await self.carrier.wait_event(
            ("PlaybackStarted", "PlaybackFinished"), lambda e: e["playback"]["id"] == playback, since=since
        )
        assert started["playback"]["state"] != "failed", f"the far end could not play {media}"

    async def hang_up(self) -> None:
        await self.carrier.http.delete(f"/channels/{self.channel}")

    async def wait_gone(self, timeout: float = 10) -> float:
        """Until the pbx (or our test) ended the call; returns when, on Asterisk's clock."""
        event = await self.carrier.wait_event(
            ("ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"), channel=self.channel, since=self.since, timeout=timeout
        )
        return asterisk_time(event)


def is_call_from_pbx(event: dict[str, Any]) -> bool:
    return event.get("type") == "StasisStart" and event.get("args", [])[:1] == ["from-pbx"]


async def far_end(carrier: AriApp, person: Person, since: int, timeout: float = 15) -> FarEnd:
    """The call our application placed for ``person`` (its caller ID is their number)."""
    start = await carrier.wait_event(
        "StasisStart",
        lambda e: is_call_from_pbx(e) and e["channel"]["caller"]["number"] == person.number,
        since=since,
        timeout=timeout,
    )
    return FarEnd(carrier, start["channel"]["id"], start, carrier.events.index(start))


def calls_from_pbx(carrier: AriApp, since: int) -> list[dict[str, Any]]:
    """Every call the carrier received from the pbx since ``since``, whoever placed it."""
    return [e for e in carrier.events[since:] if is_call_from_pbx(e)]


async def dial_out(carrier: AriApp, observer: PbxObserver, person: Person, number: str) -> AccessCall:
    """Log in, press 2, type ``number`` and #."""
    call = await log_in(carrier, observer, person)
    await call_from_menu(call, number)
    return call


async def call_from_menu(call: AccessCall, number: str) -> None:
    """From the main menu: press 2, type ``number`` and #."""
    await call.press("2")
    await call.until("enter-number-to-call")
    await call.press(number + "#")


async def hears(carrier: AriApp, channel: str, seconds: int = 2) -> float:
    """RMS of the audio the pbx sends to the carrier channel ``channel`` during ``seconds``."""
    snoop = f"snoop-{uuid.uuid4().hex}"
    name = f"hears-{uuid.uuid4().hex}"
    since = carrier.mark()
    await carrier.post(f"/channels/{channel}/snoop", spy="in", app=carrier.app, snoopId=snoop)
    try:
        # The snoop channel enters the application a moment after the reply: record only then.
        await carrier.wait_event("StasisStart", channel=snoop, since=since)
        await carrier.post(
            f"/channels/{snoop}/record", name=name, format="wav", maxDurationSeconds=seconds, ifExists="overwrite"
        )
        finished = await carrier.wait_event(
            ("RecordingFinished", "RecordingFailed"),
            lambda e: e["recording"]["name"] == name,
            since=since,
            timeout=seconds + 5,
        )
        assert finished["type"] == "RecordingFinished", finished
        audio = (await carrier.http.get(f"/recordings/stored/{name}/file")).content
    finally:
        await carrier.http.delete(f"/channels/{snoop}")
        await carrier.http.delete(f"/recordings/stored/{name}")
    return audio_rms(audio)


async def callback_bridges(observer: PbxObserver) -> list[dict[str, Any]]:
    return [b for b in await observer.client.list_bridges() if b["id"].startswith("callback-")]


async def wait_bridged(observer: PbxObserver, timeout: float = 5) -> dict[str, Any]:
    """Until our application has both legs in its mixing bridge."""
    async with asyncio.timeout(timeout):
        while True:
            for bridge in await callback_bridges(observer):
                if len(bridge["channels"]) == 2:
                    return bridge
            await asyncio.sleep(0.05)


async def wait_no_callback_bridge(observer: PbxObserver, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while await callback_bridges(observer):
            await asyncio.sleep(0.05)


def outbound_records(session_factory: sessionmaker[Session], person: Person) -> list[CallRecord]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(CallRecord)
                .where(CallRecord.beneficiary_id == person.id, CallRecord.direction == CallDirection.OUTBOUND)
                .order_by(CallRecord.id)
            )
        )


async def wait_record_ended(session_factory: sessionmaker[Session], person: Person, timeout: float = 10) -> CallRecord:
    """The person's latest outgoing call record, once its end is written."""
    async with asyncio.timeout(timeout):
        while True:
            records = outbound_records(session_factory, person)
            if records and records[-1].ended_at is not None:
                return records[-1]
            await asyncio.sleep(0.1)


def new_mobile() -> str:
    """A French mobile (not an overseas one: 0639, 069x are Mayotte, Antilles, Guyane, Réunion)."""
    return f"+33612{secrets.randbelow(10**6):06d}"


# -- tests -------------------------------------------------------------------------------------


async def test_a_dialled_landline_presents_the_persons_number_and_audio_flows_both_ways(
    running_app, carrier, observer, person, session_factory
):
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    assert far.start["args"] == ["from-pbx", LANDLINE_E164]
    assert await far.variable("CALLERID(num)") == person.number
    assert f"<sip:{person.number}@" in await far.variable("PJSIP_HEADER(read,P-Asserted-Identity)")
    assert f"<sip:{person.number}@" in await far.variable("PJSIP_HEADER(read,From)")
    await far.ring()
    assert await hears(carrier, call.call.channel, 1) > HEARD, "the person hears no ringback"
    await far.answer()
    await wait_bridged(observer)
    await far.play()
    await call.call.play(PERSON_SPEAKS)
    person_hears, far_hears = await asyncio.gather(hears(carrier, call.call.channel), hears(carrier, far.channel))
    assert person_hears > HEARD, "the person hears nothing of the far end"
    assert far_hears > HEARD, "the far end hears nothing of the person"
    await far.hang_up()
    assert await call.until(MAIN_MENU[-1]) == ["calling", "call-ended", *MAIN_MENU]
    record = await wait_record_ended(session_factory, person)
    assert (record.outcome, record.policy_decision, record.flow) == ("completed", "allowed:geographic", "callback")
    assert (record.caller_number, record.called_number) == (person.number, LANDLINE_E164)
    assert record.answered_at is not None and record.started_at <= record.answered_at <= record.ended_at
    assert 2 <= record.billable_seconds <= 8
    assert await callback_bridges(observer) == []
    await call.hang_up()


async def test_when_the_person_hangs_up_the_far_end_is_hung_up(running_app, carrier, observer, person, session_factory):
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    await far.answer()
    await wait_bridged(observer)
    await call.call.hangup()
    await far.wait_gone(timeout=5)
    record = await wait_record_ended(session_factory, person)
    assert record.outcome == "completed"
    await wait_no_callback_bridge(observer)


async def test_a_busy_line_is_announced_and_the_person_is_back_in_the_menu(
    running_app, carrier, observer, person, session_factory
):
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    await far.ring()
    await far.reject("busy")
    assert await call.until(MAIN_MENU[-1]) == ["calling", "call-busy", *MAIN_MENU]
    record = await wait_record_ended(session_factory, person)
    assert (record.outcome, record.billable_seconds, record.answered_at) == ("busy", 0, None)
    assert await callback_bridges(observer) == []
    await call.hang_up()


async def test_no_answer_after_the_ring_timeout_is_announced_and_the_far_end_stops_ringing(
    running_app, carrier, observer, person, session_factory
):
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    await far.ring()
    stopped = await far.wait_gone(timeout=10)
    assert 3 <= stopped - far.arrived <= 6  # callback.ring_timeout_seconds = 4, from the originate
    assert await call.until(MAIN_MENU[-1]) == ["calling", "call-no-answer", *MAIN_MENU]
    record = await wait_record_ended(session_factory, person)
    assert (record.outcome, record.billable_seconds) == ("no-answer", 0)
    await call.hang_up()


async def test_a_call_the_network_cannot_connect_is_announced(running_app, carrier, observer, person, session_factory):
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    await far.reject("congestion")
    assert await call.until(MAIN_MENU[-1]) == ["calling", "call-failed", *MAIN_MENU]
    assert (await wait_record_ended(session_factory, person)).outcome == "failed"
    await call.hang_up()


async def test_hanging_up_while_it_rings_cancels_the_far_end(running_app, carrier, observer, person, session_factory):
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    await far.ring()
    await call.call.hangup()
    await far.wait_gone(timeout=5)
    record = await wait_record_ended(session_factory, person)
    assert (record.outcome, record.billable_seconds) == ("cancelled", 0)


async def test_calling_back_the_caller_of_a_message_reaches_their_mobile_and_returns_to_the_message(
    running_app, carrier, observer, person, session_factory
):
    mobile = new_mobile()
    store(session_factory, person, caller=mobile, received_at=datetime.now(UTC) - timedelta(minutes=5))
    since = carrier.mark()
    call = await log_in(carrier, observer, person)
    await call.press("1")
    await call.until("message")
    await call.press("2")
    far = await far_end(carrier, person, since)
    assert far.start["args"] == ["from-pbx", mobile]
    await far.answer()
    await wait_bridged(observer)
    await far.hang_up()
    played = await call.until(LAST_MESSAGE_MENU[-1])
    assert played[-4:] == ["calling", "call-ended", *LAST_MESSAGE_MENU]
    record = await wait_record_ended(session_factory, person)
    assert (record.outcome, record.called_number, record.policy_decision) == ("completed", mobile, "allowed:mobile")
    await call.hang_up()
