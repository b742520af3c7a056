"""Entries that forgive: the personal number and the PIN end by themselves at their length, a "#"
typed after them anyway is taken as their end (it never cuts the next prompt nor chooses in the
next menu), a pause of several seconds inside an entry is allowed, and a silence that ends the call
says so first.

Real calls from the carrier simulator, real DTMF (RFC 4733), our real application on the pbx.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconnect_pbx.sandbox.instance import SOUNDS_DIR

import access_helpers
from access_helpers import (
    MAIN_HELP,
    MAIN_MENU,
    TYPED,
    credential,
    dial,
    dial_access,
    star_in_greeting,
    wrong_pin,
)
from app_process import ACCESS_NUMBER, AppProcess

# Fixtures shared by the access tests.
person = access_helpers.person
no_pin_in_log = access_helpers.no_pin_in_log

pytestmark = pytest.mark.usefixtures("no_pin_in_log")


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


@pytest.fixture
def app_with_real_prompts(running_app: AppProcess) -> Iterator[AppProcess]:
    """The real prompts (seconds long), so that a cut prompt shows (restored afterwards)."""
    with running_app.reconfigured(voicemail_prompt_set="std") as app:
        yield app


@pytest.fixture
def quick_timeout(running_app: AppProcess) -> Iterator[AppProcess]:
    """The app with a 2 s input timeout instead of 10 s (restored afterwards)."""
    with running_app.reconfigured(voicemail_input_timeout_seconds="2") as app:
        yield app


@pytest.mark.realprompts
async def test_the_pin_prompt_is_heard_whole_after_a_ten_digit_number_followed_by_hash(
    app_with_real_prompts, carrier, observer, person
):
    call = await dial_access(carrier, observer)
    await call.until("enter-personal-number")
    # The tenth digit ends the number; the "#" after it, at a phone's pace, lands in "enter your PIN".
    await call.press(person.national + "#")
    await call.until("enter-pin")
    timeline = call.observed.timeline
    async with asyncio.timeout(15):
        while not any(kind == "dtmf" and what == "#" for kind, what, _ in timeline):
            await asyncio.sleep(0.02)
    (playback_id, started_at), = [
        (pid, at)
        for pid, media in call.observed.playback_media.items()
        for uri, at in media
        if uri.endswith("/enter-pin")
    ]
    async with asyncio.timeout(15):
        while not any(kind == "finished" and what == playback_id for kind, what, _ in timeline):
            await asyncio.sleep(0.02)
    hash_at = next(at for kind, what, at in timeline if kind == "dtmf" and what == "#")
    finished_at = next(at for kind, what, at in timeline if kind == "finished" and what == playback_id)
    # The "#" reached the pbx before the prompt ended, and the prompt still played for as long as
    # its audio lasts: Asterisk plays in real time, so a load can only make it longer.
    assert hash_at < finished_at
    whole = wav_seconds(SOUNDS_DIR / "fr" / "enter-pin.wav")
    assert (finished_at - started_at).total_seconds() >= whole - 0.1
    # The PIN followed by "#": logged in, and the "#" did not say goodbye in the main menu.
    await call.press(person.pin + "#")
    await call.until(MAIN_MENU[-1], timeout=30)
    await call.press("*")
    assert await call.until("help", timeout=30) == ["main-help", "help-phone", "help"]
    assert "confirm-quit" not in call.names
    await call.hang_up()


async def test_the_number_and_the_pin_end_by_themselves_without_hash(running_app, carrier, observer, person):
    call = await dial_access(carrier, observer)
    await call.until("enter-personal-number")
    await call.press(person.national)
    assert await call.until("enter-pin") == ["enter-pin"]
    await call.press(person.pin)
    assert await call.until(MAIN_MENU[-1]) == ["no-messages", *MAIN_MENU]
    await call.hang_up()


async def test_a_hash_after_a_complete_pin_does_not_quit_the_main_menu(running_app, carrier, observer, person):
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(person.pin + "#")
    await call.until(MAIN_MENU[-1])
    await call.press("*")
    assert await call.until(MAIN_MENU[-1]) == MAIN_HELP
    assert "confirm-quit" not in call.names
    await call.hang_up()


async def test_a_pin_typed_with_a_six_second_pause_in_the_middle_is_accepted(
    running_app, carrier, observer, person, session_factory
):
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(person.pin[:3])
    await asyncio.sleep(6)  # the caller looks for the rest of the PIN on the card
    await call.press(person.pin[3:])
    assert await call.until(MAIN_MENU[-1]) == ["no-messages", *MAIN_MENU]
    assert "login-incorrect" not in call.names
    assert credential(session_factory, person).failed_attempts == 0
    await call.hang_up()


async def test_a_wrong_pin_without_hash_is_refused_at_its_length(
    running_app, carrier, observer, person, session_factory
):
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(wrong_pin(person.pin))
    assert await call.until("enter-pin") == ["login-incorrect", "enter-pin"]
    await call.hang_up()
    assert credential(session_factory, person).failed_attempts == 1


async def test_silence_after_the_pin_prompt_says_the_call_ends_and_the_messages_are_kept(
    quick_timeout, carrier, observer, person
):
    call = await star_in_greeting(carrier, observer, person)
    await call.wait_ended(timeout=30)
    assert call.names[-5:] == ["enter-pin", "enter-pin", "enter-pin", "no-input-goodbye", "goodbye"]


async def test_a_caller_whose_phone_sends_its_keys_as_tones_logs_in_at_the_access_number(
    running_app, carrier, observer, person
):
    # No RFC 4733 on this leg: the carrier plays each key as a tone in the audio.
    call = await dial(carrier, observer, ACCESS_NUMBER, endpoint="pbx-inband")
    await call.until("enter-personal-number")
    TYPED.add(person.national)  # watched in the log, as ``press`` does
    await call.call.send_dtmf(person.national, duration_ms=150, between_ms=150)
    assert await call.until("enter-pin") == ["enter-pin"]
    await call.call.send_dtmf(person.pin, duration_ms=150, between_ms=150)
    assert await call.until(MAIN_MENU[-1]) == ["no-messages", *MAIN_MENU]
    await call.hang_up()
