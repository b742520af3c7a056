"""Greetings (key 3 of the main menu), and recording a greeting or a name.

    1 record a personal greeting (callers hear it instead of the standard greeting)
    2 listen to it        3 delete it (back to the standard greeting)
    0 back to the main menu
    * the help (what callers hear without a greeting, 4 record one's name again; the key map),
      then the menu again
    (not said in the menu: 4 record one's name again, said inside the standard greeting)

A recording ends with ``#``, a pause, or the maximum length. It replaces the previous one only
once it is stored; a hang-up during a recording keeps the old one, and the spool file is always
deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..ari import NotFound
from ..models import GreetingKind
from ..services import access
from ..storage import InvalidAudio, wav_duration_ms
from .channel import DTMF_KEYS
from .mailbox_call import MailboxCall, Step
from .menus import BACK_KEY, KEY_MAP_PROMPT, MAIN_MENU_KEY

log = logging.getLogger(__name__)

# Shorter than this is taken for a false start: nothing is stored.
MIN_RECORDING_MS = 1000
GREETINGS_MENU = ["greetings-menu"]
GREETINGS_HELP = ["greetings-help", KEY_MAP_PROMPT]


async def record_greeting(call: MailboxCall, kind: GreetingKind, intro: list[str]) -> bool:
    """Play ``intro`` and the tone, record, and store the result as the ``kind`` greeting."""
    settings = call.settings
    max_seconds = settings.access.max_name_seconds if kind == GreetingKind.NAME else settings.access.max_greeting_seconds
    name = call.recording_name(kind.value)
    await call.say(*intro, "beep")
    try:
        result = await call.channel.record(
            name,
            max_duration_seconds=max_seconds,
            max_silence_seconds=settings.voicemail.max_silence_seconds,
            terminate_on="#",
        )
        log.info(
            "channel %s: %s recording %s, ended by %s", call.channel.id, kind.value, result.state, result.ended_by
        )
        if result.state != "done" or result.ended_by == "hangup":
            return False
        try:
            audio = await call.ctx.client.stored_recording_file(name)
            duration_ms = wav_duration_ms(audio)
        except (NotFound, InvalidAudio) as exc:
            log.warning("channel %s: no usable %s recording: %s", call.channel.id, kind.value, exc)
            return False
        if duration_ms < MIN_RECORDING_MS:
            log.info("channel %s: %s recording of %d ms dropped (too short)", call.channel.id, kind.value, duration_ms)
            return False
        await call.ctx.db(access.save_greeting, call.ctx.store, call.account.mailbox_id, kind, audio)
        log.info("channel %s: %s stored (%d ms) for mailbox %s", call.channel.id, kind.value, duration_ms, call.account.mailbox_id)
        return True
    finally:
        await call.discard_recording(name)


@dataclass
class GreetingsMenu:
    call: MailboxCall

    async def menu(self) -> Step:
        key = await self.call.menu_choice(self.call.media(*GREETINGS_MENU), "1234" + BACK_KEY + MAIN_MENU_KEY)
        if key is None:
            return self.call.silence_goodbye()
        return {
            "1": self.record_personal,
            "2": self.listen,
            "3": self.delete,
            "4": self.record_name,
            BACK_KEY: self.help,
            MAIN_MENU_KEY: self.call.menu,
        }[key]

    async def help(self) -> Step:
        await self.call.say(*GREETINGS_HELP, interrupt=DTMF_KEYS)
        return self.menu

    async def record_personal(self) -> Step:
        if await record_greeting(self.call, GreetingKind.PERSONAL, ["record-after-tone"]):
            await self.call.say("greeting-recorded", interrupt=DTMF_KEYS)
        else:
            await self.call.say("recording-failed", interrupt=DTMF_KEYS)
        return self.menu

    async def listen(self) -> Step:
        audio_id = await self.call.ctx.db(access.greeting_audio, self.call.account.mailbox_id, GreetingKind.PERSONAL)
        if audio_id is None:
            await self.call.say("no-personal-greeting", interrupt=DTMF_KEYS)
        else:
            async with self.call.ctx.media.playing(audio_id) as media:
                await self.call.channel.play(media, interrupt=DTMF_KEYS)
        self.call.channel.clear_keys()
        return self.menu

    async def delete(self) -> Step:
        deleted = await self.call.ctx.db(
            access.delete_greeting, self.call.ctx.store, self.call.account.mailbox_id, GreetingKind.PERSONAL
        )
        if deleted:
            log.info("channel %s: personal greeting deleted", self.call.channel.id)
        await self.call.say("greeting-deleted" if deleted else "no-personal-greeting", interrupt=DTMF_KEYS)
        return self.menu

    async def record_name(self) -> Step:
        if await record_greeting(self.call, GreetingKind.NAME, ["record-your-name"]):
            await self.call.say("name-recorded", interrupt=DTMF_KEYS)
        else:
            await self.call.say("recording-failed", interrupt=DTMF_KEYS)
        return self.menu

