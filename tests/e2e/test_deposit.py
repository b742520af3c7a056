"""Leaving a message: real calls from the carrier simulator into our application on the pbx."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from sqlalchemy import select

from reconnect_pbx.models import AudioBlob, Message
from reconnect_pbx.services import voicemail

from deposit_helpers import (
    SPEECH_SECONDS,
    Person,
    audio_rms,
    leave_message,
    media_names,
    wait_for_messages,
)
from harness import place_call


async def test_a_message_is_stored_with_caller_number_and_duration(running_app, carrier, observer, enrol, db):
    person: Person = enrol()
    caller = f"01{secrets.randbelow(10**8):08d}"
    call = await leave_message(carrier, observer, person.national, caller)
    messages = await wait_for_messages(db, person.mailbox_id, 1)
    message = messages[0]
    assert message.caller_number == "+33" + caller[1:]
    assert message.called_number == person.number
    assert abs(message.duration_ms / 1000 - SPEECH_SECONDS) <= 1.0
    audio = db.scalar(select(AudioBlob.data).where(AudioBlob.id == message.audio_id))
    assert audio_rms(audio) > 0.01, "the stored message is silent"
    await call.wait_hung_up()
    observed = await observer.call_from(caller)
    assert observed.answered_before_media, "the greeting started before the call was answered (early media)"
    assert media_names(observed.media) == [
        "greeting-default-intro",
        *[f"digit-{d}" for d in person.national.replace(" ", "")],
        "greeting-default-leave",
        "beep",
    ]


@pytest.mark.parametrize(
    "dialled_form", ["e164", "national", "international-00", "dots", "dashes", "spaces", "trunk-zero"]
)
async def test_every_form_of_the_did_reaches_the_same_mailbox(running_app, carrier, observer, enrol, db, dialled_form):
    person = enrol()
    pairs = [person.national[i : i + 2] for i in range(0, 10, 2)]
    dialled = {
        "e164": person.number,
        "national": person.national,
        "international-00": "00" + person.number[1:],
        # Written with visual separators, as some carriers pass on what was typed.
        "dots": ".".join(pairs),
        "dashes": "+33-" + "-".join([pairs[0][1], *pairs[1:]]),
        "spaces": "%20".join(pairs),  # the Request-URI escapes them; Asterisk reads spaces
        "trunk-zero": "+33(0)" + person.national[1:],
    }[dialled_form]
    caller = f"04{secrets.randbelow(10**8):08d}"
    await leave_message(carrier, observer, dialled, caller)
    messages = await wait_for_messages(db, person.mailbox_id, 1)
    assert messages[0].called_number == person.number


async def test_an_unassigned_number_hears_the_intercept_and_nothing_is_stored(running_app, carrier, observer, db, number_block):
    dialled = number_block() + "00"
    caller = f"05{secrets.randbelow(10**8):08d}"
    before = db.scalar(select(Message.id).order_by(Message.id.desc()).limit(1))
    call = await place_call(carrier, dialled, caller)
    await call.wait_answered()
    await call.wait_hung_up(timeout=15)
    observed = await observer.call_from(caller)
    assert media_names(observed.media) == ["not-in-service"]
    assert observed.recordings == []
    after = db.scalar(select(Message.id).order_by(Message.id.desc()).limit(1))
    assert after == before


async def test_a_closed_persons_quarantined_number_hears_the_intercept(running_app, carrier, observer, enrol, close_person, db):
    person = enrol()
    close_person(person)
    caller = f"03{secrets.randbelow(10**8):08d}"
    call = await place_call(carrier, person.national, caller)
    await call.wait_hung_up(timeout=15)
    observed = await observer.call_from(caller)
    assert media_names(observed.media) == ["not-in-service"]
    assert await voicemail_count(db, person.mailbox_id) == 0


async def test_a_withheld_caller_is_stored_as_withheld(running_app, carrier, observer, enrol, db):
    person = enrol()
    caller = f"02{secrets.randbelow(10**8):08d}"
    await leave_message(carrier, observer, person.national, caller, withheld=True)
    messages = await wait_for_messages(db, person.mailbox_id, 1)
    assert messages[0].caller_number is None


async def test_hanging_up_during_the_greeting_stores_nothing(running_app, carrier, observer, enrol, db):
    person = enrol()
    caller = f"01{secrets.randbelow(10**8):08d}"
    call = await place_call(carrier, person.national, caller)
    await call.wait_answered()
    observed = await observer.call_from(caller)
    while not observed.media:
        await asyncio.sleep(0.02)
    await call.hangup()
    await running_app.wait_call_done(observed.channel_id)
    assert observed.recordings == []
    assert await voicemail_count(db, person.mailbox_id) == 0


async def test_a_message_shorter_than_two_seconds_is_dropped(running_app, carrier, observer, enrol, db, sandbox):
    person = enrol()
    caller = f"01{secrets.randbelow(10**8):08d}"
    await leave_message(carrier, observer, person.national, caller, speech="test/speech-1s")
    await running_app.wait_call_done((await observer.call_from(caller)).channel_id)
    assert await voicemail_count(db, person.mailbox_id) == 0
    leftovers = [r["name"] for r in await observer.client.stored_recordings() if caller[1:] in r["name"]]
    assert leftovers == [], "a dropped message must not stay in the spool"


async def test_the_hash_key_ends_the_message_and_the_caller_hears_it_was_saved(running_app, carrier, observer, enrol, db):
    person = enrol()
    caller = f"01{secrets.randbelow(10**8):08d}"
    call = await leave_message(carrier, observer, person.national, caller, end_with_hash=True)
    await call.wait_hung_up(timeout=15)
    messages = await wait_for_messages(db, person.mailbox_id, 1)
    assert abs(messages[0].duration_ms / 1000 - SPEECH_SECONDS) <= 1.0
    observed = await observer.call_from(caller)
    assert media_names(observed.media)[-1] == "message-saved"


async def test_a_full_mailbox_says_so_and_records_nothing(running_app, carrier, observer, enrol, db, fill_mailbox):
    person = enrol()
    fill_mailbox(person, 50)
    caller = f"01{secrets.randbelow(10**8):08d}"
    call = await place_call(carrier, person.national, caller)
    await call.wait_hung_up(timeout=15)
    observed = await observer.call_from(caller)
    assert media_names(observed.media) == ["mailbox-full"]
    assert observed.recordings == []
    assert await voicemail_count(db, person.mailbox_id) == 50


async def test_twenty_simultaneous_callers_leave_twenty_messages(running_app, carrier, observer, enrol, db, sandbox):
    person = enrol()
    callers = [f"01{secrets.randbelow(10**8):08d}" for _ in range(20)]
    calls = await asyncio.gather(*(leave_message(carrier, observer, person.national, c) for c in callers))
    messages = await wait_for_messages(db, person.mailbox_id, 20, timeout=30)
    assert sorted(m.caller_number for m in messages) == sorted("+33" + c[1:] for c in callers)
    for message in messages:
        assert abs(message.duration_ms / 1000 - SPEECH_SECONDS) <= 1.0
    await asyncio.gather(*(c.wait_hung_up(timeout=15) for c in calls))
    for caller in callers:
        await running_app.wait_call_done((await observer.call_from(caller)).channel_id)
    for side in (carrier, observer.client):
        assert await side_channels(side) == []
    assert await observer.client.list_bridges() == []


async def voicemail_count(db, mailbox_id: int) -> int:
    db.expire_all()
    return voicemail.count_kept_messages(db, mailbox_id)


async def side_channels(side) -> list[str]:
    if hasattr(side, "list_channels"):
        return [c["id"] for c in await side.list_channels()]
    return [c["id"] for c in await side.get("/channels")]
