"""A caller may hang up at any moment: what they did so far is kept, nothing half-done is.

(Hang-ups while recording a name or greeting, and after deleting a message, are in
test_access_greetings.py and test_access_listening.py.)
"""

from __future__ import annotations


import pytest

from reconnect_pbx.models import MessageState
from reconnect_pbx.pin_policy import generate_pin
from reconnect_pbx.services.credentials import verify_pin

import access_helpers
from access_helpers import (
    MAIN_MENU,
    TYPED,
    credential,
    dial_access,
    log_in,
    messages,
    star_in_greeting,
    store,
    wrong_pin,
)

# Fixtures shared by the access tests.
person = access_helpers.person
no_pin_in_log = access_helpers.no_pin_in_log

pytestmark = pytest.mark.usefixtures("no_pin_in_log")


async def typing_the_personal_number(carrier, observer, person):
    call = await dial_access(carrier, observer)
    await call.until("enter-personal-number")
    await call.press(person.national[:4])
    return call


async def typing_the_pin(carrier, observer, person):
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(person.pin[:3])
    return call


async def after_a_wrong_pin(carrier, observer, person):
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(wrong_pin(person.pin) + "#")
    await call.until("login-incorrect")
    return call


async def in_the_main_menu(carrier, observer, person):
    # The new message plays straight after the login: 0 leaves it for the menu, still new.
    call = await log_in(carrier, observer, person, until="received")
    await call.press("0")
    await call.until(MAIN_MENU[-1])
    return call


async def typing_the_new_pin_the_second_time(carrier, observer, person):
    new_pin = generate_pin(6, own_number=person.number)
    TYPED.add(new_pin)
    call = await in_the_main_menu(carrier, observer, person)
    await call.press("4")
    await call.until("enter-new-pin")
    await call.press(new_pin + "#")
    await call.until("reenter-new-pin")
    await call.press(new_pin[:2])
    return call


async def during_an_envelope(carrier, observer, person):
    return await log_in(carrier, observer, person, until="received")


async def during_a_message(carrier, observer, person):
    return await log_in(carrier, observer, person, until="audio")


@pytest.mark.parametrize(
    "stage, failures",
    [
        (typing_the_personal_number, 0),
        (typing_the_pin, 0),
        (after_a_wrong_pin, 1),
        (in_the_main_menu, 0),
        (typing_the_new_pin_the_second_time, 0),
        (during_an_envelope, 0),
        (during_a_message, 0),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
async def test_hanging_up_leaves_consistent_data(
    running_app, carrier, observer, person, session_factory, stage, failures
):
    message_id = store(session_factory, person, seconds=5.0)
    call = await stage(carrier, observer, person)
    await call.hang_up()
    await running_app.wait_call_done(call.observed.channel_id)

    after = credential(session_factory, person)
    assert after.failed_attempts == failures
    assert after.locked_until is None
    assert verify_pin(after.pin_hash, person.pin), "the PIN changes only once typed twice"
    [message] = messages(session_factory, person)
    assert (message.id, message.state, message.heard_at, message.audio_id is not None) == (
        message_id, MessageState.NEW, None, True
    )
    log = running_app.log_text()
    assert f"channel {call.observed.channel_id}: caller hung up" in log
    assert not [line for line in log.splitlines() if call.observed.channel_id in line and " ERROR " in line]
    assert call.observed.channel_id not in [c["id"] for c in await observer.client.list_channels()]
