"""One call inside a person's mailbox: the per-call state that the access flow and its sub-menus
share, and the helpers they all use.

``flows/access.py`` logs the caller in and runs the main menu (``AccessCall``, a ``MailboxCall``);
``flows/listening.py`` (key 1) and ``flows/greetings.py`` (key 3) are handed the call and step back
to its menus. They import this module, never ``access``: the flows import one another in one
direction only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Optional

from ..ari import AriError
from ..config import Settings
from ..models import MessageState
from ..services import access, voicemail
from . import callback
from .channel import CallChannel, CallerHungUp
from .context import FlowContext
from .menus import choose

log = logging.getLogger(__name__)

Step = Optional[Callable[[], Awaitable["Step"]]]


@dataclass
class MailboxCall:
    ctx: FlowContext
    channel: CallChannel
    # The mailbox whose greeting the caller interrupted; None at the access number.
    target: voicemail.MailboxTarget | None
    language: str
    # The mailbox the caller logged in to; None until then.
    account: access.Account | None = None
    # Messages deleted during this call and the state each had: restorable until the call ends.
    deleted: dict[int, MessageState] = field(default_factory=dict)
    # The outgoing call record of the leg this call runs on (an alert call to the person's phone):
    # a callback from it is not refused as a second call in progress (``outbound.begin_call``).
    carrying_call_id: int | None = None

    # -- the menus the sub-menus step back to (``AccessCall``) ---------------------------------

    async def main_menu(self) -> Step:
        """The message counts, then the main menu."""
        raise NotImplementedError

    async def menu(self) -> Step:
        """The main menu without the counts."""
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def timeout(self) -> float:
        return self.settings.voicemail.input_timeout_seconds

    @property
    def prompt_set(self) -> str:
        return self.settings.voicemail.prompt_set

    def media(self, *names: str) -> list[str]:
        return self.ctx.prompts(list(names), self.language)

    async def say(self, *names: str, interrupt: str = "") -> str | None:
        return await self.channel.play(self.media(*names), interrupt=interrupt)

    async def run(self, first: Step) -> None:
        step: Step = first
        try:
            while step is not None:
                step = await step()
        finally:
            await self._erase_deleted()

    async def _erase_deleted(self) -> None:
        if self.account is None or not self.deleted:
            return
        try:
            erased = await self.ctx.db(
                access.erase_deleted, self.ctx.store, self.account.mailbox_id, sorted(self.deleted)
            )
        except Exception:
            # The audio of messages in state "deleted" is also erased by `purge`.
            log.exception("channel %s: could not erase the messages deleted in this call", self.channel.id)
            return
        log.info("channel %s: %d deleted message(s) erased at the end of the call", self.channel.id, erased)

    async def menu_choice(self, menu: list[str], valid: str, *, intro: list[str] | None = None) -> str | None:
        return await choose(
            self.channel,
            menu,
            valid=valid,
            timeout=self.timeout,
            invalid=self.media("invalid-key"),
            intro=intro or [],
        )

    def goodbye(self, *names: str) -> Step:
        async def goodbye() -> Step:
            try:
                await self.say(*names, "goodbye")
            except CallerHungUp:
                return None
            await self.channel.hangup()
            return None

        return goodbye

    async def call_out(self, destination: str | None, *, is_callback: bool) -> None:
        log.info("channel %s: outgoing call (%s)", self.channel.id, "callback" if is_callback else "dialled")
        self.channel.clear_keys()
        await callback.call_out(
            self.ctx,
            self.channel,
            beneficiary_id=self.account.beneficiary_id,
            own_number=self.account.number,
            language=self.language,
            destination=destination,
            is_callback=is_callback,
            carrying_call_id=self.carrying_call_id,
        )
        self.channel.clear_keys()

    # -- recordings (names, greetings) ---------------------------------------------------------

    def recording_name(self, kind: str) -> str:
        millis = int(datetime.now(UTC).timestamp() * 1000)
        channel = re.sub(r"[^A-Za-z0-9]", "-", self.channel.id)
        return f"access-{kind}-{self.account.mailbox_id}-{millis}-{channel}"

    async def discard_recording(self, name: str) -> None:
        try:
            await self.ctx.client.delete_stored_recording(name)
        except AriError as exc:
            log.warning("channel %s: could not delete the recording from the spool: %s", self.channel.id, exc)
