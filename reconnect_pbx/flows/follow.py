"""Follow: a call to a personal number rings the person's current phone first.

The deposit flow calls ``ring_first`` once it knows whose number was dialled; ``serve`` calls
``confirm_phone`` for each confirmation call wanted (``phone set``: "press 1 to confirm that this
phone is yours"). Both place one outgoing leg on the trunk (``OutgoingLeg``) under the limits of
callbacks: the destination policy again, then ``outbound.begin_call`` (one outgoing call at a time
per person, the trunk's capacity, the monthly quota, the daily budget), a call record (flow
``follow`` or ``phone-confirm``), and ``TIMEOUT(absolute)`` on the leg so that Asterisk cuts it even
if we die. The leg enters Stasis, once answered, as ``owned,<flow>,<owner>``: the router leaves it
to us, ``reconcile.py`` hangs it up if its owner is gone.

Follow (``FollowCall``; each state does its work and returns the next, None: not taken)::

    phone to ring? (confirmed, follow on) ─ no ───────────────────────> greeting, as before
    destination policy, limits ─ refused ─────────────────────────────> greeting
    ringback to the caller; originate to the phone, presenting the caller's number (the personal
    number when withheld), the personal number in a Diversion header
    ringing ─ busy / no answer / unreachable / failure ───────────────> greeting
          │ answered
    ask: "a call for your personal number, from <number>; press 1 to take the call"
          ─ no 1 within follow.accept_seconds (a voicemail, a pocket) ─> greeting
          │ 1
    converse: the caller is answered and bridged with the phone until either hangs up or the
              callback cut (max_call_seconds, quota, budget); the phone hears "one minute left"
              ``callback.warning_seconds`` before it

The caller hears nothing of the attempt but ringback. A caller who hangs up while the phone rings
ends everything: the leg is hung up, nothing is stored. Whatever happens, ``clean_up`` hangs up the
leg, destroys the bridge, gives the caller's channel back without a timeout and writes the end of
the call record.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Optional

from .. import metrics, prompts
from ..ari import AriClient, AriError, ChannelGone
from ..services import alerts, current_phone, outbound, voicemail
from ..services.destination_policy import E164_FORM, Decision, masked
from ..services.voicemail import MailboxTarget
from . import access, callback
from .callback import LegWatch
from .channel import OWNED_CHANNEL_ARG, CallChannel, CallerHungUp, destroy_bridge
from .context import FlowContext

log = logging.getLogger(__name__)

Step = Optional[Callable[[], Awaitable["Step"]]]

FOLLOW_FLOW = "follow"
CONFIRM_FLOW = "phone-confirm"
ALERT_FLOW = "alert"
ID_PREFIX = "follow-"
ACCEPT_KEY = "1"
# Extra time, beyond the ring time, we wait for Asterisk to tell how the dialling ended.
DIAL_EVENT_MARGIN_SECONDS = 10
# The longest question we play on the phone ("a call from ... press 1") before its key wait.
QUESTION_SECONDS = 30
# How often a conversation checks its channels over REST after the event stream dropped.
POLL_SECONDS = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class OutgoingLeg:
    """One call to the person's phone, under the callback limits (no ARI beyond this leg)."""

    ctx: FlowContext
    flow: str
    beneficiary_id: int
    own_number: str
    e164: str
    # The channel this leg belongs to (the caller's), for its Stasis arguments; "" for none.
    owner_id: str = ""
    far_id: str = field(default_factory=lambda: f"{ID_PREFIX}{uuid.uuid4().hex}")
    decision: Decision | None = None
    grant: outbound.CallGrant | None = None
    far: CallChannel | None = None
    watch: LegWatch | None = None
    outcome: str = outbound.FAILED

    @property
    def client(self) -> AriClient:
        return self.ctx.client

    @property
    def rules(self):
        return self.ctx.settings.callback

    async def allowed(self) -> bool:
        """The policy (again: the rules may have changed since the phone was set) and the limits."""
        try:
            self.decision = current_phone.check_number(self.e164, rules=self.rules)
        except current_phone.PhoneRefused as refused:
            log.warning("%s to %s refused by the destination policy: %s", self.flow, masked(self.e164), refused)
            return False
        if not E164_FORM.fullmatch(self.own_number or ""):
            # Never place a call that does not present one of our numbers.
            log.error("%s to %s: the person has no number to present", self.flow, masked(self.e164))
            return False
        callback._live_calls.add(self.far_id)
        try:
            self.grant = await self.ctx.db(
                partial(
                    outbound.begin_call,
                    beneficiary_id=self.beneficiary_id,
                    own_number=self.own_number,
                    decision=self.decision,
                    channel_id=self.far_id,
                    rules=self.rules,
                    now=_now(),
                    flow=self.flow,
                )
            )
        except outbound.CallNotAllowed as refused:
            log.info("%s to %s not allowed: %s", self.flow, masked(self.e164), refused.reason.value)
            return False
        return True

    async def dial(self, *, caller_id: str, ring_seconds: int, extra_seconds: int, variables: dict[str, str]) -> bool:
        """Originate the leg; False if Asterisk refused it. ``extra_seconds``: how long it may last
        beyond the ring and the allowed call time (the question)."""
        allowed = self.grant.allowed_seconds
        self.far = CallChannel(self.client, {"id": self.far_id})
        self.watch = LegWatch(self.client, self.owner_id, self.far_id)
        self.outcome = outbound.CANCELLED
        absolute = ring_seconds + extra_seconds + allowed + self.rules.hangup_grace_seconds
        try:
            await self.client.originate(
                self.decision.dial_endpoint(self.rules.trunk_endpoint),
                channel_id=self.far_id,
                app_args=[OWNED_CHANNEL_ARG, self.flow, self.owner_id or self.far_id],
                caller_id=caller_id,
                timeout_seconds=ring_seconds,
                variables={"TIMEOUT(absolute)": str(absolute), **variables},
            )
        except AriError as exc:
            log.error("%s: could not originate the call to %s: %s", self.far_id, masked(self.e164), exc)
            self.watch.far_gone.set()
            self.outcome = outbound.FAILED
            return False
        return True

    async def wait_for_answer(self, ring_seconds: int) -> bool:
        watch = self.watch
        await watch.first_of(
            watch.answered, watch.far_gone, watch.person_gone, timeout=ring_seconds + DIAL_EVENT_MARGIN_SECONDS
        )
        if watch.person_gone.is_set():
            raise CallerHungUp(self.owner_id)
        if watch.answered.is_set() and not watch.far_gone.is_set():
            try:
                await self.ctx.db(outbound.mark_answered, self.grant.call_id, watch.answered_at or _now())
            except Exception:
                log.exception("%s: could not record the answer", self.far_id)
            return True
        if not watch.far_gone.is_set():
            log.warning("%s: no news after %d s: hanging it up", self.far_id, ring_seconds + DIAL_EVENT_MARGIN_SECONDS)
            await self._hang_up_far()
            self.outcome = outbound.NO_ANSWER
        else:
            self.outcome = callback._unanswered_outcome(watch.dial_status, watch.cause)
        log.info("%s: %s to %s not answered: %s", self.far_id, self.flow, masked(self.e164), self.outcome)
        return False

    async def ask(self, media: list[str], accept_seconds: int) -> bool:
        """Play ``media`` on the answered phone and wait ``accept_seconds`` after it for the
        accept key. False on silence, another key only, or a hang-up of the phone."""
        loop = asyncio.get_running_loop()
        try:
            key = await self.far.play(media, interrupt=ACCEPT_KEY, timeout=QUESTION_SECONDS)
            deadline = loop.time() + accept_seconds
            while key != ACCEPT_KEY:
                left = deadline - loop.time()
                if left <= 0:
                    return False
                key = await self.far.get_key(left)
                if key is None:
                    return False
            return True
        except CallerHungUp:  # here: the phone hung up
            return False
        except AriError as exc:
            log.warning("%s: could not ask the phone: %s", self.far_id, exc)
            return False

    async def _hang_up_far(self) -> None:
        try:
            await self.client.hangup(self.far_id)
        except ChannelGone:
            pass

    async def clean_up(self, ended_at: datetime | None = None) -> None:
        """Always: the leg hung up and the call record ended. Each part runs even if another fails."""
        if self.watch is not None:
            if not self.watch.far_gone.is_set():
                await _guard(self._hang_up_far(), self.far_id)
            ended_at = ended_at or self.watch.ended_at
            self.watch.close()
        if self.far is not None:
            self.far.close()
        if self.grant is not None:
            try:
                finish = partial(outbound.finish_call, outcome=self.outcome, ended_at=ended_at or _now())
                seconds = await self.ctx.db(finish, self.grant.call_id)
                metrics.OUTBOUND_BILLED_SECONDS.inc(seconds)
                log.info("%s: %s call %s ended: %s, %d s billed", self.far_id, self.flow, self.grant.call_id, self.outcome, seconds)
            except Exception:  # left "in-progress": reconcile or the next call's tidy-up closes it
                log.exception("%s: could not record the end of call %s", self.far_id, self.grant.call_id)
        callback._live_calls.discard(self.far_id)


async def _guard(work: Awaitable[Any], channel_id: str) -> None:
    try:
        await work
    except (CallerHungUp, ChannelGone):
        pass
    except Exception:
        log.exception("channel %s: clean-up step failed", channel_id)


# -- follow ----------------------------------------------------------------------------------------


async def ring_first(ctx: FlowContext, channel: CallChannel, target: MailboxTarget, caller: str | None) -> bool:
    """Ring the person's current phone before their greeting. True when the person took the call
    (it is over: nothing to record); False when the caller should hear the greeting, as before.
    Raises ``CallerHungUp`` when the caller hung up meanwhile."""
    try:
        phone = await ctx.db(current_phone.phone_to_ring, target.beneficiary_id)
    except Exception as exc:  # the message matters more: straight to the greeting
        log.warning("channel %s: current phone not looked up (%s): greeting", channel.id, exc)
        return False
    if phone is None:
        return False
    call = FollowCall(ctx, channel, target, caller, OutgoingLeg(
        ctx, FOLLOW_FLOW, target.beneficiary_id, target.number, phone.e164, owner_id=channel.id,
    ))  # fmt: skip
    step: Step = call.check
    try:
        while step is not None:
            step = await step()
    except CallerHungUp:
        if not call.taken:
            call.leg.outcome = outbound.CANCELLED
            metrics.FOLLOW_CALLS.labels(outcome="caller-hung-up").inc()
        raise
    except Exception:
        # Any failure of the attempt: the caller still leaves a message.
        log.exception("channel %s: follow failed: greeting", channel.id)
        call.leg.outcome = outbound.FAILED if not call.taken else call.leg.outcome
    finally:
        await call.clean_up()
    if not call.taken:
        metrics.FOLLOW_CALLS.labels(outcome="voicemail").inc()
    return call.taken


@dataclass
class FollowCall:
    ctx: FlowContext
    channel: CallChannel
    target: MailboxTarget
    # The caller's E.164 number; None when withheld.
    caller: str | None
    leg: OutgoingLeg
    taken: bool = False
    ringing: bool = False
    timeout_set: bool = False
    bridge_id: str | None = None
    ended_at: datetime | None = None
    warning_playback: str | None = None

    @property
    def settings(self):
        return self.ctx.settings.follow

    @property
    def client(self) -> AriClient:
        return self.ctx.client

    async def check(self) -> Step:
        if not await self.leg.allowed():
            return None
        log.info("channel %s: ringing the current phone %s first", self.channel.id, masked(self.leg.e164))
        return self.dial

    async def dial(self) -> Step:
        ring = self.settings.ring_seconds
        rules = self.ctx.settings.callback
        await self._set_caller_timeout(
            ring + QUESTION_SECONDS + self.settings.accept_seconds + self.leg.grant.allowed_seconds
            + 2 * rules.hangup_grace_seconds
        )  # fmt: skip
        await self._caller_op(self.client.ring(self.channel.id))
        self.ringing = True
        # A withheld caller: the phone shows the personal number (never "anonymous" from us).
        presented = self.caller or self.target.number
        # The personal number as the redirecting party: chan_pjsip sends it in a Diversion header
        # (send_diversion, on by default), reason follow-me.
        dialled = await self.leg.dial(
            caller_id=presented,
            ring_seconds=ring,
            extra_seconds=QUESTION_SECONDS + self.settings.accept_seconds,
            variables={
                "REDIRECTING(from-num)": self.target.number,
                "REDIRECTING(reason)": "follow_me",
                "REDIRECTING(count)": "1",
            },
        )
        return self.wait_for_answer if dialled else None

    async def wait_for_answer(self) -> Step:
        if not await self.leg.wait_for_answer(self.settings.ring_seconds):
            return None
        return self.ask

    async def ask(self) -> Step:
        language = self.target.language.value
        prompt_set = self.ctx.settings.voicemail.prompt_set
        if self.caller:
            media = [self.ctx.prompt("follow-call-from", language), *prompts.digits_media(self.caller, language, prompt_set)]
        else:
            media = [self.ctx.prompt("follow-caller-withheld", language)]
        media.append(self.ctx.prompt("follow-press-1", language))
        asked = asyncio.ensure_future(self.leg.ask(media, self.settings.accept_seconds))
        caller_gone = asyncio.ensure_future(self.leg.watch.person_gone.wait())
        try:
            await asyncio.wait({asked, caller_gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            caller_gone.cancel()
            if not asked.done():
                asked.cancel()
        if self.leg.watch.person_gone.is_set():
            raise CallerHungUp(self.channel.id)
        if not asked.result():
            log.info("channel %s: the current phone answered but the call was not taken", self.channel.id)
            self.leg.outcome = outbound.NOT_TAKEN
            return None
        return self.converse

    async def converse(self) -> Step:
        watch = self.leg.watch
        rules = self.ctx.settings.callback
        allowed = self.leg.grant.allowed_seconds
        self.taken = True
        self.leg.outcome = outbound.COMPLETED
        metrics.FOLLOW_CALLS.labels(outcome="taken").inc()
        log.info("channel %s: the person took the call on their phone, cut in %d s", self.channel.id, allowed)
        await self._stop_ringing()
        await self._caller_op(self.client.answer(self.channel.id))
        await self._set_caller_timeout(allowed + 2 * rules.hangup_grace_seconds)
        try:
            await self.client.set_variable(self.leg.far_id, "TIMEOUT(absolute)", str(allowed + rules.hangup_grace_seconds))
        except ChannelGone:
            watch.far_gone.set()
        self.bridge_id = f"{ID_PREFIX}bridge-{uuid.uuid4().hex}"
        callback._live_bridges.add(self.bridge_id)
        # proxy_media, as callbacks: both legs run over the same trunk (flows/callback.py).
        await self.client.create_bridge(self.bridge_id, kind="mixing,proxy_media", name=self.bridge_id)
        try:
            await self.client.add_to_bridge(self.bridge_id, [self.channel.id, self.leg.far_id])
        except AriError:
            await watch.poll()
            if not (watch.far_gone.is_set() or watch.person_gone.is_set()):
                raise
        loop = asyncio.get_running_loop()
        cut_at = loop.time() + allowed
        # As callbacks: the person (whose minutes these are) is warned before the cut.
        warn_at = max(loop.time(), cut_at - rules.warning_seconds) if rules.warning_seconds else None
        reconnections = self.client.reconnections
        while loop.time() < cut_at:
            wake = cut_at if warn_at is None else min(cut_at, warn_at)
            await watch.first_of(watch.far_gone, watch.person_gone, timeout=min(wake - loop.time(), POLL_SECONDS))
            if watch.person_gone.is_set() or watch.far_gone.is_set():
                self.ended_at = watch.ended_at or _now()
                log.info("channel %s: the followed call ended", self.channel.id)
                return None
            if warn_at is not None and loop.time() >= warn_at:
                warn_at = None
                await self._warn()
            if not self.client.connected or self.client.reconnections != reconnections:
                await watch.poll()  # events may have been lost: ask Asterisk
        self.ended_at = _now()
        self.leg.outcome = outbound.CUT
        log.info("channel %s: the followed call was cut after %d s", self.channel.id, allowed)
        return None

    async def _warn(self) -> None:
        """"One minute left" on the person's phone, over the conversation (the caller does not hear it)."""
        self.warning_playback = f"{ID_PREFIX}warning-{uuid.uuid4().hex}"
        try:
            media = [self.ctx.prompt("call-limit-warning", self.target.language.value)]
            await self.client.play(self.leg.far_id, media, self.warning_playback)
            log.info("channel %s: one-minute warning played on the phone", self.channel.id)
        except ChannelGone:
            self.leg.watch.far_gone.set()
        except AriError as exc:
            log.warning("channel %s: could not play the warning: %s", self.channel.id, exc)

    async def clean_up(self) -> None:
        if self.warning_playback is not None:
            await _guard(self.client.stop_playback(self.warning_playback), self.channel.id)
        if self.bridge_id is not None:
            bridge_id, self.bridge_id = self.bridge_id, None
            await _guard(destroy_bridge(self.client, bridge_id), self.channel.id)
            callback._live_bridges.discard(bridge_id)
        await self.leg.clean_up(self.ended_at)
        if self.taken:
            # The conversation is over: the caller is hung up by the router (no greeting).
            return
        if not self.channel.hung_up and not (self.leg.watch and self.leg.watch.person_gone.is_set()):
            await _guard(self._stop_ringing(), self.channel.id)
            if self.timeout_set:
                await _guard(self._set_caller_timeout(0), self.channel.id)

    async def _stop_ringing(self) -> None:
        if self.ringing:
            self.ringing = False
            await self._caller_op(self.client.ring_stop(self.channel.id))

    async def _set_caller_timeout(self, seconds: int) -> None:
        """The caller's channel is cut by Asterisk too if we die (0: no cut, as before)."""
        await self._caller_op(self.client.set_variable(self.channel.id, "TIMEOUT(absolute)", str(seconds)))
        self.timeout_set = seconds > 0

    async def _caller_op(self, work: Awaitable[Any]) -> Any:
        try:
            return await work
        except ChannelGone:
            if self.leg.watch is not None:
                self.leg.watch.person_gone.set()
            raise CallerHungUp(self.channel.id) from None


# -- confirmation calls ----------------------------------------------------------------------------


def confirmation_leg(ctx: FlowContext, request: current_phone.ConfirmationRequest) -> OutgoingLeg:
    return OutgoingLeg(ctx, CONFIRM_FLOW, request.beneficiary_id, request.own_number or "", request.e164)


async def confirm_phone(ctx: FlowContext, request: current_phone.ConfirmationRequest, leg: OutgoingLeg) -> str:
    """Call the phone: "press 1 to confirm that this phone is yours". Returns the outcome written
    (``confirmed``, ``refused``, ``no-answer``, ``busy``, ``failed``, ``not-allowed``)."""
    outcome = "not-allowed"
    settings = ctx.settings.follow
    try:
        if await leg.allowed() and await leg.dial(
            caller_id=leg.own_number, ring_seconds=settings.ring_seconds,
            extra_seconds=QUESTION_SECONDS + settings.accept_seconds, variables={},
        ):  # fmt: skip
            outcome = leg.outcome
            if await leg.wait_for_answer(settings.ring_seconds):
                question = [ctx.prompt("phone-confirm", request.language)]
                confirmed = await leg.ask(question, settings.accept_seconds)
                outcome = current_phone.CONFIRMED if confirmed else current_phone.REFUSED
                leg.outcome = outbound.COMPLETED if confirmed else outbound.NOT_TAKEN
                if confirmed:
                    await _guard(leg.far.play([ctx.prompt("phone-confirmed", request.language)], timeout=QUESTION_SECONDS), leg.far_id)
            else:
                outcome = leg.outcome
        elif leg.grant is not None:
            outcome = leg.outcome
    except Exception:
        log.exception("%s: confirmation call failed", leg.far_id)
        outcome = outbound.FAILED
    finally:
        await leg.clean_up()
    try:
        await ctx.db(partial(current_phone.record_confirmation, now=_now()), request, outcome)
    except Exception:
        log.exception("%s: could not record the confirmation call's outcome (%s)", leg.far_id, outcome)
    metrics.PHONE_CONFIRMATIONS.labels(outcome=outcome).inc()
    log.warning(
        "confirmation call of the current phone %s of person %s: %s", masked(request.e164), request.beneficiary_id, outcome
    )
    return outcome


# -- new-message alerts ----------------------------------------------------------------------------


def alert_leg(ctx: FlowContext, call: alerts.AlertCall) -> OutgoingLeg:
    return OutgoingLeg(ctx, ALERT_FLOW, call.beneficiary_id, call.own_number or "", call.e164)


async def alert_person(ctx: FlowContext, call: alerts.AlertCall, leg: OutgoingLeg) -> str:
    """Call the phone: "you have a new message; press 1 to listen", then the PIN login (never
    skipped) and the messages, as a call to the access number. Returns the alert's new state."""
    settings = ctx.settings.follow
    answered = False
    try:
        if await leg.allowed() and await leg.dial(
            caller_id=leg.own_number, ring_seconds=settings.ring_seconds,
            extra_seconds=QUESTION_SECONDS + settings.accept_seconds, variables={},
        ):  # fmt: skip
            if await leg.wait_for_answer(settings.ring_seconds):
                language = await _alert_language(ctx, leg)
                answered = await leg.ask([ctx.prompt("alert-new-message", language)], settings.accept_seconds)
                leg.outcome = outbound.COMPLETED if answered else outbound.NOT_TAKEN
                if answered:
                    await _listen(ctx, leg)
    except Exception:
        log.exception("%s: alert call failed", leg.far_id)
    finally:
        await leg.clean_up()
    try:
        state = await ctx.db(partial(alerts.finish_attempt, rules=settings, now=_now()), call.alert_id, answered=answered)
    except Exception:
        log.exception("%s: could not record how the alert call went", leg.far_id)
        state = "unknown"
    metrics.ALERT_CALLS.labels(outcome="answered" if answered else leg.outcome).inc()
    log.info("%s: alert %s attempt %d: %s", leg.far_id, call.alert_id, call.attempt, state)
    return state


async def _alert_language(ctx: FlowContext, leg: OutgoingLeg) -> str:
    target = await ctx.db(voicemail.find_mailbox_for_number, leg.own_number, _now())
    return target.language.value if target else "fr"


async def _listen(ctx: FlowContext, leg: OutgoingLeg) -> None:
    """The PIN login and the menus on the alert's leg, until the person hangs up or the cut."""
    target = await ctx.db(voicemail.find_mailbox_for_number, leg.own_number, _now())
    if target is None:
        return
    try:
        await ctx.client.set_variable(
            leg.far_id, "TIMEOUT(absolute)", str(leg.grant.allowed_seconds + ctx.settings.callback.hangup_grace_seconds)
        )
        leg.far.clear_keys()
        await access.login_from_greeting(ctx, leg.far, target, carrying_call_id=leg.grant.call_id)
    except (CallerHungUp, ChannelGone):
        pass
