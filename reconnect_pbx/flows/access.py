"""Access: a person reaches their own voicemail from any phone, logs in with their PIN, and uses
the menus.

Two ways in:

- the access number (``access.access_number``, a DID of the trunk): "enter your personal number"
  (the national form, or its last ``access.personal_number_digits`` digits), then the PIN;
- ``*`` during the greeting of their own number (``deposit.login``): the PIN only.

The caller ID is never looked at: calling from one's own number still asks for the PIN.

Login (the lock rules are in ``services/access.py``):

- At the access number, the prompts before the login are in French (the service's language):
  saying "enter your PIN" in the language of the person whose number was typed would tell a
  stranger the number exists. An unknown number and a wrong PIN then play the same prompts
  (``login-incorrect``) after the same delay: the service does a dummy argon2 verify for an
  unknown number, and every answer waits at least ``LOGIN_ANSWER_SECONDS`` after the PIN.
- ``access.max_pin_attempts_per_call`` wrong PINs (or unknown numbers) in one call: goodbye.
- A locked or suspended mailbox says so (``login-locked``, ``login-suspended``) whatever PIN was
  typed, and the call ends: the PIN is not even checked, so nothing about it leaks, and the person
  learns why they cannot get in instead of spending attempts towards the suspension. The failure
  that starts a lock plays ``login-incorrect`` and then ``login-locked``.

After the login, in the person's language: the guided first login if the mailbox is not onboarded
(record your name, optionally change the PIN), then the main menu:

    "you have N new messages and M saved messages"
    1 listen (flows/listening.py)        2 make a call (number, # to end, * to cancel)
    3 greetings (flows/greetings.py)      4 change PIN        5 French/English
    * help, then the menu again           # goodbye

Ten seconds of silence (``voicemail.input_timeout_seconds``) repeat a menu, twice, then goodbye;
an invalid key plays ``invalid-key`` and the menu again. Messages deleted during the call stay
restorable until it ends; then their audio is erased, in a ``finally`` that also runs on hang-up.
Neither the PIN nor any digit typed is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Optional

from .. import metrics, prompts
from ..ari import AriError
from ..config import Settings
from ..models import GreetingKind, Language, MessageState
from ..pin_policy import WeakPin
from ..services import access, voicemail
from . import callback
from .channel import DTMF_KEYS, CallChannel, CallerHungUp
from .context import FlowContext
from .greetings import GreetingsMenu, record_greeting
from .listening import Listening
from .menus import CANCELLED, choose, collect_digits

log = logging.getLogger(__name__)

Step = Optional[Callable[[], Awaitable["Step"]]]

# The language of the access number's prompts until the caller is logged in.
SERVICE_LANGUAGE = Language.FR
# Every answer to a PIN comes at least this long after it was typed, found or not.
LOGIN_ANSWER_SECONDS = 0.3
# Longest PIN or phone number we listen for (a cap, not the expected length).
MAX_PIN_DIGITS = 16
MAX_DIALLED_DIGITS = 20
# How long a caller may pause between two digits of an entry.
DIGIT_PAUSE_SECONDS = 5.0
# Retries of one dialogue (new PIN, recording the name) before giving up on it.
DIALOGUE_ATTEMPTS = 3


async def run(ctx: FlowContext, channel: CallChannel, args: list[str]) -> None:
    """A call to the access number: ``Stasis(reconnect-pbx,deposit,<access DID>,<pres>)``,
    routed here by the Stasis application."""
    call = AccessCall(ctx=ctx, channel=channel, target=None, language=SERVICE_LANGUAGE.value)
    await channel.answer()
    await call.run(call.ask_number)


async def login_from_greeting(ctx: FlowContext, channel: CallChannel, target: voicemail.MailboxTarget) -> None:
    """``*`` during the greeting of ``target``'s number: the PIN only (installed as
    ``deposit.login_hook``)."""
    call = AccessCall(ctx=ctx, channel=channel, target=target, language=Language(target.language).value)
    await call.run(call.ask_pin)


@dataclass
class AccessCall:
    ctx: FlowContext
    channel: CallChannel
    # The mailbox whose greeting the caller interrupted; None at the access number.
    target: voicemail.MailboxTarget | None
    language: str
    typed_number: str | None = field(default=None, repr=False)
    failures: int = 0
    silences: int = 0
    account: access.Account | None = None
    # Messages deleted during this call and the state each had: restorable until the call ends.
    deleted: dict[int, MessageState] = field(default_factory=dict)

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

    async def digits(self, max_digits: int) -> str | None:
        return await collect_digits(
            self.channel, max_digits=max_digits, first_timeout=self.timeout, next_timeout=DIGIT_PAUSE_SECONDS
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

    def _silence(self) -> Step | None:
        """One more silent prompt: None while it may be repeated, else the goodbye."""
        self.silences += 1
        if self.silences > 2:
            return self.goodbye()
        return None

    # -- login ---------------------------------------------------------------------------------

    async def ask_number(self) -> Step:
        wanted = self.settings.access.personal_number_digits
        prompt = "enter-personal-number" if wanted >= 10 else "enter-personal-number-end"
        await self.say(prompt, interrupt=DTMF_KEYS)
        typed = await self.digits(wanted)
        if typed is None or typed == CANCELLED:
            return self._silence() or self.ask_number
        self.silences = 0
        self.typed_number = typed
        return self.ask_pin

    async def ask_pin(self) -> Step:
        await self.say("enter-pin", interrupt=DTMF_KEYS)
        pin = await self.digits(MAX_PIN_DIGITS)
        if pin is None or pin == CANCELLED:
            return self._silence() or self.ask_pin
        self.silences = 0
        return await self._check(pin)

    async def _check(self, pin: str) -> Step:
        started = asyncio.get_running_loop().time()
        policy = access.LockPolicy.from_settings(self.settings.access)
        if self.target is not None:
            result = await self.ctx.db(access.attempt_login, self.target.beneficiary_id, pin, policy)
        else:
            result = await self.ctx.db(
                access.log_in_with_number,
                self.typed_number or "",
                pin,
                policy,
                self.settings.access.personal_number_digits,
                self.settings.numbers.default_region,
            )
        elapsed = asyncio.get_running_loop().time() - started
        if elapsed < LOGIN_ANSWER_SECONDS:
            await asyncio.sleep(LOGIN_ANSWER_SECONDS - elapsed)
        outcome = result.outcome
        if outcome == access.LoginOutcome.ACCEPTED:
            self.account = result.account
            self.language = Language(result.account.language).value
            log.info("channel %s: logged in to mailbox %s", self.channel.id, self.account.mailbox_id)
            return self.main_menu if self.account.onboarded else self.first_login
        if outcome == access.LoginOutcome.LOCKED:
            log.info("channel %s: login refused, the mailbox is locked", self.channel.id)
            return self.goodbye("login-locked")
        if outcome == access.LoginOutcome.SUSPENDED:
            log.info("channel %s: login refused, PIN login is suspended", self.channel.id)
            return self.goodbye("login-suspended")
        self.failures += 1
        metrics.LOGIN_FAILURES.inc()
        log.info(
            "channel %s: login refused, %s (%d of %d in this call)",
            self.channel.id,
            "unknown number" if result.mailbox_id is None else f"wrong PIN for mailbox {result.mailbox_id}",
            self.failures,
            self.settings.access.max_pin_attempts_per_call,
        )
        if result.suspended_now:
            metrics.LOGIN_SUSPENSIONS.inc()
            log.warning(
                "channel %s: mailbox %s: PIN login suspended after %d consecutive failures",
                self.channel.id,
                result.mailbox_id,
                result.failures,
            )
            return self.goodbye("login-incorrect", "login-suspended")
        if result.locked_minutes is not None:
            metrics.LOGIN_LOCKS.inc()
            log.warning(
                "channel %s: mailbox %s locked for %d min after %d consecutive PIN failures",
                self.channel.id,
                result.mailbox_id,
                result.locked_minutes,
                result.failures,
            )
            return self.goodbye("login-incorrect", "login-locked")
        if self.failures >= self.settings.access.max_pin_attempts_per_call:
            return self.goodbye("login-incorrect")
        await self.say("login-incorrect", interrupt=DTMF_KEYS)
        if self.target is None:
            self.typed_number = None
            return self.ask_number
        return self.ask_pin

    # -- first login ---------------------------------------------------------------------------

    async def first_login(self) -> Step:
        log.info("channel %s: first login of mailbox %s", self.channel.id, self.account.mailbox_id)
        await self.say("first-login-welcome")
        for _ in range(DIALOGUE_ATTEMPTS):
            if await record_greeting(self, GreetingKind.NAME, ["record-your-name"]):
                await self.say("name-recorded")
                break
            await self.say("please-try-again")
        choice = await self.menu_choice(self.media("change-pin-offer"), "1#")
        if choice == "1":
            await self.change_pin_dialogue()
        await self.ctx.db(access.complete_onboarding, self.account.mailbox_id)
        log.info("channel %s: mailbox %s onboarded", self.channel.id, self.account.mailbox_id)
        return self.main_menu

    # -- main menu -----------------------------------------------------------------------------

    async def main_menu(self) -> Step:
        """The message counts ("your mailbox is full" when it is), then the menu."""
        counts = await self.ctx.db(access.message_counts, self.account.mailbox_id)
        before = self.counts_media(counts)
        # The capacity is checked when a call starts, so simultaneous callers may fill a box past
        # it (nothing is lost): the person hears it is full, at or over the capacity.
        if counts.new + counts.saved >= self.settings.voicemail.mailbox_capacity:
            log.info("channel %s: mailbox %s is full", self.channel.id, self.account.mailbox_id)
            before += self.media("mailbox-full-owner")
        return self._menu(before)

    async def menu(self) -> Step:
        """The menu without the counts (after an action that did not change them)."""
        return await self._menu([])()

    def _menu(self, before: list[str]) -> Step:
        async def menu() -> Step:
            key = await self.menu_choice(self.media("main-menu"), "12345*#", intro=before)
            if key is None or key == "#":
                return self.goodbye()
            if key == "1":
                return Listening(self).start
            if key == "2":
                return self.make_call
            if key == "3":
                return GreetingsMenu(self).menu
            if key == "4":
                return self.change_pin
            if key == "5":
                return self.change_language
            await self.say("help", interrupt=DTMF_KEYS)
            return self.menu

        return menu

    def counts_media(self, counts: access.MessageCounts) -> list[str]:
        if counts.new == 0 and counts.saved == 0:
            return self.media("no-messages")
        top = prompts.MAX_NUMBER

        def count(n: int, singular: str, plural: str) -> list[str]:
            return prompts.count_media(min(n, top), singular, plural, self.language, self.prompt_set)

        return [
            *self.media("you-have"),
            *count(counts.new, "new-message", "new-messages"),
            *self.media("and"),
            *count(counts.saved, "saved-message", "saved-messages"),
        ]

    async def make_call(self) -> Step:
        await self.say("enter-number-to-call", interrupt=DTMF_KEYS)
        destination = await self.digits(MAX_DIALLED_DIGITS)
        if destination is None or destination == CANCELLED:
            return self.menu
        await self.call_out(destination, is_callback=False)
        return self.menu

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
        )
        self.channel.clear_keys()

    async def change_pin(self) -> Step:
        await self.change_pin_dialogue()
        return self.menu

    async def change_pin_dialogue(self) -> bool:
        """New PIN, typed twice; a weak one is refused with its reason. True once changed."""
        length = self.settings.pin.length
        for _ in range(DIALOGUE_ATTEMPTS):
            await self.say("enter-new-pin", interrupt=DTMF_KEYS)
            first = await self.digits(MAX_PIN_DIGITS)
            if first == CANCELLED:
                return False
            if first is None:
                continue
            try:
                access.check_new_pin(self.account, first, pin_length=length)
            except WeakPin as weak:
                log.info("channel %s: new PIN refused (%s)", self.channel.id, weak.reason_code)
                await self.channel.play(self.weak_pin_media(weak.reason_code, length), interrupt=DTMF_KEYS)
                continue
            await self.say("reenter-new-pin", interrupt=DTMF_KEYS)
            second = await self.digits(MAX_PIN_DIGITS)
            if second == CANCELLED:
                return False
            if second != first:
                await self.say("pins-dont-match", interrupt=DTMF_KEYS)
                continue
            try:
                await self.ctx.db(access.change_pin, self.account, first, pin_length=length)
            except WeakPin as weak:  # the policy changed between the two checks: say why anyway
                await self.channel.play(self.weak_pin_media(weak.reason_code, length), interrupt=DTMF_KEYS)
                continue
            log.info("channel %s: PIN changed for mailbox %s", self.channel.id, self.account.mailbox_id)
            await self.say("pin-changed")
            return True
        return False

    def weak_pin_media(self, reason_code: str, length: int) -> list[str]:
        return self.media(*weak_pin_prompts(reason_code, length))

    async def change_language(self) -> Step:
        new = Language.EN if self.language == Language.FR.value else Language.FR
        await self.ctx.db(access.set_language, self.account.beneficiary_id, new)
        self.language = new.value
        log.info("channel %s: language set to %s", self.channel.id, new.value)
        await self.say("language-changed", interrupt=DTMF_KEYS)
        return self.menu

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


def weak_pin_prompts(reason_code: str, length: int) -> list[str]:
    """What a refused new PIN is answered: ``pin-weak-<reason>``, the length spelt out for a PIN
    of the wrong length, and ``pin-weak-generic`` for a reason without a prompt of its own."""
    if reason_code == "length":
        return ["pin-weak-length", "pin-must-have", f"number-{min(length, prompts.MAX_NUMBER)}", "pin-digits"]
    name = f"pin-weak-{reason_code}"
    if not re.fullmatch(r"[a-z-]+", reason_code) or name not in prompts.CATALOGUE:
        return ["pin-weak-generic"]
    return [name]
