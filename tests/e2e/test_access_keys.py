"""One key map for the whole service, as the help says it and the leaflet prints it: ``0`` the main
menu, ``*`` back, repeat or cancel, ``#`` confirm, skip or forward. One real call per row."""

from __future__ import annotations

import pytest

from reconnect_pbx.models import MessageState

import access_helpers
from access_helpers import log_in, store

# Fixtures shared by the access tests.
person = access_helpers.person
no_pin_in_log = access_helpers.no_pin_in_log

pytestmark = pytest.mark.usefixtures("no_pin_in_log")

# The counts said with the main menu when the mailbox holds one saved message.
ONE_SAVED = ["you-have", "number-0", "new-message", "and", "number-1", "saved-message"]


async def in_the_main_menu(call):
    pass


async def in_the_greetings_menu(call):
    await call.press("3")
    await call.until("greetings-menu")


async def in_the_message_menu(call):
    await call.press("1")
    await call.until("audio")
    await call.until("message-menu")


async def typing_a_number_to_call(call):
    await call.press("2")
    await call.until("enter-number-to-call")
    await call.press("01")


KEY_MAP = [
    (in_the_main_menu, "0", ["main-menu"]),
    (in_the_main_menu, "*", ["help", "help-phone", "main-menu"]),
    (in_the_main_menu, "#", ["confirm-quit"]),
    (in_the_greetings_menu, "0", ["main-menu"]),
    (in_the_greetings_menu, "*", ["greetings-menu"]),
    (in_the_message_menu, "0", [*ONE_SAVED, "main-menu"]),
    (in_the_message_menu, "*", ["message-menu"]),
    (in_the_message_menu, "#", ["no-more-messages", *ONE_SAVED, "main-menu"]),
    (typing_a_number_to_call, "*", ["entry-cancelled", "main-menu"]),
]


@pytest.mark.parametrize(
    "reach, key, heard", KEY_MAP, ids=lambda value: getattr(value, "__name__", str(value))
)
async def test_every_menus_keys_do_what_the_key_map_says(
    running_app, carrier, observer, person, session_factory, reach, key, heard
):
    # A saved message: the menu comes straight after the login, and there is one to listen to.
    store(session_factory, person, seconds=1.0, state=MessageState.SAVED)
    call = await log_in(carrier, observer, person)
    await reach(call)
    await call.press(key)
    assert await call.until(heard[-1]) == heard
    assert "goodbye" not in call.names
    await call.hang_up()
