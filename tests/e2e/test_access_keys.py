"""One key map for the whole service, as the help says it and the leaflet prints it: ``0`` the main
menu, ``*`` back, repeat or cancel, ``#`` confirm, skip or forward. One real call per row."""

from __future__ import annotations

import pytest

from reconnect_pbx.models import MessageState

import access_helpers
from access_helpers import LAST_MESSAGE_MENU, MAIN_HELP, MAIN_MENU, log_in, store

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
    # The only message: the menu after it says it was the last one.
    await call.press("1")
    await call.until("audio")
    await call.until(LAST_MESSAGE_MENU[-1])


async def typing_a_number_to_call(call):
    await call.press("2")
    await call.until("enter-number-to-call")
    await call.press("01")


async def in_the_phone_menu(call):
    await call.press("6")
    await call.until("phone-menu")


async def typing_a_phone_number(call):
    await in_the_phone_menu(call)
    await call.press("1")
    await call.until("enter-phone-number")
    await call.press("06")


async def typing_a_new_pin(call):
    await call.press("4")
    await call.until("enter-new-pin")
    await call.press("38")


# (where, key, what is heard next): 0 the main menu, * the help then the menu again (or cancel,
# announced, in an entry), # confirm or skip.
KEY_MAP = [
    (in_the_main_menu, "0", MAIN_MENU),
    (in_the_main_menu, "*", MAIN_HELP),
    (in_the_main_menu, "#", ["confirm-quit"]),
    (in_the_greetings_menu, "0", MAIN_MENU),
    (in_the_greetings_menu, "*", ["greetings-help", "help", "greetings-menu"]),
    (in_the_message_menu, "0", [*ONE_SAVED, *MAIN_MENU]),
    # The first message: its help has no "previous".
    (in_the_message_menu, "*", ["message-help", "help", *LAST_MESSAGE_MENU]),
    (in_the_message_menu, "#", ["no-more-messages", *ONE_SAVED, *MAIN_MENU]),
    (in_the_phone_menu, "0", MAIN_MENU),
    (in_the_phone_menu, "*", ["phone-help", "help", "phone-menu"]),
    (typing_a_phone_number, "*", ["entry-cancelled", "phone-none", "phone-menu"]),
    (typing_a_number_to_call, "*", ["entry-cancelled", *MAIN_MENU]),
    (typing_a_new_pin, "*", ["entry-cancelled", *MAIN_MENU]),
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
