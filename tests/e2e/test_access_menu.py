"""The main menu after login: counts, every key, silence, invalid keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from reconnect_pbx.models import Beneficiary, Language, MessageState
from reconnect_pbx.pin_policy import generate_pin
from reconnect_pbx.services.credentials import verify_pin

import access_helpers
from access_helpers import (
    TYPED,
    credential,
    dial_access,
    log_in,
    store,
)

from deposit_helpers import wait_for_messages
from fault_helpers import call_until_recording, new_caller, speak_then_hang_up

# Fixtures shared by the access tests.
person = access_helpers.person
no_pin_in_log = access_helpers.no_pin_in_log

pytestmark = pytest.mark.usefixtures("no_pin_in_log")


@pytest.fixture
def quick_timeout(running_app):
    """The app with a 2 s input timeout instead of 10 s (restored afterwards)."""
    with running_app.reconfigured(voicemail_input_timeout_seconds="2") as app:
        yield app


async def test_the_menu_says_the_counts_then_star_helps_an_invalid_key_says_so_and_hash_twice_says_goodbye(
    running_app, carrier, observer, person, session_factory
):
    for _ in range(2):
        store(session_factory, person)
    store(session_factory, person, state=MessageState.SAVED)
    call = await log_in(carrier, observer, person, until="audio")
    after_pin = call.names[call.names.index("enter-pin") + 1:]
    assert after_pin[:7] == ["you-have", "number-2", "new-messages", "and", "number-1", "saved-message", "received"]
    assert after_pin[-1] == "audio"
    await call.press("0")
    assert await call.until("main-menu") == [
        "you-have", "number-2", "new-messages", "and", "number-1", "saved-message", "main-menu"
    ]
    await call.press("*")
    assert await call.until("main-menu") == ["help", "help-phone", "main-menu"]
    await call.press("7")
    assert await call.until("main-menu") == ["invalid-key", "main-menu"]
    await call.press("#")
    assert await call.until("confirm-quit") == ["confirm-quit"]
    await call.press("1")  # not a second "#": back to the menu
    assert await call.until("main-menu") == ["main-menu"]
    await call.press("#")
    await call.until("confirm-quit")
    await call.press("#")
    assert await call.until("goodbye") == ["goodbye"]
    await call.wait_ended()


async def test_silence_repeats_the_menu_twice_then_says_the_call_ends_and_the_messages_are_kept(
    quick_timeout, carrier, observer, person
):
    call = await log_in(carrier, observer, person)
    await call.wait_ended(timeout=20)
    assert call.names[-6:] == ["no-messages", "main-menu", "main-menu", "main-menu", "no-input-goodbye", "goodbye"]


async def test_silence_at_the_access_number_repeats_the_question_twice_then_says_the_call_ends(
    quick_timeout, carrier, observer
):
    call = await dial_access(carrier, observer)
    await call.wait_ended(timeout=20)
    assert call.names == ["enter-personal-number"] * 3 + ["no-input-goodbye", "goodbye"]


async def test_2_calls_the_typed_number_and_star_cancels_it(running_app, carrier, observer, person):
    call = await log_in(carrier, observer, person)
    await call.press("2")
    await call.until("enter-number-to-call")
    await call.press("014*")
    assert await call.until("main-menu") == ["entry-cancelled", "main-menu"]

    since = carrier.mark()
    await call.press("2")
    await call.until("enter-number-to-call")
    await call.press("0142685300#")
    start = await carrier.wait_event(
        "StasisStart",
        lambda e: e.get("args", [])[:1] == ["from-pbx"] and e["channel"]["caller"]["number"] == person.number,
        since=since,
        timeout=15,
    )
    assert start["args"][1] == "+33142685300"
    await carrier.http.delete(f"/channels/{start['channel']['id']}", params={"reason": "busy"})
    played = await call.until("main-menu")
    assert played[0] == "calling" and played[-1] == "main-menu"
    await call.hang_up()


async def test_4_refuses_a_weak_pin_with_its_reason_and_then_takes_a_good_one(
    running_app, carrier, observer, person, session_factory
):
    new_pin = generate_pin(6, own_number=person.number)
    other = generate_pin(6, own_number=person.number)
    TYPED.update({new_pin, other})
    call = await log_in(carrier, observer, person)
    await call.press("4")
    await call.until("enter-new-pin")
    await call.press("123456#")
    assert await call.until("enter-new-pin") == ["pin-weak-sequence", "enter-new-pin"]
    await call.press(new_pin + "#")
    await call.until("reenter-new-pin")
    await call.press(other + "#")
    assert await call.until("enter-new-pin") == ["pins-dont-match", "enter-new-pin"]
    await call.press(new_pin + "#")
    await call.until("reenter-new-pin")
    await call.press(new_pin + "#")
    assert await call.until("main-menu") == ["pin-changed", "main-menu"]
    await call.hang_up()
    assert verify_pin(credential(session_factory, person).pin_hash, new_pin)

    again = await log_in(carrier, observer, person, pin=new_pin, via="access")
    assert again.names[-1] == "main-menu"
    await again.hang_up()


async def test_a_pin_of_the_wrong_length_is_refused_with_the_length_to_use(running_app, carrier, observer, person):
    call = await log_in(carrier, observer, person)
    await call.press("4")
    await call.until("enter-new-pin")
    await call.press("3861#")
    assert await call.until("enter-new-pin") == ["pin-weak-length", "pin-must-have", "number-6", "pin-digits", "enter-new-pin"]
    await call.press("*")
    assert await call.until("main-menu") == ["main-menu"]
    await call.hang_up()


async def test_5_switches_to_english_and_the_next_call_stays_in_english(
    running_app, carrier, observer, person, session_factory
):
    call = await log_in(carrier, observer, person)
    await call.press("5")
    assert await call.until("main-menu") == ["language-changed", "main-menu"]
    assert call.languages()[-2:] == ["en", "en"]
    await call.hang_up()
    with session_factory() as session:
        assert session.scalar(select(Beneficiary.language).where(Beneficiary.id == person.id)) == Language.EN

    again = await log_in(carrier, observer, person)
    assert set(again.languages()[-3:]) == {"en"}  # enter-pin, no-messages, main-menu
    await again.press("5")
    assert await again.until("main-menu") == ["language-changed", "main-menu"]
    assert again.languages()[-2:] == ["fr", "fr"]
    await again.hang_up()


async def test_simultaneous_callers_overfill_a_box_nothing_is_lost_and_the_person_hears_it_is_full(
    running_app, speech_sounds, carrier, observer, person, session_factory, db, fill_mailbox
):
    # Capacity 50 (the default) is checked when a call starts: two callers who both passed the check
    # leave their messages, the box holds 51, and the person is told it is full at login.
    fill_mailbox(person, 49)
    callers = [new_caller("01"), new_caller("01")]
    calls = [await call_until_recording(carrier, observer, person.national, caller) for caller in callers]
    for call, _ in calls:
        await speak_then_hang_up(call)
    stored = await wait_for_messages(db, person.mailbox_id, 51, timeout=20)
    assert {m.caller_number for m in stored[49:]} == {"+33" + c[1:] for c in callers}

    # Said with the counts, before the first new message plays.
    call = await log_in(carrier, observer, person, via="access", until="mailbox-full-owner")
    assert call.names[-2] in ("saved-message", "saved-messages")  # the end of the counts
    await call.until("audio")
    await call.hang_up()


async def test_a_box_under_its_capacity_says_nothing_of_it(running_app, carrier, observer, person, session_factory):
    store(session_factory, person)
    call = await log_in(carrier, observer, person)
    assert "mailbox-full-owner" not in call.names
    await call.hang_up()
