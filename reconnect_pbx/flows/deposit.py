"""Deposit: someone dials a person's personal number and leaves a message.

States: look up the number → (intercept | the person's current phone first (flows/follow.py) →
mailbox full | greeting) → record → store → goodbye.
Each state does its work and returns the next one; ``None`` ends the call. A message that was
recorded is never thrown away because of an error after recording: if it cannot be stored, the
file stays in Asterisk's spool for the recovery sweep.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Optional

from .. import metrics, prompts
from ..ari import AriError, AriHttpError, NotFound
from ..db import DatabaseUnavailable
from ..models import BeneficiaryStatus, Language
from ..phone import caller_e164
from ..services import voicemail
from ..services.recovery import CUT_MINIMUM_MS, repair_wav
from ..storage import InvalidAudio, wav_duration_ms
from . import access, follow
from .channel import CallChannel, CallerHungUp
from .context import FlowContext

log = logging.getLogger(__name__)

Step = Optional[Callable[[], Awaitable["Step"]]]

# Keys that end the greeting: '*' to log in to one's own mailbox, '#' to skip to the tone.
LOGIN_KEY = "*"
SKIP_GREETING_KEY = "#"

# Where a call goes when the database is down and nothing is known of the number: the dialplan
# records it alone, as when the application is not connected (dialplan/fallback.conf).
FALLBACK_CONTEXT = "fallback-deposit"
# Who held each number when it was last looked up: while PostgreSQL is down, a call to a number
# seen recently still hears the person's (standard) greeting in their language and is recorded
# here. Only the greeting depends on it: the recovery sweep attributes the message again, by who
# held the number at the time of the call, once the database is back.
KNOWN_TARGET_SECONDS = 24 * 3600
KNOWN_TARGETS_MAX = 50_000
_known_targets: dict[str, tuple[float, voicemail.MailboxTarget]] = {}


async def run(ctx: FlowContext, channel: CallChannel, args: list[str]) -> None:
    dialled = args[0] if args else ""
    presentation = args[1] if len(args) > 1 else ""
    call = DepositCall(
        ctx=ctx,
        channel=channel,
        dialled=dialled,
        caller=caller_e164(channel.caller_number, presentation, ctx.settings.numbers.default_region),
        started_at=datetime.now(timezone.utc),
    )
    step: Step = call.look_up
    while step is not None:
        step = await step()


def _recording_name(call: DepositCall) -> str:
    # Called number, caller and time in the name: if the app dies before storing it, the recovery
    # sweep can still attribute the file to whoever held the number at that moment.
    caller = (call.caller or "withheld").lstrip("+")
    millis = int(call.started_at.timestamp() * 1000)
    channel = re.sub(r"[^A-Za-z0-9]", "-", call.channel.id)
    return f"deposit-{call.dialled.lstrip('+')}-{caller}-{millis}-{channel}"


@dataclass
class DepositCall:
    ctx: FlowContext
    channel: CallChannel
    dialled: str
    caller: str | None
    started_at: datetime
    target: voicemail.MailboxTarget | None = None
    recording_name: str = ""
    # The ARI client's reconnection count when the recording started: a recording that Asterisk
    # restarted under has its file found by the spool sweep, if anywhere.
    reconnections_at_record: int = 0
    # Whether the beep already played (as the end of the greeting's playback).
    beeped: bool = False

    @property
    def language(self) -> str:
        return (self.target.language if self.target else Language.FR).value

    def _play(self, names: list[str]) -> list[str]:
        return self.ctx.prompts(names, self.language)

    async def look_up(self) -> Step:
        try:
            self.target = await self.ctx.db(voicemail.find_mailbox_for_number, self.dialled, self.started_at)
        except DatabaseUnavailable as exc:
            log.error("channel %s: database unavailable (%s)", self.channel.id, exc)
            return self.without_database
        _remember(self.dialled, self.target)
        if self.target is None:
            log.info("channel %s: %s is not in service", self.channel.id, self.dialled)
            return self.intercept
        log.info(
            "channel %s: deposit for mailbox %s (caller %s)",
            self.channel.id,
            self.target.mailbox_id,
            "withheld" if self.caller is None else "presented",
        )
        if self.target.status == BeneficiaryStatus.ACTIVE:
            return self.follow
        return self.after_follow()

    async def follow(self) -> Step:
        """Ring the person's current phone first (flows/follow.py); the greeting if not taken."""
        if await follow.ring_first(self.ctx, self.channel, self.target, self.caller):
            return None
        return self.after_follow()

    def after_follow(self) -> Step:
        if self.target.message_count >= self.ctx.settings.voicemail.mailbox_capacity:
            return self.mailbox_full
        return self.greet

    async def without_database(self) -> Step:
        known = _recalled(self.dialled)
        if known is None:
            log.warning("channel %s: number not known from memory; the dialplan takes the message", self.channel.id)
            await self.channel.continue_in_dialplan(FALLBACK_CONTEXT)
            return None
        log.warning(
            "channel %s: deposit for mailbox %s from memory; stored when the database is back",
            self.channel.id,
            known.mailbox_id,
        )
        # Recorded greetings are in the database: the standard one, which needs only the prompts.
        self.target = replace(known, personal_greeting_audio_id=None, name_audio_id=None)
        return self.greet

    async def intercept(self) -> Step:
        await self.channel.answer()
        await self.channel.play(self._play(["not-in-service"]))
        await self.channel.hangup()
        return None

    async def mailbox_full(self) -> Step:
        log.info("channel %s: mailbox %s is full", self.channel.id, self.target.mailbox_id)
        await self.channel.answer()
        key = await self.channel.play(self._play(["mailbox-full"]), interrupt=LOGIN_KEY)
        if key == LOGIN_KEY:
            return self.login
        await self.channel.hangup()
        return None

    async def greet(self) -> Step:
        # Answered first, explicitly: playing on a channel not yet answered sends the greeting as
        # early media and answers only ~2 s later (measured by bench/load.py), which not every
        # carrier passes on to the caller.
        await self.channel.answer()
        # The beep ends the greeting's playback: one ARI request and playback fewer per call
        # (bench/README.md); a greeting cut short by # gets its beep in record().
        async with self.ctx.media.playing(self._personal_audio_id()) as personal:
            key = await self.channel.play(
                [*self._greeting_media(personal), *self._play(["beep"])], interrupt=LOGIN_KEY + SKIP_GREETING_KEY
            )
        if key == LOGIN_KEY:
            return self.login
        self.beeped = key is None
        self.channel.clear_keys()
        return self.record

    def _personal_audio_id(self) -> int | None:
        """The recorded greeting, else the recorded name, else None."""
        target = self.target
        if target.personal_greeting_audio_id is not None:
            return target.personal_greeting_audio_id
        return target.name_audio_id

    def _greeting_media(self, personal: list[str]) -> list[str]:
        """``personal``: the media of ``_personal_audio_id()`` (empty when there is none)."""
        target = self.target
        if personal and target.personal_greeting_audio_id is not None:
            return personal
        if personal:
            who = personal
        else:
            who = prompts.digits_media(target.number, self.language, self.ctx.settings.voicemail.prompt_set)
        return [
            *self._play(["greeting-default-intro"]),
            *who,
            *self._play(["greeting-default-leave"]),
        ]

    async def login(self) -> Step:
        self.channel.clear_keys()
        await access.login_from_greeting(self.ctx, self.channel, self.target)
        return None

    async def record(self) -> Step:
        settings = self.ctx.settings.voicemail
        self.recording_name = _recording_name(self)
        if not self.beeped:
            await self.channel.play(self._play(["beep"]))
        self.reconnections_at_record = self.ctx.client.reconnections
        try:
            result = await self.channel.record(
                self.recording_name,
                max_duration_seconds=settings.max_message_seconds,
                max_silence_seconds=settings.max_silence_seconds,
                terminate_on="#",
            )
        except AriHttpError as exc:
            # Asterisk refused to record (spool missing or not writable, disk full...).
            log.error("channel %s: Asterisk could not record the message: %s", self.channel.id, exc)
            return self.say_goodbye(["technical-problem"])
        log.info(
            "channel %s: recording %s ended by %s (%s)",
            self.channel.id,
            result.state,
            result.ended_by,
            result.cause or "-",
        )
        if result.state != "done":
            log.error("channel %s: the recording %s (%s)", self.channel.id, result.state, result.cause or "-")
            if not self.channel.hung_up:
                await self.channel.play(self._play(["technical-problem"]))
                await self.channel.hangup()
            return None
        return self.store

    async def store(self) -> Step:
        try:
            audio = await self.ctx.client.stored_recording_file(self.recording_name)
        except NotFound:
            if self.ctx.client.reconnections != self.reconnections_at_record or not self.ctx.client.connected:
                # Asterisk went away during the recording (the call with it): not lost, the spool
                # sweep stores the file once Asterisk lists it again.
                log.warning(
                    "channel %s: Asterisk restarted during the recording and does not list its file yet;"
                    " left to the spool sweep",
                    self.channel.id,
                )
            else:
                log.error("channel %s: Asterisk kept no file for the recording", self.channel.id)
            return self.say_goodbye(["technical-problem"])
        # A header Asterisk never finished (it crashed meanwhile) would say 0 ms: repaired, and the
        # message kept even if short, since the caller was cut off.
        repaired = repair_wav(audio)
        minimum_ms = CUT_MINIMUM_MS if repaired is not audio else self.ctx.settings.voicemail.min_message_seconds * 1000
        audio = repaired
        try:
            duration_ms = wav_duration_ms(audio)
        except InvalidAudio as exc:
            log.error("channel %s: recording is not a valid WAV (%s); left in the spool", self.channel.id, exc)
            return self.say_goodbye(["technical-problem"])
        if duration_ms < minimum_ms:
            log.info("channel %s: message of %d ms dropped (too short)", self.channel.id, duration_ms)
            await self.ctx.client.delete_stored_recording(self.recording_name)
            return self.say_goodbye(["message-too-short"])
        message = voicemail.NewMessage(
            mailbox_id=self.target.mailbox_id,
            caller_number=self.caller,
            called_number=self.target.number,
            received_at=self.started_at,
            duration_ms=duration_ms,
            source_channel_id=self.channel.id,
        )
        try:
            message_id = await self.ctx.db(
                voicemail.store_message, self.ctx.store, message, audio, alert_rules=self.ctx.settings.follow
            )
        except DatabaseUnavailable as exc:
            # Never lose it: the file stays in Asterisk's spool for the recovery sweep.
            log.error("channel %s: could not store the message; left in the spool (%s)", self.channel.id, exc)
            return self.say_goodbye(["message-saved"])
        except Exception:
            log.exception("channel %s: could not store the message; left in the spool", self.channel.id)
            return self.say_goodbye(["message-saved"])
        metrics.MESSAGES_STORED.inc()
        log.info(
            "channel %s: message %s stored (%d ms) in mailbox %s",
            self.channel.id,
            message_id,
            duration_ms,
            self.target.mailbox_id,
        )
        try:
            await self.ctx.client.delete_stored_recording(self.recording_name)
        except AriError:
            log.warning("channel %s: stored, but could not delete the spool file", self.channel.id)
        return self.say_goodbye(["message-saved"])

    def say_goodbye(self, names: list[str]) -> Step:
        async def goodbye() -> Step:
            if self.channel.hung_up:
                return None
            try:
                await self.channel.play(self._play(names))
            except CallerHungUp:
                return None
            await self.channel.hangup()
            return None

        return goodbye


def _remember(number: str, target: voicemail.MailboxTarget | None) -> None:
    _known_targets.pop(number, None)
    if target is None:
        return
    if len(_known_targets) >= KNOWN_TARGETS_MAX:
        _known_targets.pop(next(iter(_known_targets)))
    _known_targets[number] = (time.monotonic(), target)


def _recalled(number: str) -> voicemail.MailboxTarget | None:
    entry = _known_targets.get(number)
    if entry is None or time.monotonic() - entry[0] > KNOWN_TARGET_SECONDS:
        return None
    return entry[1]
