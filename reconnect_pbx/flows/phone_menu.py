"""The phone menu (main menu, key 6): the person sets, switches or removes their current phone.

Says the current state ("your current phone is 06 ..., not confirmed yet; calls ring it first"),
then: 1 record a new phone (typed, then ``#``; the same destination policy as ``phone set``, a
refused number says why and nothing is written; a confirmation call follows), 2 follow on/off,
3 remove it; in its help only (``*``, flows/menus.py: a menu says few choices), 4 new-message
alerts on/off; 0 the main menu, as everywhere (the key map). Every change is audited with the actor ``person`` and
logged as a warning, as staff's are (``services/current_phone.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from .. import prompts
from ..services import current_phone
from ..services.errors import Conflict, NotFound
from .channel import DTMF_KEYS
from .mailbox_call import MailboxCall, Step
from .menus import CANCELLED, KEY_MAP_PROMPT, collect_digits

log = logging.getLogger(__name__)

# A French number is 10 digits (12 with +33): a cap, not the expected length.
MAX_PHONE_DIGITS = 13
DIGIT_PAUSE_SECONDS = 8.0


@dataclass
class PhoneMenu:
    call: MailboxCall

    @property
    def person_id(self) -> int:
        return self.call.account.beneficiary_id

    async def menu(self) -> Step:
        state = await self.call.ctx.db(current_phone.phone_state, self.person_id)
        return await self._choose(self.state_media(state))

    async def help(self) -> Step:
        """The choice the menu leaves out (4, alerts), the key map, then the menu again."""
        return await self._choose(self.call.media("phone-help", KEY_MAP_PROMPT))

    async def _choose(self, intro: list[str]) -> Step:
        key = await self.call.menu_choice(self.call.media("phone-menu"), "12340*", intro=intro)
        if key is None:
            return self.call.silence_goodbye()
        return {
            "1": self.set_phone, "2": self.toggle_follow, "3": self.clear, "4": self.toggle_alerts,
            "*": self.help, "0": self.call.menu,
        }[key]  # fmt: skip

    def state_media(self, state: current_phone.PhoneState | None) -> list[str]:
        if state is None:
            return self.call.media("phone-none")
        said = [
            *self.call.media("phone-is"),
            *prompts.digits_media(state.e164, self.call.language, self.call.prompt_set),
        ]
        if not state.confirmed:
            said += self.call.media("phone-not-confirmed")
        return said + self.call.media("follow-is-on" if state.follow else "follow-is-off")

    async def set_phone(self) -> Step:
        await self.call.say("enter-phone-number", interrupt="0123456789*+")
        typed = await collect_digits(
            self.call.channel, max_digits=MAX_PHONE_DIGITS, first_timeout=self.call.timeout,
            next_timeout=DIGIT_PAUSE_SECONDS,
        )  # fmt: skip
        if typed == CANCELLED:
            await self.call.say("entry-cancelled", interrupt=DTMF_KEYS)
            return self.menu
        if typed is None:
            return self.menu
        settings = self.call.settings
        try:
            await self.call.ctx.db(
                partial(
                    current_phone.set_phone,
                    actor=current_phone.PERSON_ACTOR,
                    rules=settings.callback,
                    now=datetime.now(UTC),
                ),
                self.person_id,
                typed,
            )
        except current_phone.PhoneRefused as refused:
            log.info("channel %s: phone refused (%s)", self.call.channel.id, refused.decision.code)
            await self.call.say(refused.decision.prompt or "destination-refused-invalid", interrupt=DTMF_KEYS)
            return self.menu
        log.warning("current phone of person %s set by the person (channel %s)", self.person_id, self.call.channel.id)
        await self.call.say("phone-will-be-called", interrupt=DTMF_KEYS)
        return self.menu

    async def toggle_follow(self) -> Step:
        state = await self.call.ctx.db(current_phone.phone_state, self.person_id)
        if state is None:
            await self.call.say("phone-none", interrupt=DTMF_KEYS)
            return self.menu
        await self.call.ctx.db(
            partial(current_phone.set_follow, actor=current_phone.PERSON_ACTOR), self.person_id, not state.follow
        )
        log.warning(
            "follow %s for person %s by the person (channel %s)",
            "off" if state.follow else "on", self.person_id, self.call.channel.id,
        )  # fmt: skip
        await self.call.say("follow-is-off" if state.follow else "follow-is-on", interrupt=DTMF_KEYS)
        return self.menu

    async def toggle_alerts(self) -> Step:
        state = await self.call.ctx.db(current_phone.phone_state, self.person_id)
        if state is None:
            await self.call.say("phone-none", interrupt=DTMF_KEYS)
            return self.menu
        await self.call.ctx.db(
            partial(current_phone.set_alerts, actor=current_phone.PERSON_ACTOR), self.person_id, not state.alerts
        )
        log.warning(
            "alerts %s for person %s by the person (channel %s)",
            "off" if state.alerts else "on", self.person_id, self.call.channel.id,
        )  # fmt: skip
        await self.call.say("alerts-are-off" if state.alerts else "alerts-are-on", interrupt=DTMF_KEYS)
        return self.menu

    async def clear(self) -> Step:
        try:
            await self.call.ctx.db(partial(current_phone.clear_phone, actor=current_phone.PERSON_ACTOR), self.person_id)
        except (Conflict, NotFound):
            await self.call.say("phone-none", interrupt=DTMF_KEYS)
            return self.menu
        log.warning("current phone of person %s removed by the person (channel %s)", self.person_id, self.call.channel.id)
        await self.call.say("phone-removed", interrupt=DTMF_KEYS)
        return self.menu


