"""Watches the pbx's Asterisk from the side: which media our application played on which call.

It is a second ARI application subscribed to every event source, so it sees the channels and
playbacks of the application under test without touching them. Calls are told apart by the caller
number, which each test chooses unique.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from reconnect_pbx.ari import AriClient, Event

from harness import asterisk_time as _asterisk_time


@dataclass
class ObservedCall:
    channel_id: str
    caller_number: str
    args: list[str]
    media: list[str] = field(default_factory=list)
    # What happened on the call in the order Asterisk said it: ("started", media, at),
    # ("finished", playback id, at) and ("dtmf", digit, at), ``at`` Asterisk's own event time.
    timeline: list[tuple[str, str, datetime]] = field(default_factory=list)
    # The media of each playback by id, and when each of its media started (Asterisk's time).
    playback_media: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)
    recordings: list[str] = field(default_factory=list)
    # Whether Asterisk had answered when the first media started: otherwise the caller would get
    # it as early media, which not every carrier passes on.
    answered: bool = False
    answered_before_media: bool | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    # PlaybackStarted and PlaybackFinished of this call, in order, with Asterisk's timestamps.
    playback_events: list[Event] = field(default_factory=list)

    def audio_seconds(self) -> float:
        """How long the last stored audio (a message, a greeting) played, on Asterisk's clock."""
        starts = [i for i, e in enumerate(self.playback_events)
                  if e.type == "PlaybackStarted" and e["playback"].get("media_uri", "").startswith("sound:/")]
        assert starts, "no stored audio played on this call"
        started = self.playback_events[starts[-1]]
        # It ends where its playback goes on to its next media (the envelope and the audio may be
        # one playback), or finishes.
        ended = next(e for e in self.playback_events[starts[-1] + 1:]
                     if e["playback"]["id"] == started["playback"]["id"])
        return _asterisk_time(ended) - _asterisk_time(started)


class PbxObserver:
    def __init__(self, url: str, username: str, password: str) -> None:
        self.client = AriClient(url, username, password, "test-observer", subscribe_all=True)
        self.calls_by_caller: dict[str, list[ObservedCall]] = defaultdict(list)
        self._by_channel: dict[str, ObservedCall] = {}
        self._arrived = asyncio.Condition()
        # StasisStart goes to the owning application only: calls are known from ChannelCreated.
        self.client.events.on("ChannelCreated", self._on_channel_created)
        self.client.events.on("ChannelCallerId", self._on_channel_created)
        self.client.events.on("ChannelStateChange", self._on_state_change)
        self.client.events.on("PlaybackStarted", self._on_playback_started)
        self.client.events.on("PlaybackFinished", self._on_playback_finished)
        self.client.events.on("ChannelDtmfReceived", self._on_dtmf)
        self.client.events.on("RecordingStarted", self._on_recording_started)
        self.client.events.on("ChannelDestroyed", self._on_channel_destroyed)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.client.run())
        await self.client.wait_connected(10)

    async def stop(self) -> None:
        await self.client.close()
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _on_channel_created(self, event: Event) -> None:
        channel = event["channel"]
        number = channel["caller"]["number"]
        if channel["id"] in self._by_channel or not number:
            return
        call = ObservedCall(channel["id"], number, [])
        self._by_channel[call.channel_id] = call
        self.calls_by_caller[call.caller_number].append(call)

    def _on_state_change(self, event: Event) -> None:
        call = self._by_channel.get(event.channel_id or "")
        if call is not None and event["channel"].get("state") == "Up":
            call.answered = True

    def _on_playback_started(self, event: Event) -> None:
        playback = event["playback"]
        target = playback.get("target_uri", "")
        call = self._by_channel.get(target.removeprefix("channel:"))
        if call is not None:
            if call.answered_before_media is None:
                call.answered_before_media = call.answered
            call.playback_events.append(event)
            media = playback.get("media_uri", "")
            # A playback of several media sends PlaybackStarted for each (PlaybackContinuing marks
            # the end of one, so it is not counted).
            call.media.append(media)
            at = event_time(event)
            call.timeline.append(("started", media, at))
            call.playback_media.setdefault(playback.get("id", ""), []).append((media, at))

    def _on_playback_finished(self, event: Event) -> None:
        playback = event["playback"]
        call = self._by_channel.get(playback.get("target_uri", "").removeprefix("channel:"))
        if call is not None:
            call.timeline.append(("finished", playback.get("id", ""), event_time(event)))
            call.playback_events.append(event)

    def _on_dtmf(self, event: Event) -> None:
        call = self._by_channel.get(event.channel_id or "")
        if call is not None:
            call.timeline.append(("dtmf", str(event.get("digit", "")), event_time(event)))

    def _on_recording_started(self, event: Event) -> None:
        recording = event["recording"]
        call = self._by_channel.get(recording.get("target_uri", "").removeprefix("channel:"))
        if call is not None:
            call.recordings.append(recording["name"])

    def _on_channel_destroyed(self, event: Event) -> None:
        call = self._by_channel.get(event.channel_id or "")
        if call is not None:
            call.ended.set()

    async def call_from(self, caller_number: str, timeout: float = 10) -> ObservedCall:
        """The pbx-side call placed by ``caller_number`` (wait until it enters our application)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            calls = self.calls_by_caller.get(caller_number)
            if calls:
                return calls[-1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no call from {caller_number} reached the application")


def event_time(event: Event) -> datetime:
    """When Asterisk says the event happened ("2026-12-01T23:05:01.123+0000")."""
    return datetime.strptime(str(event.get("timestamp", "")), "%Y-%m-%dT%H:%M:%S.%f%z")
