"""Listening to one's messages (key 1 of the main menu).

New messages first, then saved ones, the oldest first in each. Before each message its envelope:
"message 1, received Tuesday 24 November at 14:05, from 01 42 68 53 00" (or "from an unknown
caller"), in the person's language and in Europe/Paris time.

Keys, during the envelope, during the message and after it:

    1 replay          2 call back           3 delete / restore
    4 previous        6 next                9 save
    0 back to the main menu
    * back 5 s, # forward 5 s (during the message only)

A message heard to the end becomes saved, with ``heard_at`` (Asterisk ignores a ``#`` that would
skip past the end, so the end is always heard).
Delete and save keep the caller on the message (the menu tells them the keys again), so ``3``
pressed again restores it; the audio of a message still deleted when the call ends is erased then
(``AccessCall.run``). Other keys during a message are ignored; after it they are "invalid".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import prompts
from ..models import MessageState
from ..services import access

if TYPE_CHECKING:
    from .access import AccessCall, Step

log = logging.getLogger(__name__)

ACTION_KEYS = "1234690"
SKIP_MS = 5000
PLAYBACK_CONTROLS = {"*": "reverse", "#": "forward"}


@dataclass
class Listening:
    call: AccessCall
    messages: list[access.MessageInfo] = field(default_factory=list)
    index: int = 0

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

    async def envelope(self) -> Step:
        message = self.current
        media = prompts.envelope_media(
            self.index + 1,
            message.received_at,
            message.caller_number,
            self.call.language,
            self.call.prompt_set,
        )
        key = await self.call.channel.play(media, interrupt=ACTION_KEYS)
        if key is not None:
            return self.on_key
        return self.play_message

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
        return self.message_menu

    async def message_menu(self) -> Step:
        key = await self.call.menu_choice(self.call.media("message-menu"), ACTION_KEYS)
        if key is None:
            return self.call.goodbye()
        return self.act(key)

    async def on_key(self) -> Step:
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
            "6": self.next,
            "9": self.save,
            "0": self.call.main_menu,
        }
        return actions.get(key, self.message_menu)

    async def call_back(self) -> Step:
        await self.call.call_out(self.current.caller_number, is_callback=True)
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
