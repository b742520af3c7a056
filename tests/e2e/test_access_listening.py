"""Listening to one's messages: straight after the login, order, envelopes, and every key during and
after a message."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from reconnect_pbx.models import AudioBlob, MessageState

import access_helpers
from access_helpers import (
    LAST_MESSAGE_MENU,
    MAIN_MENU,
    MESSAGE_MENU,
    log_in,
    messages,
    onboard,
    store,
)

# Fixtures shared by the access tests.
person = access_helpers.person
no_pin_in_log = access_helpers.no_pin_in_log

pytestmark = pytest.mark.usefixtures("no_pin_in_log")

# Tuesday 26 November 2024, 13:05 UTC: 14:05 in Paris (winter time).
TUESDAY = datetime(2024, 11, 26, 13, 5, tzinfo=UTC)
CALLER_DIGITS = ["digit-0", "digit-1", "digit-4", "digit-2", "digit-6", "digit-8", "digit-5", "digit-3", "digit-0", "digit-0"]

ENVELOPES = {
    "fr": {
        1: ["message", "number-1", "received", "day-tuesday", "number-26", "month-november", "at",
            "number-14", "hours", "number-5", "from", *CALLER_DIGITS],
        2: ["message", "number-2", "received", "day-tuesday", "number-26", "month-november", "at",
            "number-15", "hours", "number-30", "unknown-caller"],
        3: ["message", "number-3", "received", "day-tuesday", "number-26", "month-november", "at",
            "number-9", "hours", "from", *CALLER_DIGITS],
    },
    "en": {
        1: ["message", "number-1", "received", "day-tuesday", "month-november", "ordinal-26", "at",
            "number-2", "time-oh", "number-5", "time-pm", "from", *CALLER_DIGITS],
        2: ["message", "number-2", "received", "day-tuesday", "month-november", "ordinal-26", "at",
            "number-3", "number-30", "time-pm", "unknown-caller"],
        3: ["message", "number-3", "received", "day-tuesday", "month-november", "ordinal-26", "at",
            "number-9", "time-oclock", "time-am", "from", *CALLER_DIGITS],
    },
}  # fmt: skip
# Straight after the login: no message number (the full envelope above is on key 5).
SHORT_ENVELOPES = {language: {n: names[2:] for n, names in envelopes.items()} for language, envelopes in ENVELOPES.items()}
COUNTS = {
    (2, 1): ["you-have", "number-2", "new-messages", "and", "number-1", "saved-message"],
    (1, 1): ["you-have", "number-1", "new-message", "and", "number-1", "saved-message"],
    (0, 1): ["you-have", "number-0", "new-message", "and", "number-1", "saved-message"],
    (1, 0): ["you-have", "number-1", "new-message", "and", "number-0", "saved-messages"],
}
# Straight after the login the new messages alone, which the short envelope continues: "deux
# nouveaux messages, reçu mardi ..."; the saved ones are said with the menu.
NEW_COUNTS = {2: ["number-2", "new-messages"], 1: ["number-1", "new-message"]}


def state_of(session_factory, person, message_id):
    return {m.id: m for m in messages(session_factory, person)}[message_id]


async def wait_state(session_factory, person, message_id, state, timeout=10):
    async with asyncio.timeout(timeout):
        while (message := state_of(session_factory, person, message_id)).state != state:
            await asyncio.sleep(0.1)
    return message


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_new_messages_come_first_then_saved_ones_oldest_first_each_after_its_envelope(
    running_app, carrier, observer, enrol, session_factory, language
):
    person = enrol(language)
    onboard(session_factory, person)
    # Stored out of order: a saved one first (08:00 UTC = 09:00 Paris), then two new ones.
    saved = store(session_factory, person, received_at=TUESDAY.replace(hour=8, minute=0), state=MessageState.SAVED)
    later = store(session_factory, person, received_at=TUESDAY.replace(hour=14, minute=30), caller=None)
    first = store(session_factory, person, received_at=TUESDAY)
    call = await log_in(carrier, observer, person, until="audio")
    assert call.names[call.names.index("enter-pin") + 1:] == [*NEW_COUNTS[2], *SHORT_ENVELOPES[language][1], "audio"]
    assert set(call.languages()[1:]) == {language}
    await call.press("0")
    assert await call.until(MAIN_MENU[-1]) == [*COUNTS[2, 1], *MAIN_MENU]

    await call.press("1")
    assert await call.until("audio") == [*ENVELOPES[language][1], "audio"]
    await call.press("6")
    assert await call.until("audio") == [*ENVELOPES[language][2], "audio"]
    await call.press("6")
    assert await call.until("audio") == [*ENVELOPES[language][3], "audio"]
    await call.press("6")
    assert await call.until(MAIN_MENU[-1]) == ["no-more-messages", *COUNTS[2, 1], *MAIN_MENU]
    await call.hang_up()
    # Skipped with 6 before their end: still new.
    states = {m.id: m.state for m in messages(session_factory, person)}
    assert states == {first: MessageState.NEW, later: MessageState.NEW, saved: MessageState.SAVED}


async def test_after_the_login_the_new_messages_play_at_once_each_after_a_short_envelope_then_the_menu(
    running_app, carrier, observer, person, session_factory
):
    saved = store(session_factory, person, received_at=TUESDAY.replace(hour=8, minute=0), state=MessageState.SAVED)
    later = store(session_factory, person, received_at=TUESDAY.replace(hour=14, minute=30), caller=None)
    first = store(session_factory, person, received_at=TUESDAY)
    call = await log_in(carrier, observer, person)
    assert call.names[call.names.index("enter-pin") + 1:] == [
        *NEW_COUNTS[2], *SHORT_ENVELOPES["fr"][1], "audio", *SHORT_ENVELOPES["fr"][2], "audio", *MAIN_MENU
    ]
    # Heard to the end: saved; the saved one was not played.
    await wait_state(session_factory, person, first, MessageState.SAVED)
    await wait_state(session_factory, person, later, MessageState.SAVED)
    assert "number-9" not in call.names  # the saved message, of 09:00 in Paris
    assert state_of(session_factory, person, saved).heard_at is None
    await call.hang_up()


async def test_a_message_heard_to_the_end_becomes_saved(running_app, carrier, observer, person, session_factory):
    message_id = store(session_factory, person, seconds=1.0)
    call = await log_in(carrier, observer, person)
    message = await wait_state(session_factory, person, message_id, MessageState.SAVED)
    assert message.heard_at is not None
    await call.press("1")
    await call.until("audio")
    # The only message is the last one: the menu says so.
    assert await call.until(LAST_MESSAGE_MENU[-1]) == LAST_MESSAGE_MENU
    await call.press("0")
    assert await call.until(MAIN_MENU[-1]) == [*COUNTS[0, 1], *MAIN_MENU]
    await call.hang_up()


async def test_3_deletes_3_again_restores_and_the_audio_is_erased_when_the_call_ends(
    running_app, carrier, observer, person, session_factory, db
):
    message_id = store(session_factory, person, seconds=5.0)
    call = await log_in(carrier, observer, person, until="audio")
    await call.press("3")
    # Deleted: the menu offers to get it back with the same key.
    assert await call.until(LAST_MESSAGE_MENU[-1]) == ["message-deleted", "message-menu-deleted", "message-menu-last"]
    deleted = state_of(session_factory, person, message_id)
    assert deleted.state == MessageState.DELETED and deleted.deleted_at is not None and deleted.audio_id is not None
    await call.press("3")
    assert await call.until(LAST_MESSAGE_MENU[-1]) == ["message-restored", *LAST_MESSAGE_MENU]
    restored = state_of(session_factory, person, message_id)
    assert (restored.state, restored.deleted_at) == (MessageState.NEW, None)
    await call.press("3")
    await call.until("message-deleted")
    await call.hang_up()

    async with asyncio.timeout(10):
        while state_of(session_factory, person, message_id).audio_id is not None:
            await asyncio.sleep(0.1)
    assert state_of(session_factory, person, message_id).state == MessageState.DELETED
    assert db.scalar(select(AudioBlob.id).where(AudioBlob.id == deleted.audio_id)) is None


async def test_9_saves_6_moves_on_4_goes_back_1_replays_5_says_the_envelope_star_helps_and_0_returns_to_the_menu(
    running_app, carrier, observer, person, session_factory
):
    first = store(session_factory, person, received_at=TUESDAY, seconds=5.0)
    second = store(session_factory, person, received_at=TUESDAY.replace(hour=14, minute=30), caller=None, seconds=5.0)
    call = await log_in(carrier, observer, person, until="audio")
    await call.press("9")
    assert await call.until(MESSAGE_MENU[-1]) == ["message-saved-folder", *MESSAGE_MENU]
    await wait_state(session_factory, person, first, MessageState.SAVED)
    await call.press("6")
    assert await call.until("audio") == [*ENVELOPES["fr"][2], "audio"]
    await call.press("4")
    assert await call.until("audio") == [*ENVELOPES["fr"][1], "audio"]
    await call.press("1")
    assert await call.until("audio") == ["audio"]
    await call.press("4")
    assert await call.until(MESSAGE_MENU[-1]) == ["no-previous-message", *MESSAGE_MENU]
    await call.press("5")
    assert await call.until(MESSAGE_MENU[-1]) == [*ENVELOPES["fr"][1], *MESSAGE_MENU]
    await call.press("7")
    assert await call.until(MESSAGE_MENU[-1]) == ["invalid-key", *MESSAGE_MENU]
    # The help of the first message has no "previous"; the second one's has.
    await call.press("*")
    assert await call.until(MESSAGE_MENU[-1]) == ["message-help", "help", *MESSAGE_MENU]
    await call.press("#")
    assert await call.until("audio") == [*ENVELOPES["fr"][2], "audio"]
    await call.press("5")  # before its end: the second message stays new
    assert await call.until(LAST_MESSAGE_MENU[-1]) == [*ENVELOPES["fr"][2], *LAST_MESSAGE_MENU]
    await call.press("*")
    assert await call.until(LAST_MESSAGE_MENU[-1]) == ["message-help-previous", "message-help", "help", *LAST_MESSAGE_MENU]
    await call.press("0")
    assert await call.until(MAIN_MENU[-1]) == [*COUNTS[1, 1], *MAIN_MENU]
    await call.hang_up()
    assert state_of(session_factory, person, second).state == MessageState.NEW


async def test_hash_skips_five_seconds_forward_in_a_message(running_app, carrier, observer, person, session_factory):
    message_id = store(session_factory, person, seconds=12.0)
    call = await log_in(carrier, observer, person, until="audio")
    await call.press("#")  # 5 s of 12 skipped: whenever it is pressed, it plays 7 s in all
    await call.until(MAIN_MENU[-1], timeout=20)  # the last new message: then the menu
    assert 6 < call.observed.audio_seconds() < 9
    await wait_state(session_factory, person, message_id, MessageState.SAVED)
    await call.hang_up()


async def test_star_goes_five_seconds_back_in_a_message(running_app, carrier, observer, person, session_factory):
    message_id = store(session_factory, person, seconds=5.0)
    call = await log_in(carrier, observer, person, until="audio")
    await asyncio.sleep(2.5)  # the caller listens a while (this is not a wait for the application)
    await call.press("*")  # back to the start: 5 s more after the 2.5 heard
    await call.until(MAIN_MENU[-1], timeout=20)
    assert call.observed.audio_seconds() > 7
    await wait_state(session_factory, person, message_id, MessageState.SAVED)
    await call.hang_up()
