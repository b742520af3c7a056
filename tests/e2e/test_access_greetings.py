"""The first login, and greetings: what the person records is what the next caller hears."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from reconnect_pbx.models import Greeting, GreetingKind, Mailbox
from reconnect_pbx.pin_policy import generate_pin
from reconnect_pbx.services import access
from reconnect_pbx.services.credentials import verify_pin
from reconnect_pbx.storage import PostgresAudioStore

import access_helpers
from access_helpers import (
    MAIN_MENU,
    TYPED,
    credential,
    dial,
    log_in,
    star_in_greeting,
    tone_wav,
)

# Fixtures shared by the access tests.
person = access_helpers.person
no_pin_in_log = access_helpers.no_pin_in_log

pytestmark = pytest.mark.usefixtures("no_pin_in_log")

DEFAULT_GREETING_WITH_NAME = ["greeting-default-intro", "audio", "greeting-default-leave", "beep"]


def greetings(session_factory, person) -> dict[GreetingKind, int]:
    with session_factory() as session:
        return dict(session.execute(select(Greeting.kind, Greeting.audio_id).where(Greeting.mailbox_id == person.mailbox_id)).all())


def onboarded(session_factory, person) -> bool:
    with session_factory() as session:
        return session.scalar(select(Mailbox.onboarded).where(Mailbox.id == person.mailbox_id))


async def spool_of(observer, person) -> list[str]:
    """Recordings of the person's greetings or name left in Asterisk's spool."""
    prefixes = tuple(f"access-{kind.value}-{person.mailbox_id}-" for kind in GreetingKind)
    return [r["name"] for r in await observer.client.stored_recordings() if r["name"].startswith(prefixes)]


async def what_a_caller_hears(carrier, observer, person) -> list[str]:
    """A new caller's call to the person's number, up to the tone."""
    call = await dial(carrier, observer, person.national)
    heard = await call.until("beep")
    await call.hang_up()
    return heard


async def test_the_first_login_records_the_name_requires_a_new_pin_then_opens_the_menu(
    running_app, carrier, observer, enrol, session_factory
):
    person = enrol()
    new_pin = generate_pin(6, own_number=person.number)
    TYPED.update({person.pin, new_pin})
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(person.pin + "#")
    assert await call.until("beep") == ["first-login-welcome", "record-your-name", "beep"]
    await call.speak(2.0)
    assert await call.until("enter-new-pin") == ["name-recorded", "pin-change-required", "enter-new-pin"]
    await call.press(new_pin + "#")
    await call.until("reenter-new-pin")
    await call.press(new_pin + "#")
    assert await call.until(MAIN_MENU[-1]) == ["pin-changed", "no-messages", *MAIN_MENU]
    await call.hang_up()

    assert onboarded(session_factory, person)
    assert GreetingKind.NAME in greetings(session_factory, person)
    assert verify_pin(credential(session_factory, person).pin_hash, new_pin)
    assert await what_a_caller_hears(carrier, observer, person) == DEFAULT_GREETING_WITH_NAME


async def first_login_up_to_the_name(carrier, observer, person):  # type: ignore[no-untyped-def]
    """'*' in the greeting, the PIN staff gave, then the beep that records the person's name."""
    TYPED.add(person.pin)
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(person.pin + "#")
    await call.until("beep")
    return call


async def test_hanging_up_during_the_first_login_leaves_it_to_do_at_the_next_one(
    running_app, carrier, observer, enrol, session_factory
):
    person = enrol()
    call = await first_login_up_to_the_name(carrier, observer, person)
    async with asyncio.timeout(10):
        while not call.observed.recordings:
            await asyncio.sleep(0.02)
    await call.hang_up()
    await running_app.wait_call_done(call.observed.channel_id)
    assert not onboarded(session_factory, person)
    assert greetings(session_factory, person) == {}
    assert await spool_of(observer, person) == []

    again = await star_in_greeting(carrier, observer, person)
    await again.until("enter-pin")
    await again.press(person.pin + "#")
    assert await again.until("record-your-name") == ["first-login-welcome", "record-your-name"]
    await again.hang_up()


async def test_the_first_login_does_not_open_the_menu_with_the_pin_staff_gave(
    running_app, carrier, observer, enrol, session_factory
):
    person = enrol()
    call = await first_login_up_to_the_name(carrier, observer, person)
    await call.speak(2.0)
    assert await call.until("enter-new-pin") == ["name-recorded", "pin-change-required", "enter-new-pin"]
    await call.press("*")
    assert await call.until("goodbye") == ["entry-cancelled", "goodbye"]
    await call.wait_ended()
    assert "main-menu" not in call.names
    assert not onboarded(session_factory, person)
    assert credential(session_factory, person).pin_must_change


async def test_a_personal_greeting_recorded_in_menu_3_is_what_the_next_caller_hears(
    running_app, carrier, observer, person, session_factory
):
    call = await log_in(carrier, observer, person)
    await call.press("3")
    await call.until("greetings-menu")
    await call.press("2")
    assert await call.until("greetings-menu") == ["no-personal-greeting", "greetings-menu"]
    await call.press("1")
    assert await call.until("beep") == ["record-after-tone", "beep"]
    await call.speak(2.0)
    assert await call.until("greetings-menu") == ["greeting-recorded", "greetings-menu"]
    await call.press("2")
    assert await call.until("greetings-menu") == ["audio", "greetings-menu"]
    await call.press("*")
    assert await call.until("greetings-menu") == ["greetings-help", "help", "greetings-menu"]
    await call.press("9")
    assert await call.until("greetings-menu") == ["invalid-key", "greetings-menu"]
    await call.press("0")
    assert await call.until(MAIN_MENU[-1]) == MAIN_MENU
    await call.hang_up()

    assert GreetingKind.PERSONAL in greetings(session_factory, person)
    assert await what_a_caller_hears(carrier, observer, person) == ["audio", "beep"]


async def test_deleting_the_personal_greeting_brings_back_the_standard_one(
    running_app, carrier, observer, person, session_factory
):
    with session_factory() as session, session.begin():
        access.save_greeting(session, PostgresAudioStore(), person.mailbox_id, GreetingKind.PERSONAL, tone_wav(2))
    assert await what_a_caller_hears(carrier, observer, person) == ["audio", "beep"]
    call = await log_in(carrier, observer, person)
    await call.press("3")
    await call.until("greetings-menu")
    await call.press("3")
    assert await call.until("greetings-menu") == ["greeting-deleted", "greetings-menu"]
    await call.hang_up()
    assert greetings(session_factory, person) == {}
    heard = await what_a_caller_hears(carrier, observer, person)
    assert heard[0] == "greeting-default-intro" and "audio" not in heard


async def test_the_name_recorded_again_in_menu_3_replaces_the_old_one_in_the_standard_greeting(
    running_app, carrier, observer, person, session_factory
):
    with session_factory() as session, session.begin():
        old = access.save_greeting(session, PostgresAudioStore(), person.mailbox_id, GreetingKind.NAME, tone_wav(1.5))
    call = await log_in(carrier, observer, person)
    await call.press("3")
    await call.until("greetings-menu")
    await call.press("4")
    assert await call.until("beep") == ["record-your-name", "beep"]
    await call.speak(2.0)
    assert await call.until("greetings-menu") == ["name-recorded", "greetings-menu"]
    await call.hang_up()
    new = greetings(session_factory, person)[GreetingKind.NAME]
    assert new != old
    assert await what_a_caller_hears(carrier, observer, person) == DEFAULT_GREETING_WITH_NAME


async def test_hanging_up_while_recording_a_greeting_keeps_the_old_one(
    running_app, carrier, observer, person, session_factory
):
    with session_factory() as session, session.begin():
        old = access.save_greeting(session, PostgresAudioStore(), person.mailbox_id, GreetingKind.PERSONAL, tone_wav(2))
    call = await log_in(carrier, observer, person)
    await call.press("3")
    await call.until("greetings-menu")
    await call.press("1")
    await call.until("beep")
    async with asyncio.timeout(10):
        while not call.observed.recordings:
            await asyncio.sleep(0.02)
    await call.call.play("sound:test/speech-4s")
    await asyncio.sleep(1.5)  # the caller speaks a while (this is not a wait for the application)
    await call.hang_up()
    await running_app.wait_call_done(call.observed.channel_id)
    assert greetings(session_factory, person) == {GreetingKind.PERSONAL: old}
    assert await spool_of(observer, person) == []
