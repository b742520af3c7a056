"""The Stasis application: routes each new channel to its call flow and guards it.

The dialplan hands calls over as ``Stasis(reconnect-pbx,<flow>,<args...>)``; the first argument
names the flow. An unknown flow is logged and the channel goes back to the dialplan; a flow that
fails is logged with the channel id and the caller hears an apology, never silence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from . import metrics, phone
from .ari import AriError, Event
from .db import DatabaseUnavailable
from .flows import access, deposit
from .flows.channel import OWNED_CHANNEL_ARG, CallChannel, CallerHungUp
from .flows.context import FlowContext
from .services.numbers import access_did

log = logging.getLogger(__name__)

Flow = Callable[[FlowContext, CallChannel, list[str]], Awaitable[None]]

FLOWS: dict[str, Flow] = {
    "deposit": deposit.run,
    # Not named by the dialplan: a "deposit" call to the access number is routed here.
    "access": access.run,
}

# The dialplan global that names the access number (dialplan/fallback.conf).
ACCESS_NUMBER_VARIABLE = "RECONNECT_ACCESS_NUMBER"

# Flows that can do nothing useful without PostgreSQL (log in, listen, call back: outbound calls
# fail closed). When it is down, the caller hears "service-unavailable" at once. A deposit goes on
# without it (flows/deposit.py).
NEEDS_DATABASE = frozenset({"access"})


class StasisApplication:
    def __init__(self, ctx: FlowContext, flows: dict[str, Flow] | None = None) -> None:
        self.ctx = ctx
        self.flows = dict(FLOWS if flows is None else flows)
        self.calls: dict[str, asyncio.Task[None]] = {}
        self.access_number = access_did(ctx.settings.access.access_number, ctx.settings.numbers.default_region)
        ctx.client.events.on("StasisStart", self.on_stasis_start)
        ctx.client.on_connected(self.publish_access_number)

    async def publish_access_number(self) -> None:
        """Tell the dialplan which DID is the access number: while we are away, its fallback
        (dialplan/fallback.conf) then says the service is unavailable there instead of taking a
        message that nobody's mailbox could receive. Asterisk keeps it until it restarts."""
        await self.ctx.client.set_global_variable(ACCESS_NUMBER_VARIABLE, self.access_number or "")

    def on_stasis_start(self, event: Event) -> None:
        channel = event["channel"]
        args = [str(a) for a in event.get("args", [])]
        channel_id = channel["id"]
        if channel_id in self.calls or (args and args[0] == OWNED_CHANNEL_ARG):
            return
        self.start_flow(channel, args)

    def start_flow(self, channel: dict, args: list[str]) -> None:
        """Run the flow that ``args`` (the Stasis() arguments) name for ``channel``: a new call, or
        one that a dead process left in our application (``reconcile.py`` resumes it)."""
        channel_id = channel["id"]
        flow_name = args[0] if args else ""
        # Every trunk call arrives as "deposit,<DID>": the access number is one of those DIDs.
        if flow_name == "deposit" and self.access_number and len(args) > 1 and args[1] == self.access_number:
            flow_name = "access"
        flow = self.flows.get(flow_name)
        if flow is None:
            log.error("channel %s: unknown flow %r; back to the dialplan", channel_id, args[:1])
            self._own(channel_id, self._back_to_dialplan(channel_id))
            return
        self._own(channel_id, self._guarded(flow, flow_name, channel, args[1:]))

    def adopt(self, channel_id: str, work: Awaitable[None]) -> None:
        """Own ``work`` for a channel no flow drives (recovery after a crash): tracked as a call."""
        self._own(channel_id, work)

    def _own(self, channel_id: str, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.calls[channel_id] = task
        task.add_done_callback(lambda _: self.calls.pop(channel_id, None))

    async def _back_to_dialplan(self, channel_id: str) -> None:
        try:
            await self.ctx.client.continue_in_dialplan(channel_id)
        except AriError as exc:
            log.warning("channel %s: could not return to the dialplan: %s", channel_id, exc)

    async def _guarded(self, flow: Flow, flow_name: str, channel_data: dict, args: list[str]) -> None:
        channel = CallChannel(self.ctx.client, channel_data)
        log.info("channel %s: %s flow starts", channel.id, flow_name)
        metrics.CALLS_IN_PROGRESS.labels(flow=flow_name).inc()
        try:
            if flow_name in NEEDS_DATABASE:
                # Say at once that the service is down, before the caller types a number and a PIN.
                await self.ctx.db(_database_answers)
            await flow(self.ctx, channel, args)
        except CallerHungUp:
            log.info("channel %s: caller hung up", channel.id)
        except DatabaseUnavailable as exc:
            log.error("channel %s: %s flow stopped, database unavailable (%s)", channel.id, flow_name, exc)
            await self._apologise(channel, "service-unavailable")
        except asyncio.CancelledError:
            log.warning("channel %s: call abandoned at shutdown", channel.id)
            raise
        except Exception:
            log.exception("channel %s: %s flow failed", channel.id, flow_name)
            await self._apologise(channel)
        finally:
            metrics.CALLS_IN_PROGRESS.labels(flow=flow_name).dec()
            channel.close()
            if not channel.hung_up:
                try:
                    await self.ctx.client.hangup(channel.id)
                except AriError as exc:  # Asterisk unreachable: it hangs up on its own side
                    log.warning("channel %s: could not hang up: %s", channel.id, exc)
            # The last line of every call: whatever it wrote or deleted is done (tests wait on it).
            log.debug("channel %s: %s flow done", channel.id, flow_name)

    async def _apologise(self, channel: CallChannel, prompt: str = "technical-problem") -> None:
        try:
            language = channel.language if channel.language in ("fr", "en") else "fr"
            await channel.answer()  # a flow may fail before answering: the caller must hear why
            await channel.play([self.ctx.prompt(prompt, language)], timeout=30)
        except Exception as exc:  # the apology itself failed: hanging up is all that is left
            log.warning("channel %s: could not play the apology: %s", channel.id, exc)

    async def drain(self, timeout: float) -> None:
        """Let the calls in progress finish (shutdown), then cancel what is left."""
        if not self.calls:
            return
        done, pending = await asyncio.wait(list(self.calls.values()), timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _database_answers(session: Session) -> None:
    session.execute(text("SELECT 1"))

