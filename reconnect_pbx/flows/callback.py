"""Callback: a logged-in person calls back a caller, or dials a landline, for free.

The access flow calls ``call_out`` on key 2 (main menu: the typed digits; while listening to a
message: the caller's E.164 number, None when withheld) and gets the person back in its menu when
it returns. A hang-up of the person raises ``CallerHungUp`` as every other channel operation does.

States (``OutboundCall``; each does its work and returns the next, None is back to the menu)::

    check_destination ─ refused ──────────────────────────────────> refuse (reason, record)
          │ allowed
    check_limits ─ limit reached ─────────────────────────────────> say why
          │ granted (call record "in-progress")
    dial: "calling", ringback, originate PJSIP/<E.164>@trunk
          │
    ringing ─ busy / no answer / failure ─────────────────────────> say the outcome
          │ answered
    converse: mixing bridge; warning one minute before the cut;
              far end hangs up → "call ended"; the cut → "call time up"; person hangs up → end

Whatever happens, ``clean_up`` hangs up the far end, destroys the bridge, restores the person's
channel and writes the end of the call record (``finally``). The record is billed on Asterisk's
clock: from the far end's StasisStart (its answer) to the first hang-up event of either leg. The
outcome prompt comes only once the person has left the destroyed bridge (``destroy_bridge``).

The cut holds without us: the outbound channel is created with ``TIMEOUT(absolute)`` (ring time +
allowed time + grace), reset to allowed time + grace at the answer, and read back after the
originate: a channel whose absolute timeout did not take is hung up at once (``func_timeout.so``
must be loaded). The person's channel gets the same cut one grace later, so that if the application
dies mid-call nobody is left in a bridge nobody drives; it gets its own timeout back afterwards.
The application's own cut comes ``hangup_grace_seconds`` before Asterisk's, so it normally wins.

The outbound channel presents the person's own number: ``callerId`` of the originate becomes the
connected line, which chan_pjsip sends in From and in P-Asserted-Identity (``send_pai`` on the
trunk). It enters Stasis, once answered, as ``owned,callback,<person channel>``: the router leaves
it to us. Before each call, calls left "in-progress" by a dead process are closed and empty bridges
it left behind are destroyed (``_tidy_after_a_crash``): ``reconcile.py`` does the same at every
(re)connection; this only makes sure a crash never blocks a person's next call ("one at a time").
The bridge is ``mixing,proxy_media``: see ``converse``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Optional

from .. import metrics
from ..ari import AriClient, AriError, ChannelGone, Event, EventTimeout
from ..services import outbound
from ..services.destination_policy import E164_FORM, Decision, decide, masked
from .channel import HANGUP_EVENTS, OWNED_CHANNEL_ARG, REPLAY_UNSTARTED_SECONDS, CallChannel, CallerHungUp, destroy_bridge
from .context import FlowContext

log = logging.getLogger(__name__)

Step = Optional[Callable[[], Awaitable["Step"]]]

# What the access flow passes when the person cancelled the number with '*' or typed nothing.
CANCELLED_ENTRIES = frozenset({"", "*"})
# Bridges and outbound channels we create carry this prefix (a crash leaves them recognisable).
ID_PREFIX = "callback-"
# Extra time, beyond the ring timeout, we wait for Asterisk to tell how the dialling ended.
DIAL_EVENT_MARGIN_SECONDS = 10
# How often a call in progress checks its channels over REST after the event stream dropped.
POLL_SECONDS = 5.0
# How the call ended ("call ended", "busy"...) is a second or two: if nothing says it played after
# this, the person is back in the menu anyway (and a warning logged).
OUTCOME_PROMPT_SECONDS = 10

LIMIT_PROMPTS: dict[outbound.LimitReason, str] = {
    outbound.LimitReason.SUSPENDED: "outbound-suspended",
    outbound.LimitReason.IN_CALL: "call-already-in-progress",
    outbound.LimitReason.TRUNK_FULL: "all-lines-busy",
    outbound.LimitReason.QUOTA: "quota-exhausted",
    outbound.LimitReason.DAILY_BUDGET: "calls-unavailable-today",
}
OUTCOME_PROMPTS: dict[str, str] = {
    outbound.BUSY: "call-busy",
    outbound.NO_ANSWER: "call-no-answer",
    outbound.FAILED: "call-failed",
    outbound.COMPLETED: "call-ended",
    outbound.CUT: "call-time-up",
}
# Q.850 causes of an unanswered outbound channel.
_BUSY_CAUSES = frozenset({17})
_NO_ANSWER_CAUSES = frozenset({18, 19})

# Bridges and outbound channels of the calls this process is driving: the crash tidy-up leaves
# them alone.
_live_bridges: set[str] = set()
_live_calls: set[str] = set()


async def call_out(
    ctx: FlowContext,
    channel: CallChannel,
    *,
    beneficiary_id: int,
    own_number: str,
    language: str,
    destination: str | None,
    is_callback: bool,
    carrying_call_id: int | None = None,
) -> None:
    """Place the outbound call (``destination``: E.164 for a callback, typed digits otherwise;
    None for a withheld caller), bridge it, and return when it ends. ``carrying_call_id``: the
    person's channel is itself one of our outgoing calls (an alert call): ``outbound.begin_call``."""
    if not is_callback and (destination is None or destination.strip() in CANCELLED_ENTRIES):
        return
    call = OutboundCall(
        ctx=ctx,
        channel=channel,
        beneficiary_id=beneficiary_id,
        own_number=own_number,
        language=language,
        destination=destination,
        is_callback=is_callback,
        carrying_call_id=carrying_call_id,
    )
    step: Step = call.check_destination
    try:
        while step is not None:
            step = await step()
    except CallerHungUp:
        raise
    except BaseException:
        call.outcome = outbound.FAILED
        raise
    finally:
        await call.clean_up()


@dataclass
class OutboundCall:
    ctx: FlowContext
    channel: CallChannel
    beneficiary_id: int
    own_number: str
    language: str
    destination: str | None = field(repr=False)
    is_callback: bool
    carrying_call_id: int | None = None
    decision: Decision | None = None
    grant: outbound.CallGrant | None = None
    far_id: str = field(default_factory=lambda: f"{ID_PREFIX}{uuid.uuid4().hex}")
    bridge_id: str | None = None
    watch: LegWatch | None = None
    outcome: str = outbound.FAILED
    ended_at: datetime | None = None
    # The person's own absolute timeout before the call (seconds left, 0: none), to give it back.
    person_timeout: float | None = None
    person_timeout_read_at: float = 0.0
    ringing: bool = False
    warning_playback: str | None = None

    @property
    def client(self) -> AriClient:
        return self.ctx.client

    @property
    def rules(self):
        return self.ctx.settings.callback

    async def say(self, *names: str) -> None:
        await self.channel.play(self.ctx.prompts(list(names), self.language), timeout=120)

    # -- destination and limits ----------------------------------------------------------------

    async def check_destination(self) -> Step:
        self.decision = decide(self.destination, is_callback=self.is_callback, rules=self.rules)
        log.info(
            "channel %s: %s to %s: %s",
            self.channel.id,
            "callback" if self.is_callback else "dialled call",
            masked(self.decision.e164),
            self.decision.code,
        )
        return self.check_limits if self.decision.allowed else self.refuse

    async def refuse(self) -> Step:
        decision = self.decision
        suspended_now = False
        try:
            refusal = await self.ctx.db(
                partial(
                    outbound.record_refusal,
                    beneficiary_id=self.beneficiary_id,
                    own_number=self.own_number,
                    destination=self.destination,
                    decision=decision,
                    channel_id=self.channel.id,
                    rules=self.rules,
                    now=_now(),
                )
            )
            suspended_now = refusal.suspended_now
        except Exception:  # the person still hears why; the log says what was not recorded
            log.exception("channel %s: could not record the refused destination", self.channel.id)
        metrics.OUTBOUND_REFUSED.labels(category=decision.category.value).inc()
        names = [decision.prompt]
        if suspended_now:
            names.append("outbound-suspended")
        await self.say(*names)
        return None

    async def check_limits(self) -> Step:
        if not E164_FORM.fullmatch(self.own_number or ""):
            # Never place a call that does not present the person's own number.
            log.error("channel %s: the person has no number to present: no outgoing call", self.channel.id)
            await self.say("call-failed")
            return None
        await self._tidy_after_a_crash()
        _live_calls.add(self.far_id)
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
                    carrying_call_id=self.carrying_call_id,
                )
            )
        except outbound.CallNotAllowed as refused:
            log.info("channel %s: outgoing call not allowed (%s)", self.channel.id, refused.reason.value)
            await self.say(LIMIT_PROMPTS[refused.reason])
            return None
        log.info(
            "channel %s: outgoing call %s allowed for %d s on channel %s",
            self.channel.id,
            self.grant.call_id,
            self.grant.allowed_seconds,
            self.far_id,
        )
        return self.dial

    async def _tidy_after_a_crash(self) -> None:
        """Close the records and destroy the empty bridges a dead process left behind."""
        try:
            channels = await self.client.list_channels()
            bridges = await self.client.list_bridges()
            live = {c["id"] for c in channels} | _live_calls
            closed = await self.ctx.db(partial(outbound.close_vanished_calls, rules=self.rules, now=_now()), live)
            if closed:
                log.warning("channel %s: closed %d outgoing call(s) left by a dead process", self.channel.id, closed)
            for bridge in bridges:
                bridge_id = str(bridge.get("id", ""))
                if bridge_id.startswith(ID_PREFIX) and bridge_id not in _live_bridges and not bridge.get("channels"):
                    log.warning("channel %s: destroying bridge %s left by a dead process", self.channel.id, bridge_id)
                    await self.client.destroy_bridge(bridge_id)
        except Exception:
            log.exception("channel %s: could not tidy up after an earlier crash", self.channel.id)

    # -- the call ------------------------------------------------------------------------------

    async def dial(self) -> Step:
        allowed = self.grant.allowed_seconds
        ring = self.rules.ring_timeout_seconds
        grace = self.rules.hangup_grace_seconds
        self.outcome = outbound.CANCELLED  # until the far end answers or says why not
        await self.say("calling")
        await self._remember_person_timeout()
        await self._set_timeout(self.channel.id, ring + allowed + 2 * grace)
        self.watch = LegWatch(self.client, self.channel.id, self.far_id)
        if self.channel.hung_up:  # before the watch was listening
            raise CallerHungUp(self.channel.id)
        await self._op(self.client.ring(self.channel.id))
        self.ringing = True
        try:
            await self.client.originate(
                self.decision.dial_endpoint(self.rules.trunk_endpoint),
                channel_id=self.far_id,
                app_args=[OWNED_CHANNEL_ARG, "callback", self.channel.id],
                caller_id=self.own_number,
                timeout_seconds=ring,
                variables={"TIMEOUT(absolute)": str(ring + allowed + grace)},
            )
        except AriError as exc:
            log.error("channel %s: could not originate the outgoing call: %s", self.channel.id, exc)
            self.watch.far_gone.set()
            return self.announce(outbound.FAILED)
        if not await self._absolute_timeout_holds():
            log.error(
                "channel %s: Asterisk did not take TIMEOUT(absolute) on %s (is func_timeout.so loaded?):"
                " hanging up",
                self.channel.id,
                self.far_id,
            )
            await self.client.hangup(self.far_id)
            return self.announce(outbound.FAILED)
        return self.wait_for_answer

    async def _absolute_timeout_holds(self) -> bool:
        try:
            left = float(await self.client.get_variable(self.far_id, "TIMEOUT(absolute)") or 0)
        except ChannelGone:
            return True  # already over (busy...): nothing left to cut
        except (AriError, ValueError):
            return False
        return left > 0

    async def wait_for_answer(self) -> Step:
        watch = self.watch
        timeout = self.rules.ring_timeout_seconds + DIAL_EVENT_MARGIN_SECONDS
        await watch.first_of(watch.answered, watch.far_gone, watch.person_gone, timeout=timeout)
        if watch.person_gone.is_set():
            self.outcome = outbound.CANCELLED
            log.info("channel %s: hung up while the outgoing call was ringing", self.channel.id)
            raise CallerHungUp(self.channel.id)
        if watch.answered.is_set() and not watch.far_gone.is_set():
            return self.converse
        if not watch.far_gone.is_set():
            log.warning("channel %s: no news of %s after %d s: hanging it up", self.channel.id, self.far_id, timeout)
            await self.client.hangup(self.far_id)
            return self.announce(outbound.NO_ANSWER)
        outcome = _unanswered_outcome(watch.dial_status, watch.cause)
        log.info(
            "channel %s: outgoing call not answered: %s (dial status %s, cause %s)",
            self.channel.id,
            outcome,
            watch.dial_status or "-",
            watch.cause,
        )
        return self.announce(outcome)

    async def converse(self) -> Step:
        watch = self.watch
        loop = asyncio.get_running_loop()
        answered = loop.time()
        # Billed from Asterisk's own clock: the far end entered Stasis when it answered.
        answered_at = watch.answered_at or _now()
        allowed = self.grant.allowed_seconds
        grace = self.rules.hangup_grace_seconds
        self.outcome = outbound.COMPLETED
        log.info("channel %s: outgoing call answered, cut in %d s", self.channel.id, allowed)
        # From now on both cuts count from the answer.
        await self._set_timeout(self.far_id, allowed + grace, far=True)
        await self._set_timeout(self.channel.id, allowed + 2 * grace)
        await self._stop_ringing()
        try:
            await self.ctx.db(outbound.mark_answered, self.grant.call_id, answered_at)
        except Exception:
            log.exception("channel %s: could not record the answer", self.channel.id)
        self.bridge_id = f"{ID_PREFIX}bridge-{uuid.uuid4().hex}"
        _live_bridges.add(self.bridge_id)
        # proxy_media: no native RTP relaying. Both legs run over the same carrier trunk; relayed
        # packets keep the other leg's SSRC and sequence numbers, and the carrier simulator (an
        # Asterisk) intermittently dropped them, leaving one side in silence. Terminating the media
        # on each leg costs a little CPU and gives each leg one continuous stream.
        await self.client.create_bridge(self.bridge_id, kind="mixing,proxy_media", name=self.bridge_id)
        try:
            await self.client.add_to_bridge(self.bridge_id, [self.channel.id, self.far_id])
        except AriError:
            await watch.poll()
            if not (watch.far_gone.is_set() or watch.person_gone.is_set()):
                raise
            # One of them left meanwhile: the loop below ends the call.
        cut_at = answered + allowed
        warn_at = max(answered, cut_at - self.rules.warning_seconds) if self.rules.warning_seconds else None
        reconnections = self.client.reconnections
        while True:
            now = loop.time()
            if now >= cut_at:
                break
            wake = cut_at if warn_at is None else min(cut_at, warn_at)
            await watch.first_of(watch.far_gone, watch.person_gone, timeout=min(wake - now, POLL_SECONDS))
            if watch.person_gone.is_set():
                self.ended_at = watch.ended_at or _now()
                log.info("channel %s: hung up during the outgoing call", self.channel.id)
                raise CallerHungUp(self.channel.id)
            if watch.far_gone.is_set():
                self.ended_at = watch.ended_at or _now()
                log.info("channel %s: the far end hung up", self.channel.id)
                return self.back_from_bridge(outbound.COMPLETED)
            if warn_at is not None and loop.time() >= warn_at:
                warn_at = None
                await self._warn()
            if not self.client.connected or self.client.reconnections != reconnections:
                await watch.poll()  # events may have been lost: ask Asterisk
        self.ended_at = _now()
        log.info("channel %s: outgoing call cut after %d s", self.channel.id, allowed)
        self.outcome = outbound.CUT
        await self.client.hangup(self.far_id)
        return self.back_from_bridge(outbound.CUT)

    async def _warn(self) -> None:
        self.warning_playback = f"{ID_PREFIX}warning-{uuid.uuid4().hex}"
        try:
            await self.client.play(
                self.channel.id, [self.ctx.prompt("call-limit-warning", self.language)], self.warning_playback
            )
            log.info("channel %s: one-minute warning played", self.channel.id)
        except ChannelGone:
            self.watch.person_gone.set()
        except AriError as exc:
            log.warning("channel %s: could not play the warning: %s", self.channel.id, exc)

    def back_from_bridge(self, outcome: str) -> Step:
        async def back() -> Step:
            await self._leave_bridge()
            return self.announce(outcome)

        return back

    def announce(self, outcome: str) -> Step:
        self.outcome = outcome

        async def announce() -> Step:
            await self._stop_ringing()
            await self._give_back_person_timeout()
            try:
                await self.channel.play(
                    self.ctx.prompts([OUTCOME_PROMPTS[outcome]], self.language),
                    timeout=OUTCOME_PROMPT_SECONDS,
                    replay_unstarted_after=REPLAY_UNSTARTED_SECONDS,  # just out of the bridge
                )
            except EventTimeout:
                # Back to the menu rather than a long silence; the log says the prompt went missing.
                log.warning(
                    "channel %s: %s was not played within %d s", self.channel.id, OUTCOME_PROMPTS[outcome],
                    OUTCOME_PROMPT_SECONDS,
                )
            return None

        return announce

    # -- cleaning up ---------------------------------------------------------------------------

    async def clean_up(self) -> None:
        """Always: the far end hung up, the bridge gone, the person's channel as it was, the call
        record ended. Each part runs even if another fails."""
        if self.watch is not None:
            if not self.watch.far_gone.is_set():
                await self._guard(self.client.hangup(self.far_id))
            self.watch.close()
        if self.warning_playback is not None:
            await self._guard(self.client.stop_playback(self.warning_playback))
        await self._guard(self._leave_bridge())
        if not self.channel.hung_up and not (self.watch and self.watch.person_gone.is_set()):
            await self._guard(self._stop_ringing())
            await self._guard(self._give_back_person_timeout())
        if self.grant is not None:
            try:
                finish = partial(outbound.finish_call, outcome=self.outcome, ended_at=self.ended_at or _now())
                seconds = await self.ctx.db(finish, self.grant.call_id)
                metrics.OUTBOUND_BILLED_SECONDS.inc(seconds)
                log.info(
                    "channel %s: outgoing call %s ended: %s, %d s billed",
                    self.channel.id,
                    self.grant.call_id,
                    self.outcome,
                    seconds,
                )
            except Exception:  # left "in-progress": the next call's tidy-up closes it
                log.exception("channel %s: could not record the end of call %s", self.channel.id, self.grant.call_id)
        _live_calls.discard(self.far_id)

    async def _leave_bridge(self) -> None:
        if self.bridge_id is None:
            return
        bridge_id, self.bridge_id = self.bridge_id, None
        try:
            # The person hears how the call ended next: only once they have left the bridge.
            await destroy_bridge(self.client, bridge_id)
        finally:
            _live_bridges.discard(bridge_id)

    async def _stop_ringing(self) -> None:
        if self.ringing:
            self.ringing = False
            await self._op(self.client.ring_stop(self.channel.id))

    async def _guard(self, work: Awaitable[Any]) -> None:
        try:
            await work
        except (CallerHungUp, ChannelGone):
            pass
        except Exception:
            log.exception("channel %s: clean-up step failed", self.channel.id)

    async def _op(self, work: Awaitable[Any]) -> Any:
        """An operation on the person's channel: a 404 means they hung up."""
        try:
            return await work
        except ChannelGone:
            if self.watch is not None:
                self.watch.person_gone.set()
            raise CallerHungUp(self.channel.id) from None

    # -- absolute timeouts ---------------------------------------------------------------------

    async def _remember_person_timeout(self) -> None:
        try:
            self.person_timeout = float(await self.client.get_variable(self.channel.id, "TIMEOUT(absolute)") or 0)
        except ChannelGone:
            raise CallerHungUp(self.channel.id) from None
        except (AriError, ValueError) as exc:
            log.warning("channel %s: could not read its absolute timeout: %s", self.channel.id, exc)
            self.person_timeout = 0.0
        self.person_timeout_read_at = asyncio.get_running_loop().time()

    async def _give_back_person_timeout(self) -> None:
        if self.person_timeout is None:
            return
        before, self.person_timeout = self.person_timeout, None
        if before > 0:
            elapsed = asyncio.get_running_loop().time() - self.person_timeout_read_at
            value = f"{max(before - elapsed, 1):.3f}"
        else:
            value = "0"  # none before: none after
        await self._op(self.client.set_variable(self.channel.id, "TIMEOUT(absolute)", value))

    def _within_person_timeout(self, seconds: int) -> int:
        """Never lengthen the person's own cut: a callback placed from an alert call must not
        outlive the alert leg's grant."""
        if not self.person_timeout:  # not read yet, or no cut of its own
            return seconds
        left = self.person_timeout - (asyncio.get_running_loop().time() - self.person_timeout_read_at)
        return max(1, min(seconds, math.floor(left)))

    async def _set_timeout(self, channel_id: str, seconds: int, *, far: bool = False) -> None:
        if not far:
            seconds = self._within_person_timeout(seconds)
        try:
            await self.client.set_variable(channel_id, "TIMEOUT(absolute)", str(seconds))
        except ChannelGone:
            if far:
                self.watch.far_gone.set()
            else:
                raise CallerHungUp(self.channel.id) from None


def _unanswered_outcome(dial_status: str, cause: int | None) -> str:
    if dial_status == "BUSY" or cause in _BUSY_CAUSES:
        return outbound.BUSY
    if dial_status == "NOANSWER" or cause in _NO_ANSWER_CAUSES:
        return outbound.NO_ANSWER
    return outbound.FAILED


def _now() -> datetime:
    return datetime.now(UTC)


class LegWatch:
    """What Asterisk says about the two legs of one outgoing call (also used by flows/follow.py).

    Events are filtered by channel id: a subscription on an id also receives events about other
    channels that mention it (the peer of a Dial event)."""

    def __init__(self, client: AriClient, person_id: str, far_id: str) -> None:
        self.client = client
        self.person_id = person_id
        self.far_id = far_id
        self.answered = asyncio.Event()
        self.far_gone = asyncio.Event()
        self.person_gone = asyncio.Event()
        self.dial_status = ""
        self.cause: int | None = None
        # Asterisk's own times (event timestamps): the far end answered; the first leg went.
        self.answered_at: datetime | None = None
        self.ended_at: datetime | None = None
        self._unsubscribe = [
            client.events.subscribe(person_id, self._on_person_event),
            client.events.subscribe(far_id, self._on_far_event),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _on_person_event(self, event: Event) -> None:
        if event.channel_id == self.person_id and event.type in HANGUP_EVENTS:
            self._ended(event)
            self.person_gone.set()

    def _ended(self, event: Event) -> None:
        if self.ended_at is None:
            self.ended_at = event.timestamp

    def _on_far_event(self, event: Event) -> None:
        if event.type == "Dial":
            if (event.get("peer") or {}).get("id") == self.far_id and event.get("dialstatus"):
                self.dial_status = str(event["dialstatus"])
            return
        if event.channel_id != self.far_id:
            return
        if event.type == "StasisStart":
            self.answered_at = event.timestamp
            self.answered.set()
        elif event.type in ("ChannelHangupRequest", "ChannelDestroyed"):
            if event.get("cause") is not None:
                self.cause = int(event["cause"])
            self._ended(event)
            self.far_gone.set()
        elif event.type == "StasisEnd":
            self._ended(event)
            self.far_gone.set()

    async def first_of(self, *events: asyncio.Event, timeout: float) -> None:
        waits = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waits, timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def poll(self) -> None:
        """Ask Asterisk whether both legs are still there (after a lost event stream)."""
        for channel_id, gone in ((self.far_id, self.far_gone), (self.person_id, self.person_gone)):
            try:
                await self.client.get_channel(channel_id)
            except ChannelGone:
                gone.set()
            except AriError:
                pass
