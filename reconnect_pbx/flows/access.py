"""Access: a person reaches their own voicemail from any phone, logs in with their PIN, and uses
the menus.

Two ways in:

- the access number (``access.access_number``, a DID of the trunk): "enter your personal number"
  (the national form, or its last ``access.personal_number_digits`` digits), then the PIN;
- ``*`` during the greeting of their own number (``deposit.login``): the PIN only.

The caller ID is never looked at: calling from one's own number still asks for the PIN.

One key map for the whole service (``flows/menus.py``, said in ``help``, printed on the leaflet):
``0`` the main menu, ``*`` back, repeat or cancel, ``#`` confirm or skip.

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
- The brake on guessing (too many failed logins lately from this calling number, or from
  everybody): ``login-try-later`` and goodbye, at the start of an access-number call and instead of
  any PIN check; a warning and ``reconnect_login_braked_total``. The failure that reaches
  ``access.alert_after_failures`` logs a warning and counts ``reconnect_login_alerts_total``.

Entries end by themselves at their length (the personal number, the PIN: ``pin.length``); a "#"
typed after them is taken as their end (``CallChannel.absorb_terminator``), and a caller may pause
``DIGIT_PAUSE_SECONDS`` between two digits.

After the login, in the person's language: how many wrong PINs were typed since the last login,
if any (``failed-logins-since`` N ``failed-logins-advice``); the guided first login if the mailbox
is not onboarded (record your name, then choose a new PIN); a new PIN, required, while the PIN is
the one staff handed over (``enrol``, ``pin reset``): no menu until it is changed, and a call that
does not change it ends; then, with new messages, the counts in one sentence and the new messages
at once (``Listening.start_straight``), and the main menu:

    "you have N new messages and M saved messages"
    1 listen (flows/listening.py)        2 make a call (number, # to end, * to cancel)
    * the help, then the menu again     5 French/English, said in the other language
                                          ("For English, press 5")
    in the help: 3 greetings (flows/greetings.py), 4 change PIN, # goodbye once confirmed by a
    second #; 6 the current phone (flows/phone_menu.py); then the key map (0 is the menu again)

Ten seconds of silence (``voicemail.input_timeout_seconds``) repeat a menu, twice, then
``no-input-goodbye`` (the call ends, the messages are kept) and goodbye;
an invalid key plays ``invalid-key`` and the menu again. Messages deleted during the call stay
restorable until it ends; then their audio is erased, in a ``finally`` that also runs on hang-up.
Neither the PIN nor any digit typed is ever logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from dataclasses import dataclass, field

from .. import metrics, prompts
from ..models import GreetingKind, Language
from ..pin_policy import WeakPin
from ..services import access, voicemail
from .channel import DTMF_KEYS, CallChannel
from .context import FlowContext
from .greetings import GreetingsMenu, record_greeting
from .listening import Listening
from .mailbox_call import MailboxCall, Step
from .menus import BACK_KEY, CANCELLED, CONFIRM_KEY, KEY_MAP_PROMPT, MAIN_MENU_KEY, collect_digits
from .phone_menu import PhoneMenu

log = logging.getLogger(__name__)

# The language of the access number's prompts until the caller is logged in.
SERVICE_LANGUAGE = Language.FR
# Every answer to a PIN comes at least this long after it was typed, found or not.
LOGIN_ANSWER_SECONDS = 0.3
# Longest PIN or phone number we listen for (a cap, not the expected length).
MAX_PIN_DIGITS = 16
MAX_DIALLED_DIGITS = 20
# How long a caller may pause between two digits of an entry (someone reading the PIN off a card,
# or the number off a leaflet, takes a few seconds per group of digits).
DIGIT_PAUSE_SECONDS = 8.0
# What may interrupt a prompt that asks for an entry: a "#" alone means nothing there (it is the end
# of the previous entry, typed late), so it never cuts the prompt.
ENTRY_KEYS = "0123456789*"
# Retries of one dialogue (new PIN, recording the name) before giving up on it.
DIALOGUE_ATTEMPTS = 3


async def run(ctx: FlowContext, channel: CallChannel, args: list[str]) -> None:
    """A call to the access number: ``Stasis(reconnect-pbx,deposit,<access DID>,<pres>)``,
    routed here by the Stasis application."""
    call = AccessCall(ctx=ctx, channel=channel, target=None, language=SERVICE_LANGUAGE.value)
    await channel.answer()
    await call.run(call.start)


async def login_from_greeting(
    ctx: FlowContext, channel: CallChannel, target: voicemail.MailboxTarget, *, carrying_call_id: int | None = None
) -> None:
    """``*`` during the greeting of ``target``'s number: the PIN only (called by
    ``deposit.DepositCall.login``; and by an alert call, ``carrying_call_id`` its call record)."""
    call = AccessCall(
        ctx=ctx, channel=channel, target=target, language=Language(target.language).value,
        carrying_call_id=carrying_call_id,
    )  # fmt: skip
    await call.run(call.ask_pin)


@dataclass
class AccessCall(MailboxCall):
    """The login and the main menu; the call's state and shared helpers are in ``MailboxCall``."""

    typed_number: str | None = field(default=None, repr=False)
    failures: int = 0
    silences: int = 0

    # -- helpers -------------------------------------------------------------------------------

    async def digits(self, max_digits: int) -> str | None:
        return await collect_digits(
            self.channel, max_digits=max_digits, first_timeout=self.timeout, next_timeout=DIGIT_PAUSE_SECONDS
        )

    def _silence(self) -> Step | None:
        """One more silent prompt: None while it may be repeated, else the goodbye."""
        self.silences += 1
        if self.silences > 2:
            return self.silence_goodbye()
        return None

    def silence_goodbye(self) -> Step:
        """The caller stayed silent through the repeats: say that the call ends and that the
        messages are kept, then goodbye."""
        log.info("channel %s: no key pressed, the call ends", self.channel.id)
        return self.goodbye("no-input-goodbye")

    # -- login ---------------------------------------------------------------------------------

    async def start(self) -> Step:
        """The access number: braked at once if guessing is going on, else the personal number."""
        brake = access.BrakePolicy.from_settings(self.settings.access)
        braked = await self.ctx.db(access.login_brake, self.channel.caller_number, brake)
        if braked is not None:
            return self._braked(braked)
        return self.ask_number

    def _braked(self, braked: access.Brake) -> Step:
        metrics.LOGIN_BRAKED.labels(scope=braked.scope).inc()
        log.warning(
            "channel %s: login brake (%s): %d failed logins in the last %d min, limit %d: nothing checked",
            self.channel.id,
            "this calling number" if braked.scope == "caller" else "whole service",
            braked.failures,
            self.settings.access.brake_window_minutes,
            braked.limit,
        )
        return self.goodbye("login-try-later")

    async def ask_number(self) -> Step:
        wanted = self.settings.access.personal_number_digits
        prompt = "enter-personal-number" if wanted >= 10 else "enter-personal-number-end"
        await self.say(prompt, interrupt=ENTRY_KEYS)
        typed = await self.digits(wanted)
        if typed is None or typed == CANCELLED:
            return self._silence() or self.ask_number
        self.silences = 0
        self.typed_number = typed
        return self.ask_pin

    async def ask_pin(self) -> Step:
        await self.say("enter-pin", interrupt=ENTRY_KEYS)
        # Every PIN has ``pin.length`` digits (pin_policy): the entry ends there, no "#" needed.
        pin = await self.digits(self.settings.pin.length)
        if pin is None or pin == CANCELLED:
            return self._silence() or self.ask_pin
        self.silences = 0
        return await self._check(pin)

    async def _check(self, pin: str) -> Step:
        started = asyncio.get_running_loop().time()
        policy = access.LockPolicy.from_settings(self.settings.access)
        result = await self.ctx.db(
            access.log_in,
            pin,
            policy,
            access.BrakePolicy.from_settings(self.settings.access),
            caller_number=self.channel.caller_number,
            beneficiary_id=self.target.beneficiary_id if self.target is not None else None,
            typed_number=(self.typed_number or "") if self.target is None else None,
            digits=self.settings.access.personal_number_digits,
            region=self.settings.numbers.default_region,
        )
        elapsed = asyncio.get_running_loop().time() - started
        if elapsed < LOGIN_ANSWER_SECONDS:
            await asyncio.sleep(LOGIN_ANSWER_SECONDS - elapsed)
        outcome = result.outcome
        if outcome == access.LoginOutcome.ACCEPTED:
            self.account = result.account
            self.language = Language(result.account.language).value
            log.info("channel %s: logged in to mailbox %s", self.channel.id, self.account.mailbox_id)
            return self.after_login
        if outcome == access.LoginOutcome.BRAKED:
            return self._braked(result.brake)
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
        if result.alert_now:
            metrics.LOGIN_ALERTS.inc()
            log.warning(
                "channel %s: mailbox %s: %d consecutive PIN failures: someone may be guessing, staff alerted",
                self.channel.id,
                result.mailbox_id,
                result.failures,
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

    # -- after the login: failures to tell, first login, a PIN to change -----------------------

    async def after_login(self) -> Step:
        if self.account.failures_since_last_login:
            await self.say_failures(self.account.failures_since_last_login)
        if not self.account.onboarded:
            return self.first_login
        if self.account.must_change_pin and not await self.require_new_pin():
            return self.goodbye()
        return self.straight_to_messages

    async def say_failures(self, failures: int) -> None:
        """How many wrong PINs were typed since the last login (a stranger may be guessing)."""
        log.info(
            "channel %s: mailbox %s: told of %d failed login(s) since the last one",
            self.channel.id,
            self.account.mailbox_id,
            failures,
        )
        top = prompts.MAX_NUMBER
        count = prompts.number_media(min(failures, top), self.language, self.prompt_set)
        more = self.media("more-than") if failures > top else []
        await self.channel.play(
            [*self.media("failed-logins-since"), *more, *count, *self.media("failed-logins-advice")],
            interrupt=DTMF_KEYS,
        )

    async def require_new_pin(self) -> bool:
        """The PIN staff handed over (enrol, pin reset) must be replaced before the menus."""
        log.info("channel %s: mailbox %s: the PIN staff gave must be changed", self.channel.id, self.account.mailbox_id)
        await self.say("pin-change-required")
        if await self.change_pin_dialogue():
            self.account = dataclasses.replace(self.account, must_change_pin=False)
            return True
        log.info("channel %s: mailbox %s: no new PIN chosen, the menus stay closed", self.channel.id, self.account.mailbox_id)
        return False

    async def first_login(self) -> Step:
        log.info("channel %s: first login of mailbox %s", self.channel.id, self.account.mailbox_id)
        await self.say("first-login-welcome")
        for _ in range(DIALOGUE_ATTEMPTS):
            if await record_greeting(self, GreetingKind.NAME, ["record-your-name"]):
                await self.say("name-recorded")
                break
            await self.say("please-try-again")
        if self.account.must_change_pin:
            if not await self.require_new_pin():
                return self.goodbye()
        else:
            choice = await self.menu_choice(self.media("change-pin-offer"), "1#")
            if choice == "1":
                await self.change_pin_dialogue()
        await self.ctx.db(access.complete_onboarding, self.account.mailbox_id)
        log.info("channel %s: mailbox %s onboarded", self.channel.id, self.account.mailbox_id)
        return self.main_menu

    # -- main menu -----------------------------------------------------------------------------

    async def straight_to_messages(self) -> Step:
        """The counts in one sentence, then the first new message at once (flows/listening.py);
        with no new message, the counts and the menu."""
        counts = await self.ctx.db(access.message_counts, self.account.mailbox_id)
        if counts.new == 0:
            return self._menu(self.counts_said(counts))
        # The new messages alone ("un nouveau message"): the saved ones come with the menu.
        await self.channel.play(self.counts_said(counts, new_only=True), interrupt=DTMF_KEYS)
        return Listening(self).start_straight

    async def main_menu(self) -> Step:
        """The message counts ("your mailbox is full" when it is), then the menu."""
        counts = await self.ctx.db(access.message_counts, self.account.mailbox_id)
        return self._menu(self.counts_said(counts))

    def counts_said(self, counts: access.MessageCounts, *, new_only: bool = False) -> list[str]:
        """The counts, and "your mailbox is full" at or over the capacity: it is checked when a
        call starts, so simultaneous callers may fill a box past it (nothing is lost)."""
        said = counts_media(counts, self.language, self.prompt_set, new_only=new_only)
        if counts.new + counts.saved >= self.settings.voicemail.mailbox_capacity:
            log.info("channel %s: mailbox %s is full", self.channel.id, self.account.mailbox_id)
            said += self.media("mailbox-full-owner")
        return said

    async def menu(self) -> Step:
        """The menu without the counts (after an action that did not change them)."""
        return await self._menu([])()

    def _menu(self, before: list[str]) -> Step:
        async def menu() -> Step:
            menu = [self.ctx.prompt(name, language) for name, language in main_menu_prompts(self.language)]
            key = await self.menu_choice(menu, "123456" + MAIN_MENU_KEY + BACK_KEY + CONFIRM_KEY, intro=before)
            if key is None:
                return self.silence_goodbye()
            if key == CONFIRM_KEY:
                return self.confirm_quit
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
            if key == MAIN_MENU_KEY:
                return self.menu
            if key == "6":  # the current phone (issue 13), said in the help
                return PhoneMenu(self).menu
            await self.say(*main_help_prompts(), interrupt=DTMF_KEYS)
            return self.menu

        return menu

    async def confirm_quit(self) -> Step:
        """"#" in the main menu: a second "#" hangs up; any other key, or silence, goes back to
        the menu (a key pressed by mistake never ends the call)."""
        await self.say("confirm-quit", interrupt=DTMF_KEYS)
        key = await self.channel.get_key(self.timeout)
        if key == CONFIRM_KEY:
            return self.goodbye()
        return self.menu

    async def make_call(self) -> Step:
        await self.say("enter-number-to-call", interrupt=DTMF_KEYS)
        destination = await self.digits(MAX_DIALLED_DIGITS)
        if destination == CANCELLED:
            await self.cancelled()
            return self.menu
        if destination is None:
            return self.menu
        await self.call_out(destination, is_callback=False)
        return self.menu

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
                return await self.cancelled()
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
                return await self.cancelled()
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

    async def cancelled(self) -> bool:
        """"*" in an entry: said, so that the caller knows nothing was done."""
        await self.say("entry-cancelled", interrupt=DTMF_KEYS)
        return False

    def weak_pin_media(self, reason_code: str, length: int) -> list[str]:
        return self.media(*weak_pin_prompts(reason_code, length))

    async def change_language(self) -> Step:
        new = Language(other_language(self.language))
        await self.ctx.db(access.set_language, self.account.beneficiary_id, new)
        self.language = new.value
        log.info("channel %s: language set to %s", self.channel.id, new.value)
        await self.say("language-changed", interrupt=DTMF_KEYS)
        return self.menu


def counts_media(counts: access.MessageCounts, language: str, prompt_set: str, *, new_only: bool = False) -> list[str]:
    """"Vous avez 2 nouveaux messages et 1 message gardé", or "vous n'avez aucun message"; with
    ``new_only`` (straight to the messages) "un nouveau message", which the short envelope
    continues: "un nouveau message, reçu aujourd'hui à 14 h 30, du ..."."""
    if counts.new == 0 and counts.saved == 0:
        return prompts.media_list(["no-messages"], language, prompt_set)
    top = prompts.MAX_NUMBER

    def count(n: int, singular: str, plural: str) -> list[str]:
        return prompts.count_media(min(n, top), singular, plural, language, prompt_set)

    if new_only:
        return count(counts.new, "new-message", "new-messages")
    return [
        prompts.media("you-have", language, prompt_set),
        *count(counts.new, "new-message", "new-messages"),
        prompts.media("and", language, prompt_set),
        *count(counts.saved, "saved-message", "saved-messages"),
    ]


def other_language(language: str) -> str:
    return Language.EN.value if language == Language.FR.value else Language.FR.value


def main_menu_prompts(language: str) -> list[tuple[str, str]]:
    """The main menu as (prompt, language): its choices, then the language offer in the other
    language, which a person who does not understand the menu's language can follow."""
    return [("main-menu", language), ("language-offer", other_language(language))]


def main_help_prompts() -> list[str]:
    """``*`` in the main menu: the choices the menu leaves out, then the key map."""
    return ["main-help", "help-phone", KEY_MAP_PROMPT]


def weak_pin_prompts(reason_code: str, length: int) -> list[str]:
    """What a refused new PIN is answered: ``pin-weak-<reason>``, the length spelt out for a PIN
    of the wrong length, and ``pin-weak-generic`` for a reason without a prompt of its own."""
    if reason_code == "length":
        return ["pin-weak-length", "pin-must-have", f"number-{min(length, prompts.MAX_NUMBER)}", "pin-digits"]
    name = f"pin-weak-{reason_code}"
    if not re.fullmatch(r"[a-z-]+", reason_code) or name not in prompts.CATALOGUE:
        return ["pin-weak-generic"]
    return [name]
