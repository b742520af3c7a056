"""One caller's channel as the call flows see it: play, collect keys, record, hang up.

It turns ARI's asynchronous events into plain awaitable steps with a timeout on every wait, keeps
the keys the caller typed ahead (someone who knows the menu types before the prompt ends), and turns
a hang-up at any moment into ``CallerHungUp``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..ari import (
    AriClient,
    AriError,
    AriConnectionLost,
    ChannelGone,
    Conflict,
    Event,
    EventTimeout,
    NotFound,
)

log = logging.getLogger(__name__)

HANGUP_EVENTS = frozenset({"StasisEnd", "ChannelDestroyed", "ChannelHangupRequest"})
# How long the channels of a destroyed bridge may take to leave it (``destroy_bridge``).
LEAVE_BRIDGE_SECONDS = 5.0
# A prompt played to a channel that has just left a bridge: Asterisk may still drop it (after
# ChannelLeftBridge, a few times in a thousand on a saturated host). A playback starts within
# milliseconds; one not started after this long is stopped and played again, once.
REPLAY_UNSTARTED_SECONDS = 2.0
DTMF_KEYS = "0123456789*#"
# Channels we create ourselves (outbound legs) enter Stasis with this first argument: the flow that
# created them drives them, the router (stasis.py) leaves them alone.
OWNED_CHANNEL_ARG = "owned"
# After an entry that ended by itself at its length, a "#" typed this soon after is the end of that
# entry (people type it out of habit, or because a prompt said so), not a key for what comes next.
TERMINATOR_GRACE_SECONDS = 3.0


class CallerHungUp(Exception):
    """The caller is gone: a normal end of a call."""


@dataclass(frozen=True)
class RecordingResult:
    name: str
    # "done" when Asterisk kept a file, "failed" or "canceled" otherwise.
    state: str
    # How the recording ended: "#", "hangup", "silence", "max-duration" or "unknown".
    ended_by: str
    cause: str | None = None


class CallChannel:
    def __init__(self, client: AriClient, channel: dict[str, Any]) -> None:
        self.client = client
        self.id: str = channel["id"]
        self.caller_number: str = (channel.get("caller") or {}).get("number", "") or ""
        self.language: str = channel.get("language", "") or ""
        self._keys: deque[str] = deque()
        self._key_arrived = asyncio.Event()
        self._gone = asyncio.Event()
        self._last_key_ended_recording = False
        # Until when a "#" ends the entry that just completed (``absorb_terminator``).
        self._absorb_until: float | None = None
        self._unsubscribe = client.events.subscribe(self.id, self._on_event)

    # -- events --------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if event.channel_id != self.id:
            return  # e.g. the peer of a Dial event, or the other half of a Local channel
        if event.type == "ChannelDtmfReceived":
            digit = str(event.get("digit", ""))
            if self._absorbs(digit):
                log.debug("channel %s: the # after a complete entry is taken as its end", self.id)
                return
            self._keys.append(digit)
            self._key_arrived.set()
        elif event.type in HANGUP_EVENTS:
            self._gone.set()

    def close(self) -> None:
        self._unsubscribe()

    @property
    def hung_up(self) -> bool:
        return self._gone.is_set()

    def _check_alive(self) -> None:
        if self._gone.is_set():
            raise CallerHungUp(self.id)

    # -- simple operations ---------------------------------------------------------------------

    async def _op(self, coro: Any) -> Any:
        try:
            return await coro
        except ChannelGone:
            self._gone.set()
            raise CallerHungUp(self.id) from None

    async def answer(self) -> None:
        self._check_alive()
        await self._op(self.client.answer(self.id))

    async def hangup(self) -> None:
        await self.client.hangup(self.id)
        self._gone.set()

    async def continue_in_dialplan(self, context: str, extension: str = "s", priority: int = 1) -> None:
        """Hand the call back to the dialplan at ``context``: from then on it is not ours (the
        router must not hang it up), as if the caller had left."""
        self._check_alive()
        await self._op(
            self.client.continue_in_dialplan(self.id, context=context, extension=extension, priority=str(priority))
        )
        self._gone.set()

    def absorb_terminator(self) -> None:
        """An entry just ended at its length: the "#" that may follow it ends that entry, so it is
        dropped (already typed, or typed within ``TERMINATOR_GRACE_SECONDS``) instead of cutting
        the next prompt or choosing in the next menu. Any other key cancels this."""
        if self._keys:
            if self._keys[0] == "#":
                self._keys.popleft()
                if not self._keys:
                    self._key_arrived.clear()
            return
        self._absorb_until = asyncio.get_running_loop().time() + TERMINATOR_GRACE_SECONDS

    def _absorbs(self, digit: str) -> bool:
        until, self._absorb_until = self._absorb_until, None
        return digit == "#" and until is not None and asyncio.get_running_loop().time() <= until

    def clear_keys(self) -> None:
        self._keys.clear()
        self._key_arrived.clear()

    # -- playback ------------------------------------------------------------------------------

    async def play(
        self,
        media: Sequence[str],
        *,
        interrupt: str = "",
        timeout: float = 600,
        controls: Mapping[str, str] | None = None,
        skip_ms: int = 3000,
        replay_unstarted_after: float | None = None,
    ) -> str | None:
        """Play ``media`` in order. Returns the key that interrupted it (left in the key buffer for
        the next ``get_key``/``get_digits``), or None when it played to the end.

        ``controls`` maps keys to playback operations that act without ending the playback:
        ``{"*": "reverse", "#": "forward"}`` moves ``skip_ms`` back or on (ARI playback control;
        Asterisk ignores a forward that would go past the end).

        ``replay_unstarted_after``: a playback that has not started after so many seconds is
        stopped and started again, once (a prompt just after a bridge: ``destroy_bridge``)."""
        self._check_alive()
        if not media:
            return None
        controls = dict(controls or {})
        for key in self._keys:
            if key in interrupt:
                return key
        self._drop_keys_not_in(interrupt)
        playback_id = f"pb-{uuid.uuid4().hex}"
        finished = self.client.expect({"PlaybackFinished"}, playback_id)
        try:
            await self._start_playback(playback_id, media, controls, skip_ms)
            if replay_unstarted_after is not None and not await self._started(
                playback_id, finished, replay_unstarted_after
            ):
                log.warning(
                    "channel %s: playback %s had not started after %.0f s: played again",
                    self.id, playback_id, replay_unstarted_after,
                )
                try:
                    await self.client.stop_playback(playback_id)
                except AriError:
                    pass  # dropped by Asterisk already
                finished.cancel()
                playback_id = f"pb-{uuid.uuid4().hex}"
                finished = self.client.expect({"PlaybackFinished"}, playback_id)
                await self._start_playback(playback_id, media, controls, skip_ms)
            while True:
                key_wait = asyncio.ensure_future(self._key_arrived.wait())
                gone_wait = asyncio.ensure_future(self._gone.wait())
                try:
                    done, _ = await asyncio.wait(
                        {finished.future, key_wait, gone_wait},
                        timeout=timeout,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    key_wait.cancel()
                    gone_wait.cancel()
                if self._gone.is_set():
                    raise CallerHungUp(self.id)
                if not done:
                    raise EventTimeout(f"playback {playback_id} did not finish in {timeout} s")
                if controls:
                    await self._apply_controls(playback_id, controls, interrupt)
                pressed = self._first_key_in(interrupt)
                if pressed is not None:
                    await self.client.stop_playback(playback_id)
                    return pressed
                if finished.future.done():
                    event = finished.future.result()
                    if event["playback"].get("state") == "failed":
                        log.error("channel %s: playback failed for %s", self.id, loggable_media(media))
                    return None
        except AriConnectionLost:
            # Events are lost until we reconnect: carry on as if the prompt had been heard.
            log.warning("channel %s: event stream lost during a prompt", self.id)
            return None
        finally:
            finished.cancel()

    async def _start_playback(
        self, playback_id: str, media: Sequence[str], controls: Mapping[str, str], skip_ms: int
    ) -> None:
        if controls:
            await self._op(
                self.client.request(
                    "POST",
                    f"/channels/{self.id}/play/{playback_id}",
                    params={"media": list(media), "skipms": skip_ms},
                    channel_id=self.id,
                    websocket=True,
                )
            )
        else:
            await self._op(self.client.play(self.id, media, playback_id))

    async def _started(self, playback_id: str, finished: Any, within: float) -> bool:
        """Whether the playback is playing or done (or the caller left) after ``within`` s.

        Asked of Asterisk then rather than waited for as PlaybackStarted: serve filters that event
        out (one per prompt, wiring.py), and this is asked only of a prompt not over by then."""
        gone_wait = asyncio.ensure_future(self._gone.wait())
        try:
            done, _ = await asyncio.wait({finished.future, gone_wait}, timeout=within)
        finally:
            gone_wait.cancel()
        if done:
            return True
        try:
            state = await self.client.playback_state(playback_id)
        except AriError:
            return True  # cannot tell: the prompt's own timeout still bounds the wait
        if state is None:
            # Gone: finished just now (its event on the way), or dropped without one.
            try:
                await asyncio.wait_for(asyncio.shield(finished.future), 0.5)
                return True
            except TimeoutError:
                return False
        return state != "queued"

    async def _apply_controls(self, playback_id: str, controls: Mapping[str, str], interrupt: str) -> None:
        """Act on the control keys at the head of the buffer, up to the first interrupting key."""
        while self._keys and self._keys[0] not in interrupt:
            key = self._keys.popleft()
            operation = controls.get(key)
            if operation is None:
                continue
            try:
                await self.client.control_playback(playback_id, operation)
            except (NotFound, Conflict) as exc:
                # Finished meanwhile, or not playing yet: the key does nothing.
                log.debug("channel %s: playback %s not moved (%s): %s", self.id, operation, playback_id, exc)
        if not self._keys:
            self._key_arrived.clear()

    def _drop_keys_not_in(self, keep: str) -> None:
        kept = [k for k in self._keys if k in keep]
        self._keys.clear()
        self._keys.extend(kept)
        if not self._keys:
            self._key_arrived.clear()

    def _first_key_in(self, keys: str) -> str | None:
        self._drop_keys_not_in(keys)
        return self._keys[0] if self._keys else None

    # -- keys ----------------------------------------------------------------------------------

    async def get_key(self, timeout: float) -> str | None:
        """The next key typed (or typed ahead), or None after ``timeout`` seconds of silence."""
        self._check_alive()
        if not self._keys:
            self._key_arrived.clear()
            gone_wait = asyncio.ensure_future(self._gone.wait())
            key_wait = asyncio.ensure_future(self._key_arrived.wait())
            try:
                await asyncio.wait({gone_wait, key_wait}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                gone_wait.cancel()
                key_wait.cancel()
            self._check_alive()
            if not self._keys:
                return None
        key = self._keys.popleft()
        if not self._keys:
            self._key_arrived.clear()
        return key

    async def get_digits(
        self, max_digits: int, *, first_timeout: float, next_timeout: float = 5.0, terminator: str = "#"
    ) -> str | None:
        """Digits until ``terminator``, ``max_digits``, or a pause; None if nothing was typed.

        The terminator is not part of the result; '*' typed alone returns '*' (cancel)."""
        digits = ""
        timeout = first_timeout
        while len(digits) < max_digits:
            key = await self.get_key(timeout)
            if key is None:
                break
            if key in terminator:
                if digits:
                    break
                continue
            if key == "*" and not digits:
                return "*"
            digits += key
            timeout = next_timeout
        return digits or None

    # -- recording -----------------------------------------------------------------------------

    async def record(
        self,
        name: str,
        *,
        max_duration_seconds: int,
        max_silence_seconds: int,
        terminate_on: str = "#",
        beep: bool = False,
    ) -> RecordingResult:
        """Record what the caller says. A hang-up ends the recording and keeps the file."""
        self._check_alive()
        self.clear_keys()
        done = self.client.expect({"RecordingFinished", "RecordingFailed"}, name)
        try:
            await self._op(
                self.client.record(
                    self.id,
                    name,
                    format="wav",
                    max_duration_seconds=max_duration_seconds,
                    max_silence_seconds=max_silence_seconds,
                    terminate_on=terminate_on,
                    beep=beep,
                    if_exists="overwrite",
                )
            )
            try:
                event = await done.wait(timeout=max_duration_seconds + 30)
            except (AriConnectionLost, EventTimeout):
                event = await self._recording_outcome_by_polling(name, max_duration_seconds)
        finally:
            done.cancel()
        recording = event.get("recording") or {}
        ended_by = "unknown"
        if self._gone.is_set():
            ended_by = "hangup"
        elif self._keys and self._keys[-1] in terminate_on:
            ended_by = self._keys.pop()
        elif recording.get("silence_duration") and max_silence_seconds and int(
            recording.get("silence_duration") or 0
        ) >= max_silence_seconds:
            ended_by = "silence"
        elif recording.get("duration") and int(recording.get("duration") or 0) >= max_duration_seconds:
            ended_by = "max-duration"
        return RecordingResult(
            name=name,
            state=str(recording.get("state", "failed" if event.type == "RecordingFailed" else "done")),
            ended_by=ended_by,
            cause=recording.get("cause"),
        )

    async def _recording_outcome_by_polling(self, name: str, max_duration_seconds: int) -> Event:
        """The event stream dropped during a recording: ask Asterisk until the recording ends."""
        from ..ari import NotFound

        log.warning("channel %s: lost the recording's events, polling Asterisk", self.id)
        deadline = asyncio.get_running_loop().time() + max_duration_seconds + 30
        while asyncio.get_running_loop().time() < deadline:
            try:
                live = await self.client.live_recording(name)
            except NotFound:
                return Event("RecordingFinished", {"recording": {"name": name, "state": "done"}})
            except Exception:  # Asterisk itself may be restarting; keep asking until the deadline
                live = {}
            if live.get("state") in {"done", "failed", "canceled"}:
                return Event("RecordingFinished", {"recording": live})
            await asyncio.sleep(0.5)
        return Event("RecordingFailed", {"recording": {"name": name, "state": "failed"}})


async def destroy_bridge(client: AriClient, bridge_id: str, *, timeout: float = LEAVE_BRIDGE_SECONDS) -> None:
    """Destroy ``bridge_id`` and return once every channel that was in it has left it.

    Asterisk answers the DELETE before its channels have left: a prompt played at once to one of
    them is queued on the departing bridge channel and dropped, and no playback event ever comes
    (about one time in a hundred on a loaded host). So: wait for each member's
    ``ChannelLeftBridge``, at most ``timeout`` seconds (then a warning, and the caller goes on)."""
    left: set[str] = set()
    changed = asyncio.Event()

    def on_event(event: Event) -> None:
        if event.type == "ChannelLeftBridge" and (event.get("bridge") or {}).get("id") == bridge_id:
            left.add(str(event.channel_id))
            changed.set()

    # Listening before asking who is in it: a channel leaving meanwhile is not missed.
    unsubscribe = client.events.subscribe(bridge_id, on_event)
    try:
        try:
            members = {str(m) for m in (await client.get_bridge(bridge_id)).get("channels", [])}
        except NotFound:
            return
        await client.destroy_bridge(bridge_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not members <= left:
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), deadline - loop.time())
            except TimeoutError:
                log.warning(
                    "bridge %s: destroyed, but channel(s) %s had not left it after %.0f s",
                    bridge_id,
                    ", ".join(sorted(members - left)),
                    timeout,
                )
                return
    except AriError as exc:
        log.warning("bridge %s: could not destroy it: %s", bridge_id, exc)
    finally:
        unsubscribe()


def loggable_media(media: Sequence[str]) -> list[str]:
    """What a log line may say of a list of media: a number said digit by digit would spell a
    person's number, and stored audio (an absolute path: ``media.PlaybackFiles``) is theirs."""
    names: list[str] = []
    for uri in media:
        if uri.startswith(("sound:/", "sound:http")):
            name = "<stored audio>"
        elif uri.rsplit("/", 1)[-1].startswith("digit-"):
            name = "<digits>"
        else:
            name = uri
        if not names or names[-1] != name:
            names.append(name)
    return names
