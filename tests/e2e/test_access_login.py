"""Logging in to one's voicemail: the access number, * in one's own greeting, and the PIN lockout.

Real calls from the carrier simulator, real DTMF (RFC 4733), our real application on the pbx.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from reconnect_pbx.models import AuditEvent, Credential
from reconnect_pbx.pin_policy import generate_pin

import access_helpers
from access_helpers import (
    MAIN_MENU,
    TYPED,
    credential,
    dial,
    dial_access,
    log_in,
    star_in_greeting,
    wrong_pin,
)
from deposit_helpers import media_names

# Fixtures shared by the access tests.
person = access_helpers.person
no_pin_in_log = access_helpers.no_pin_in_log

pytestmark = pytest.mark.usefixtures("no_pin_in_log")


def digits_of(number: str) -> list[str]:
    return [f"digit-{d}" for d in number]


def lock_events(session_factory, person) -> list[str]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.beneficiary_id == person.id, AuditEvent.action.in_(["pin.locked", "pin.suspended"]))
                .order_by(AuditEvent.id)
            )
        )


async def test_the_access_number_asks_for_the_number_then_the_pin_even_from_the_persons_own_phone(
    running_app, carrier, observer, person
):
    call = await dial_access(carrier, observer, caller=person.national)
    assert await call.until("enter-personal-number") == ["enter-personal-number"]
    await call.press(person.national + "#")
    assert await call.until("enter-pin") == ["enter-pin"]
    await call.press(person.pin + "#")
    assert await call.until(MAIN_MENU[-1]) == ["no-messages", *MAIN_MENU]
    await call.press("#")
    assert await call.until("confirm-quit") == ["confirm-quit"]
    await call.press("#")
    assert await call.until("goodbye") == ["goodbye"]
    await call.wait_ended()


async def test_star_during_ones_own_greeting_asks_only_for_the_pin_even_from_ones_own_number(
    running_app, carrier, observer, person
):
    call = await dial(carrier, observer, person.national, caller=person.national)
    assert await call.until("greeting-default-intro") == ["greeting-default-intro"]
    await call.press("*")
    await call.until("enter-pin")
    await call.press(person.pin + "#")
    assert await call.until(MAIN_MENU[-1]) == ["no-messages", *MAIN_MENU]
    assert "enter-personal-number" not in call.names
    assert call.observed.recordings == []
    await call.hang_up()


async def test_three_wrong_pins_in_one_call_say_goodbye(running_app, carrier, observer, person, session_factory):
    call = await dial_access(carrier, observer)
    for _ in range(3):
        await call.until("enter-personal-number")
        await call.press(person.national + "#")
        await call.until("enter-pin")
        await call.press(wrong_pin(person.pin) + "#")
        await call.until("login-incorrect")
    assert await call.until("goodbye") == ["goodbye"]
    await call.wait_ended()
    assert media_names(call.observed.media) == [
        *["enter-personal-number", "enter-pin", "login-incorrect"] * 3,
        "goodbye",
    ]
    assert credential(session_factory, person).failed_attempts == 3


async def test_an_unknown_number_and_a_wrong_pin_sound_the_same(running_app, carrier, observer, person, number_block):
    unknown = "0" + (number_block() + "07")[3:]
    heard = []
    for typed, pin in ((unknown, person.pin), (person.national, wrong_pin(person.pin))):
        call = await dial_access(carrier, observer)
        for _ in range(3):
            await call.until("enter-personal-number")
            await call.press(typed + "#")
            await call.until("enter-pin")
            await call.press(pin + "#")
        await call.until("goodbye")
        await call.wait_ended()
        heard.append(call.observed.media)
    assert heard[0] == heard[1]


async def test_failures_add_up_across_calls_and_lock_the_mailbox_even_for_the_right_pin(
    running_app, carrier, observer, person, session_factory
):
    # Call 1 (one caller ID): three wrong PINs.
    call = await star_in_greeting(carrier, observer, person)
    for _ in range(3):
        await call.until("enter-pin")
        await call.press(wrong_pin(person.pin) + "#")
    await call.until("goodbye")
    await call.wait_ended()
    # Call 2 (another caller ID): the fifth consecutive failure locks the mailbox for a minute.
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(wrong_pin(person.pin) + "#")
    await call.until("enter-pin")
    await call.press(wrong_pin(person.pin) + "#")
    assert await call.until("goodbye") == ["login-incorrect", "login-locked", "goodbye"]
    await call.wait_ended()
    locked = credential(session_factory, person)
    assert locked.failed_attempts == 5
    assert timedelta(seconds=50) < locked.locked_until - datetime.now(UTC) <= timedelta(minutes=1)
    assert lock_events(session_factory, person) == ["pin.locked"]
    # Call 3: the right PIN is refused while locked, and nothing is counted.
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(person.pin + "#")
    assert await call.until("goodbye") == ["login-locked", "goodbye"]
    await call.wait_ended()
    assert credential(session_factory, person).failed_attempts == 5
    # The minute is over (moved back rather than waited for): the next failure locks for two.
    with session_factory() as session, session.begin():
        session.execute(
            update(Credential)
            .where(Credential.beneficiary_id == person.id)
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(wrong_pin(person.pin) + "#")
    assert await call.until("goodbye") == ["login-incorrect", "login-locked", "goodbye"]
    await call.wait_ended()
    locked = credential(session_factory, person)
    assert locked.failed_attempts == 6
    assert timedelta(minutes=1, seconds=50) < locked.locked_until - datetime.now(UTC) <= timedelta(minutes=2)
    assert lock_events(session_factory, person) == ["pin.locked", "pin.locked"]
    log = running_app.log_text()
    assert f"mailbox {person.mailbox_id} locked for 1 min after 5 consecutive PIN failures" in log
    assert f"mailbox {person.mailbox_id} locked for 2 min after 6 consecutive PIN failures" in log


async def test_a_hundred_failures_suspend_the_pin_login_until_staff_run_pin_reset(
    running_app, carrier, observer, person, session_factory, cli_runner
):
    with session_factory() as session, session.begin():
        session.execute(update(Credential).where(Credential.beneficiary_id == person.id).values(failed_attempts=99))
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(wrong_pin(person.pin) + "#")
    assert await call.until("goodbye") == ["login-incorrect", "login-suspended", "goodbye"]
    await call.wait_ended()
    assert credential(session_factory, person).login_suspended
    assert lock_events(session_factory, person) == ["pin.suspended"]
    assert f"mailbox {person.mailbox_id}: PIN login suspended after 100 consecutive failures" in running_app.log_text()
    # The right PIN, a day later for all it matters: still suspended.
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(person.pin + "#")
    assert await call.until("goodbye") == ["login-suspended", "goodbye"]
    await call.wait_ended()

    reset = cli_runner("pin", "reset", str(person.id), "--json")
    assert reset.exit_code == 0, reset.output
    new_pin = json.loads(reset.stdout)["pin"]
    TYPED.add(new_pin)
    own_pin = generate_pin(6, own_number=person.number)
    TYPED.add(own_pin)
    call = await dial_access(carrier, observer)
    await call.until("enter-personal-number")
    await call.press(person.national + "#")
    await call.until("enter-pin")
    await call.press(new_pin + "#")
    # The PIN staff gave must be changed before the menu.
    assert await call.until("enter-new-pin") == ["pin-change-required", "enter-new-pin"]
    await call.press(own_pin + "#")
    await call.until("reenter-new-pin")
    await call.press(own_pin + "#")
    assert await call.until(MAIN_MENU[-1]) == ["pin-changed", "no-messages", *MAIN_MENU]
    await call.hang_up()
    after = credential(session_factory, person)
    assert (after.failed_attempts, after.login_suspended) == (0, False)


@pytest.fixture
def last_eight_digits(running_app):
    """The app asking for the last 8 digits of the personal number (restored afterwards)."""
    with running_app.reconfigured(access_personal_number_digits="8") as app:
        yield app


async def test_the_last_digits_of_the_number_are_enough_when_the_service_says_so(
    last_eight_digits, carrier, observer, person
):
    call = await dial_access(carrier, observer)
    assert await call.until("enter-personal-number-end") == ["enter-personal-number-end"]
    await call.press(person.national[-8:])  # no # needed: the eighth digit ends it
    await call.until("enter-pin")
    await call.press(person.pin + "#")
    assert await call.until(MAIN_MENU[-1]) == ["no-messages", *MAIN_MENU]
    await call.hang_up()
