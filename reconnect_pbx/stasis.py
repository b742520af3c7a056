"""The Stasis application: routes each new channel to its call flow and guards it.

The dialplan hands calls over as ``Stasis(reconnect-pbx,<flow>,<args...>)``; the first argument
names the flow. An unknown flow is logged and the channel goes back to the dialplan; a flow that
fails is logged with the channel id and the caller hears an apology, never silence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .ari import AriError, Event
from .flows import deposit
from .flows.channel import CallChannel, CallerHungUp
from .flows.context import FlowContext

log = logging.getLogger(__name__)

Flow = Callable[[FlowContext, CallChannel, list[str]], Awaitable[None]]

FLOWS: dict[str, Flow] = {
    "deposit": deposit.run,
}

# Channels we create ourselves (outbound legs) enter Stasis with this first argument: the flow that
# created them drives them, the router leaves them alone.
OWNED_CHANNEL_ARG = "owned"


class StasisApplication:
    def __init__(self, ctx: FlowContext, flows: dict[str, Flow] | None = None) -> None:
        self.ctx = ctx
        self.flows = dict(FLOWS if flows is None else flows)
        self.calls: dict[str, asyncio.Task[None]] = {}
        ctx.client.events.on("StasisStart", self.on_stasis_start)

    def on_stasis_start(self, event: Event) -> None:
        channel = event["channel"]
        args = [str(a) for a in event.get("args", [])]
        channel_id = channel["id"]
        if channel_id in self.calls or (args and args[0] == OWNED_CHANNEL_ARG):
            return
        flow = self.flows.get(args[0]) if args else None
        if flow is None:
            log.error("channel %s: unknown flow %r; back to the dialplan", channel_id, args[:1])
            self._own(channel_id, self._back_to_dialplan(channel_id))
            return
        self._own(channel_id, self._guarded(flow, args[0], channel, args[1:]))

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
        try:
            await flow(self.ctx, channel, args)
        except CallerHungUp:
            log.info("channel %s: caller hung up", channel.id)
        except asyncio.CancelledError:
            log.warning("channel %s: call abandoned at shutdown", channel.id)
            raise
        except Exception:
            log.exception("channel %s: %s flow failed", channel.id, flow_name)
            await self._apologise(channel)
        finally:
            channel.close()
            if not channel.hung_up:
                await self.ctx.client.hangup(channel.id)

    async def _apologise(self, channel: CallChannel) -> None:
        try:
            language = channel.language if channel.language in ("fr", "en") else "fr"
            await channel.play([self.ctx.prompt("technical-problem", language)], timeout=30)
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
