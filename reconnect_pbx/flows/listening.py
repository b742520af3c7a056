"""Listening to one's messages: straight after the login when there are new ones, and key 1 of
the main menu.

Straight after the login (``Listening.straight``), as mobile voicemail does: the new messages one
after the other, each after a short envelope ("received Tuesday at 14:30, from 06 12 ..."), then
the main menu after the last one. The first key pressed turns this into the guided listening below.

Key 1 of the main menu: new messages first, then saved ones, the oldest first in each. Before each
message its envelope: "message 1, received Tuesday 24 November at 14:05, from 01 42 68 53 00" (or
"from an unknown caller"), in the person's language and in Europe/Paris time; after each, the
message menu.

Keys, during the envelope, during the message and after it (the key map of ``flows/menus.py``):

    1 replay          2 call back           3 delete / restore
    4 previous        5 full envelope       6 next
    9 save            0 back to the main menu
    * back 5 s, # forward 5 s (during the message)
    * the help and the message menu again, # the next message (after the message)

The message menu says at most four of them, fitted to the message (``message_menu_prompts``):
replay, call back, delete (or restore, once deleted), and "#" for the next message (on the last
one, "that was the last message" instead). The help (``*``) says the others: previous (not on the
first message), full envelope, save, 0 for the menu, the controls during a message, the key map.

A message heard to the end becomes saved, with ``heard_at`` (Asterisk ignores a ``#`` that would
skip past the end, so the end is always heard).
Delete and save keep the caller on the message (the menu tells them the keys again), so ``3``
pressed again restores it; the audio of a message still deleted when the call ends is erased then
(``MailboxCall.run``). Other keys during a message are ignored; after it they are "invalid".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .. import prompts
from ..models import MessageState
from ..phone import stored_caller
from ..services import access
from .mailbox_call import MailboxCall, Step
from .menus import BACK_KEY, CONFIRM_KEY, KEY_MAP_PROMPT, MAIN_MENU_KEY

log = logging.getLogger(__name__)

ACTION_KEYS = "1234569" + MAIN_MENU_KEY
SKIP_MS = 5000
PLAYBACK_CONTROLS = {BACK_KEY: "reverse", CONFIRM_KEY: "forward"}


def message_menu_prompts(*, deleted: bool, last: bool) -> list[str]:
    """The menu after a message: four choices fitted to it."""
    return ["message-menu-deleted" if deleted else "message-menu", "message-menu-last" if last else "message-menu-next"]


def message_help_prompts(*, first: bool) -> list[str]:
    """``*`` after a message: the keys the menu leaves out ("previous" only where there is one),
    then the key map."""
    return [*([] if first else ["message-help-previous"]), "message-help", KEY_MAP_PROMPT]


@dataclass
class Listening:
    call: MailboxCall
    messages: list[access.MessageInfo] = field(default_factory=list)
    index: int = 0
    # Straight after the login: short envelopes, one new message after the other, then the menu.
    straight: bool = False

    @property
    def current(self) -> access.MessageInfo:
        return self.messages[self.index]

    async def start(self) -> Step:
        self.messages = await self.call.ctx.db(access.messages_to_hear, self.call.account.mailbox_id)
        log.info("channel %s: listening, %d message(s)", self.call.channel.id, len(self.messages))
        if not self.messages:
            await self.call.say("no-messages", interrupt="0123456789*#")
            return self.call.menu
        return self.envelope

    async def start_straight(self) -> Step:
        """After the login, the counts said: the first new message at once."""
        self.messages = await self.call.ctx.db(access.messages_to_hear, self.call.account.mailbox_id)
        self.straight = True
        log.info("channel %s: playing the new messages, %d message(s) in all", self.call.channel.id, len(self.messages))
        if not self.messages or self.messages[0].state != MessageState.NEW:
            return self.call.menu
        return self.envelope

    async def envelope(self) -> Step:
        message = self.current
        if self.straight:
            media = prompts.short_envelope_media(
                message.received_at, stored_caller(message.caller_number), self.call.language, self.call.prompt_set
            )
        else:
            media = self.full_envelope_media()
        key = await self.call.channel.play(media, interrupt=ACTION_KEYS)
        if key is not None:
            return self.on_key
        return self.play_message

    def full_envelope_media(self) -> list[str]:
        message = self.current
        return prompts.envelope_media(
            self.index + 1,
            message.received_at,
            stored_caller(message.caller_number),
            self.call.language,
            self.call.prompt_set,
        )

    async def full_envelope(self) -> Step:
        key = await self.call.channel.play(self.full_envelope_media(), interrupt=ACTION_KEYS)
        if key is not None:
            return self.on_key
        return self.message_menu

    async def play_message(self) -> Step:
        message = self.current
        async with self.call.ctx.media.playing(message.audio_id) as media:
            key = await self.call.channel.play(
                media,
                interrupt=ACTION_KEYS,
                controls=PLAYBACK_CONTROLS,
                skip_ms=SKIP_MS,
            )
        if key is not None:
            return self.on_key
        if message.id not in self.call.deleted:
            await self.call.ctx.db(access.mark_heard, self.call.account.mailbox_id, message.id)
        if self.straight:
            following = self.index + 1
            if following < len(self.messages) and self.messages[following].state == MessageState.NEW:
                self.index = following
                return self.envelope
            return self.call.menu
        return self.message_menu

    async def message_menu(self) -> Step:
        menu = message_menu_prompts(
            deleted=self.current.id in self.call.deleted, last=self.index + 1 >= len(self.messages)
        )
        key = await self.call.menu_choice(self.call.media(*menu), ACTION_KEYS + BACK_KEY + CONFIRM_KEY)
        if key is None:
            return self.call.silence_goodbye()
        if key == BACK_KEY:
            return self.help
        if key == CONFIRM_KEY:
            return self.next
        return self.act(key)

    async def help(self) -> Step:
        key = await self.call.say(*message_help_prompts(first=self.index == 0), interrupt=ACTION_KEYS)
        if key is not None:
            return self.on_key
        return self.message_menu

    async def on_key(self) -> Step:
        self.straight = False
        key = await self.call.channel.get_key(0)
        if key is None:
            return self.message_menu
        return self.act(key)

    def act(self, key: str) -> Step:
        actions = {
            "1": self.play_message,
            "2": self.call_back,
            "3": self.delete_or_restore,
            "4": self.previous,
            "5": self.full_envelope,
            "6": self.next,
            "9": self.save,
            MAIN_MENU_KEY: self.call.main_menu,
        }
        return actions.get(key, self.message_menu)

    async def call_back(self) -> Step:
        # A stored caller that is not E.164 (older data) is a withheld one: nothing to dial.
        await self.call.call_out(stored_caller(self.current.caller_number), is_callback=True)
        return self.message_menu

    async def delete_or_restore(self) -> Step:
        message = self.current
        mailbox_id = self.call.account.mailbox_id
        deleted = self.call.deleted
        if message.id in deleted:
            restored = await self.call.ctx.db(access.restore, mailbox_id, message.id, deleted[message.id])
            if restored:
                del deleted[message.id]
                log.info("channel %s: message %s restored", self.call.channel.id, message.id)
                await self.call.say("message-restored", interrupt=ACTION_KEYS)
            return self.message_menu
        previous = await self.call.ctx.db(access.mark_deleted, mailbox_id, message.id)
        if previous is not None:
            deleted[message.id] = previous
            log.info("channel %s: message %s deleted", self.call.channel.id, message.id)
        await self.call.say("message-deleted", interrupt=ACTION_KEYS)
        return self.message_menu

    async def save(self) -> Step:
        message = self.current
        if message.id in self.call.deleted:
            # Saving a message deleted in this call takes it back first.
            await self.call.ctx.db(access.restore, self.call.account.mailbox_id, message.id, MessageState.SAVED)
            del self.call.deleted[message.id]
        await self.call.ctx.db(access.mark_saved, self.call.account.mailbox_id, message.id)
        log.info("channel %s: message %s saved", self.call.channel.id, message.id)
        await self.call.say("message-saved-folder", interrupt=ACTION_KEYS)
        return self.message_menu

    async def previous(self) -> Step:
        if self.index == 0:
            await self.call.say("no-previous-message", interrupt=ACTION_KEYS)
            return self.message_menu
        self.index -= 1
        return self.envelope

    async def next(self) -> Step:
        if self.index + 1 >= len(self.messages):
            await self.call.say("no-more-messages", interrupt=ACTION_KEYS)
            return self.call.main_menu
        self.index += 1
        return self.envelope
