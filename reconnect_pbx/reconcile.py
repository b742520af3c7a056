"""Nothing lost: what ``serve`` does after a crash, a lost connection or a database outage.

Resilience lives here, in the core, not in each call flow:

- **Reconcile** on every (re)connection of the ARI websocket (``client.on_connected``). Asterisk keeps
  a channel in our Stasis application after the process that drove it died; once we are connected
  again it sends us its events, but no flow drives it. Each such orphan is taken up:

  - a deposit whose recording is still going (the caller is speaking): wait for its end, store it,
    "message saved", hang up; one whose recording ended while nobody watched: the same, at once;
  - a deposit that had not started recording, or a call to the access number: its flow starts
    again from the beginning (the greeting, "enter your personal number");
  - a conversation (an outgoing call whose driver died: two channels in a bridge): it goes on, bounded
    by the absolute timeouts the dead process set in Asterisk; when one side leaves, the bridge is
    destroyed, the other side hears "call ended" once it has left it and is hung up, and the call
    record is finished, billed from the answer to the moment Asterisk saw the first side go (the
    timestamps of its events, not our clock);
  - a channel left alone in a bridge, or an outgoing leg without its person: hung up ("technical
    problem" for the person); the bridge is destroyed. Call records whose channel is gone are
    closed (``outbound.close_vanished_calls``) so the minutes are counted.

  Bridges that no live call uses are destroyed. Channels a flow of this process drives (the
  websocket only dropped) are left alone.

- **Sweep** the recording spool at each connection and every ``SWEEP_SECONDS``: messages the dialplan
  recorded alone (``dialplan/fallback.conf``: the application was not connected, or had no
  database) and deposits a dead process, or a database outage, left unstored. Each goes to whoever
  held the number at the time of the call (``services/recovery.py``); its file is deleted only once
  the message is in the database. A file whose channel still exists is being recorded, or is in the
  hands of a live call: it waits for the next sweep.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from .ari import AriError, ChannelGone, Event, EventTimeout, NotFound
from .db import DatabaseUnavailable
from .flows import callback
from .flows.channel import HANGUP_EVENTS, REPLAY_UNSTARTED_SECONDS, CallChannel, CallerHungUp, destroy_bridge
from .services import outbound
from .services import recovery as spool
from .stasis import OWNED_CHANNEL_ARG, StasisApplication
from .storage import InvalidAudio

log = logging.getLogger(__name__)

# How often the spool is swept between connections.
SWEEP_SECONDS = 10.0
# After a (re)connection, how long StasisStart events of calls arriving at that very moment have to
# reach the router before a channel nobody drives is taken for an orphan.
SETTLE_SECONDS = 1.0
# A live recording is in one of these states (ARI LiveRecording.state).
LIVE_STATES = frozenset({"queued", "recording", "paused"})
# How often an adopted recording is polled until it ends.
POLL_SECONDS = 0.5
# How often both sides of an adopted conversation are checked over REST (events say it first).
WATCH_SECONDS = 1.0
# The last prompt of an adopted call ("call ended", "technical problem") is a second or two: if
# nothing says it played after this, the caller is hung up anyway (and a warning logged).
END_PROMPT_SECONDS = 10


class Recovery:
    def __init__(self, application: StasisApplication) -> None:
        self.application = application
        self.ctx = application.ctx
        self.client = application.ctx.client
        self._sweep_lock = asyncio.Lock()
        self._reconcile_lock = asyncio.Lock()
        # Recordings an adopted call is storing itself: the sweep leaves them alone.
        self._adopted_recordings: set[str] = set()
        # Channels of adopted conversations (their watcher is tracked under one of them).
        self._watched: set[str] = set()
        # Files that are not audio: reported once, kept for a person to look at.
        self._reported_invalid: set[str] = set()
        self._connections = 0
        self._database_down = False

    def install(self) -> None:
        self.client.on_connected(self.on_connected)

    # -- entry points ----------------------------------------------------------------------------

    async def on_connected(self) -> None:
        self._connections += 1
        await self.reconcile(first=self._connections == 1)
        await self.sweep()

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep the spool every ``SWEEP_SECONDS`` until ``stop``."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), SWEEP_SECONDS)
                return
            except TimeoutError:
                pass
            if not self.client.connected:
                continue  # the next connection sweeps
            try:
                await self.sweep()
            except Exception:
                log.exception("spool sweep failed")

    # -- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, *, first: bool) -> None:
        async with self._reconcile_lock:
            await asyncio.sleep(SETTLE_SECONDS)
            try:
                channels = await self.client.list_channels()
                bridges = await self.client.list_bridges()
            except AriError as exc:
                log.warning("reconcile: Asterisk did not list its channels: %s", exc)
                return
            orphans = {c["id"]: (c, args) for c in channels if (args := self._orphan_args(c)) is not None}
            bridged = await self._settle_bridges(bridges, orphans)
            recordings: list[str] | None = None
            for channel_id, (channel, args) in orphans.items():
                if channel_id in self.application.calls or channel_id in self._watched:
                    continue  # its StasisStart came in meanwhile, or a conversation goes on
                if args[:1] == [OWNED_CHANNEL_ARG]:
                    log.warning("channel %s: outgoing leg left by a dead process: hanging up", channel_id)
                    await self._hangup(channel_id)
                elif channel_id in bridged:
                    log.warning("channel %s: was in a call nobody drives any more: hanging up", channel_id)
                    self.application.adopt(channel_id, self._end_orphan(channel, "technical-problem"))
                elif self._is_deposit(args):
                    if recordings is None:
                        recordings = await self._stored_names()
                    name = _recording_of(channel_id, recordings)
                    if name is not None:
                        log.warning("channel %s: taking up a message left recording by a dead process", channel_id)
                        self.application.adopt(channel_id, self._finish_recording(channel, name))
                    else:
                        log.warning("channel %s: resuming the deposit flow left by a dead process", channel_id)
                        self.application.start_flow(channel, args)
                else:
                    flow = "access" if args[:1] == ["deposit"] else args[0] if args else "unknown"
                    log.warning("channel %s: resuming the %s flow left by a dead process", channel_id, flow)
                    self.application.start_flow(channel, args)
            await self._close_call_records(first=first)
            # Tests and operators wait on this line: what was left over has been dealt with.
            log.debug("reconcile: done (%d channel(s) nobody drove)", len(orphans))

    def _orphan_args(self, channel: dict[str, Any]) -> list[str] | None:
        """The Stasis() arguments of a channel in our application that no flow drives, else None."""
        dialplan = channel.get("dialplan") or {}
        if dialplan.get("app_name") != "Stasis":
            return None
        app, *args = str(dialplan.get("app_data", "")).split(",")
        if app != self.client.app or channel["id"] in self.application.calls or channel["id"] in self._watched:
            return None
        if args[:1] == [OWNED_CHANNEL_ARG] and len(args) > 2 and args[2] in self.application.calls:
            return None  # the outgoing leg of a call in progress
        return args

    def _is_deposit(self, args: list[str]) -> bool:
        access = self.application.access_number
        return args[:1] == ["deposit"] and not (access and len(args) > 1 and args[1] == access)

    async def _settle_bridges(self, bridges: Iterable[dict[str, Any]], orphans: dict[str, Any]) -> set[str]:
        """Bridges no live call uses: a conversation is watched to its end, any other bridge is
        destroyed. Returns the orphan channels left alone in a destroyed bridge."""
        bridged: set[str] = set()
        for bridge in bridges:
            bridge_id = str(bridge.get("id", ""))
            members = [str(m) for m in bridge.get("channels", [])]
            if bridge_id in callback._live_bridges or any(m not in orphans for m in members):
                continue  # a call of this process uses it (or a channel outside our application)
            if len(members) >= 2:
                log.warning("bridge %s: a conversation left by a dead process goes on, watched", bridge_id)
                sides = [orphans[m] for m in members]
                self._watched.update(members)
                # Tracked under the person's channel (not an outgoing leg) where there is one.
                owner = next((c["id"] for c, a in sides if a[:1] != [OWNED_CHANNEL_ARG]), members[0])
                self.application.adopt(owner, self._watch_conversation(bridge_id, sides))
                continue
            log.warning("bridge %s: left by a dead process: destroying it", bridge_id)
            bridged.update(members)
            # Its channel hears "technical problem" next: only once it has left the bridge.
            await destroy_bridge(self.client, bridge_id)
        return bridged

    async def _close_call_records(self, *, first: bool) -> None:
        """Outgoing calls whose channel is gone get their end written (minutes counted)."""
        try:
            await asyncio.sleep(SETTLE_SECONDS)  # hang-ups just requested take a moment
            live = {c["id"] for c in await self.client.list_channels()}
            closed = await self.ctx.db(
                outbound.close_vanished_calls,
                live,
                rules=self.ctx.settings.callback,
                now=datetime.now(timezone.utc),
                # At start-up no call of ours is being set up: every record without a channel is
                # stale. Later, a call being set up has no channel yet for a few seconds.
                min_age_seconds=0 if first else 60,
            )
        except DatabaseUnavailable as exc:
            log.warning("reconcile: call records not checked, database unavailable (%s)", exc)
            return
        except AriError as exc:
            log.warning("reconcile: call records not checked, Asterisk unavailable (%s)", exc)
            return
        if closed:
            log.warning("reconcile: closed %d outgoing call record(s) left in progress", closed)

    async def _watch_conversation(self, bridge_id: str, sides: list[tuple[dict[str, Any], list[str]]]) -> None:
        ids = [channel["id"] for channel, _ in sides]
        rules = self.ctx.settings.callback
        loop = asyncio.get_running_loop()
        # Asterisk cuts it by then anyway (TIMEOUT(absolute) set by the dead process).
        deadline = loop.time() + rules.ring_timeout_seconds + rules.max_call_seconds + 2 * rules.hangup_grace_seconds + 30
        gone: set[str] = set()
        # When Asterisk saw the first side go (its own clock): the call record is billed to it.
        hung_up_at: list[datetime] = []
        changed = asyncio.Event()

        def on_event(event: Event) -> None:
            if event.channel_id in ids and event.type in HANGUP_EVENTS:
                gone.add(str(event.channel_id))
                if event.timestamp is not None:
                    hung_up_at.append(event.timestamp)
                changed.set()

        unsubscribe = [self.client.events.subscribe(channel_id, on_event) for channel_id in ids]
        try:
            while not gone and loop.time() < deadline:
                try:
                    await asyncio.wait_for(changed.wait(), WATCH_SECONDS)
                except TimeoutError:
                    # No event: ask Asterisk (a side may have gone before we listened, or while
                    # the event stream was down).
                    gone.update([channel_id for channel_id in ids if not await self._exists(channel_id)])
            ended_at = min(hung_up_at, default=None) or datetime.now(timezone.utc)
            log.info("bridge %s: the conversation left by a dead process ended", bridge_id)
            # The other side hears "call ended" next: only once it has left the bridge.
            await destroy_bridge(self.client, bridge_id)
            for channel, args in sides:
                if channel["id"] in gone:
                    continue
                if args[:1] == [OWNED_CHANNEL_ARG]:
                    await self._hangup(channel["id"])
                else:
                    await self._end_orphan(channel, "call-ended")
            for channel, args in sides:
                if args[:1] == [OWNED_CHANNEL_ARG]:
                    billed = await self.ctx.db(spool.finish_orphan_call, channel["id"], ended_at)
                    if billed is not None:
                        log.warning("channel %s: outgoing call finished after a crash, %d s billed", channel["id"], billed)
        except DatabaseUnavailable as exc:
            log.error("bridge %s: call record left in progress, database unavailable (%s)", bridge_id, exc)
        finally:
            for stop in unsubscribe:
                stop()
            self._watched.difference_update(ids)

    async def _exists(self, channel_id: str) -> bool:
        try:
            await self.client.get_channel(channel_id)
        except ChannelGone:
            return False
        except AriError:
            return True  # Asterisk did not answer: ask again
        return True

    async def _end_orphan(self, channel: dict[str, Any], prompt: str) -> None:
        call = CallChannel(self.client, channel)
        try:
            await call.play(
                [self.ctx.prompt(prompt, _language(call))],
                timeout=END_PROMPT_SECONDS,
                replay_unstarted_after=REPLAY_UNSTARTED_SECONDS,  # often just out of a bridge
            )
        except EventTimeout:
            log.warning("channel %s: %s was not played within %d s: hanging up", call.id, prompt, END_PROMPT_SECONDS)
        except ChannelGone:
            pass
        except AriError as exc:
            log.warning("channel %s: could not play %s: %s", call.id, prompt, exc)
        except CallerHungUp:
            pass
        finally:
            call.close()
            await self._hangup(call.id)

    async def _finish_recording(self, channel: dict[str, Any], name: str) -> None:
        """A deposit whose driver died: let the recording end, store it, tell the caller."""
        call = CallChannel(self.client, channel)
        self._adopted_recordings.add(name)
        try:
            await self._wait_recording_end(name)
            message = spool.parse_spool_name(name, self.ctx.settings.numbers.default_region)
            outcome = None
            if message is not None:
                try:
                    outcome = await self._ingest(message, source_channel_id=call.id)
                except DatabaseUnavailable as exc:
                    # Kept in the spool: a sweep stores it when the database is back.
                    log.error("channel %s: message left in the spool, database unavailable (%s)", call.id, exc)
            if call.hung_up:
                return
            prompt = "message-too-short" if outcome is spool.Outcome.TOO_SHORT else "message-saved"
            await call.play([self.ctx.prompt(prompt, _language(call))], timeout=30)
        except (CallerHungUp, AriError) as exc:
            if not isinstance(exc, (CallerHungUp, ChannelGone)):
                log.warning("channel %s: could not finish the adopted call: %s", call.id, exc)
        finally:
            self._adopted_recordings.discard(name)
            call.close()
            if not call.hung_up:
                await self._hangup(call.id)

    async def _wait_recording_end(self, name: str) -> None:
        deadline = asyncio.get_running_loop().time() + self.ctx.settings.voicemail.max_message_seconds + 30
        while asyncio.get_running_loop().time() < deadline:
            try:
                live = await self.client.live_recording(name)
            except NotFound:
                return
            except AriError:
                live = {"state": "recording"}  # Asterisk busy or restarting: ask again
            if live.get("state") not in LIVE_STATES:
                return
            await asyncio.sleep(POLL_SECONDS)

    async def _hangup(self, channel_id: str) -> None:
        try:
            await self.client.hangup(channel_id)
        except AriError as exc:
            log.warning("channel %s: could not hang up: %s", channel_id, exc)

    # -- sweep -----------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Store what waits in the spool; returns how many messages were stored."""
        async with self._sweep_lock:
            names = await self._stored_names()
            region = self.ctx.settings.numbers.default_region
            stored = 0
            for name in names:
                message = spool.parse_spool_name(name, region)
                if message is None and name.startswith(spool.FALLBACK_DIR + "/") and name not in self._reported_invalid:
                    self._reported_invalid.add(name)
                    log.error("spool: a fallback recording has a name nobody can attribute; left for an operator")
                if message is None or name in self._adopted_recordings or name in self._reported_invalid:
                    continue
                try:
                    if await self._in_progress(message):
                        continue
                    outcome = await self._ingest(message)
                except DatabaseUnavailable as exc:
                    if not self._database_down:
                        log.error("spool: messages wait for the database (%s)", exc)
                    self._database_down = True
                    return stored
                except AriError as exc:
                    log.warning("channel %s: spool file not taken this time: %s", message.channel_id, exc)
                    continue
                stored += outcome is spool.Outcome.STORED
            if self._database_down:
                log.warning("spool: the database is back")
                self._database_down = False
            # Tests wait on this line: every file listed at the start has been looked at.
            log.debug("spool: swept %d file(s), %d stored", len(names), stored)
            return stored

    async def _stored_names(self) -> list[str]:
        try:
            return [str(r.get("name", "")) for r in await self.client.stored_recordings()]
        except AriError as exc:
            log.warning("spool: Asterisk did not list its recordings: %s", exc)
            return []

    async def _in_progress(self, message: spool.SpoolMessage) -> bool:
        """Whether the file may still grow, or a live call will store it itself."""
        if message.channel_id in self.application.calls:
            return True
        try:
            await self.client.get_channel(message.channel_id)
            return True
        except ChannelGone:
            pass
        if message.kind == spool.DEPOSIT_PREFIX:
            try:
                live = await self.client.live_recording(message.name)
            except NotFound:
                return False
            return live.get("state") in LIVE_STATES
        return False

    async def _ingest(self, message: spool.SpoolMessage, source_channel_id: str | None = None) -> spool.Outcome | None:
        """Store one spool file and delete it; None when it stays (not audio, already taken)."""
        channel_id = source_channel_id or message.channel_id
        try:
            audio = await self.client.stored_recording_file(message.name)
        except NotFound:
            return None  # taken meanwhile (the call stored it itself)
        voicemail_settings = self.ctx.settings.voicemail
        try:
            outcome, message_id = await self.ctx.db(
                spool.ingest,
                self.ctx.store,
                message,
                audio,
                min_duration_ms=int(voicemail_settings.min_message_seconds * 1000),
                capacity=voicemail_settings.mailbox_capacity,
                source_channel_id=channel_id,
                alert_rules=self.ctx.settings.follow,
            )
        except InvalidAudio as exc:
            self._reported_invalid.add(message.name)
            log.error("channel %s: %s spool file is not audio (%s); left for an operator", channel_id, message.kind, exc)
            return None
        if outcome is spool.Outcome.STORED:
            log.info(
                "channel %s: message %s recovered from the %s spool (received %s)",
                channel_id,
                message_id,
                message.kind,
                message.received_at.isoformat(timespec="seconds"),
            )
        elif outcome is spool.Outcome.NO_HOLDER:
            log.warning(
                "channel %s: %s spool message dropped: nobody held %s at %s",
                channel_id,
                message.kind,
                message.dialled,
                message.received_at.isoformat(timespec="seconds"),
            )
        else:
            log.info("channel %s: %s spool message %s", channel_id, message.kind, outcome.value)
        await self.client.delete_stored_recording(message.name)
        return outcome


def _recording_of(channel_id: str, names: Iterable[str]) -> str | None:
    """The newest deposit recording of ``channel_id`` among ``names``."""
    suffix = "-" + re.sub(r"[^A-Za-z0-9]", "-", channel_id)
    mine = [n for n in names if n.startswith(spool.DEPOSIT_PREFIX + "-") and n.endswith(suffix)]
    return max(mine, key=lambda n: n[: -len(suffix)].rsplit("-", 1)[-1], default=None)


def _language(call: CallChannel) -> str:
    return call.language if call.language in ("fr", "en") else "fr"
