"""The event dispatcher: waits registered before the request, per-object delivery, lost connections."""

import asyncio
from datetime import UTC, datetime

import pytest

from reconnect_pbx.ari import AriConnectionLost, Event, EventDispatcher, EventTimeout


def playback_finished(playback_id: str, state: str = "done") -> Event:
    return Event("PlaybackFinished", {"type": "PlaybackFinished", "playback": {"id": playback_id, "state": state}})


def dtmf(channel_id: str, digit: str) -> Event:
    return Event(
        "ChannelDtmfReceived",
        {"type": "ChannelDtmfReceived", "channel": {"id": channel_id}, "digit": digit},
    )


async def test_an_event_arriving_before_anyone_awaits_it_is_not_lost():
    dispatcher = EventDispatcher()
    waiter = dispatcher.expect({"PlaybackFinished"}, "pb-1")
    dispatcher.dispatch(playback_finished("pb-1"))  # e.g. before the REST reply
    event = await waiter.wait(timeout=1)
    assert event["playback"]["state"] == "done"


async def test_a_waiter_only_gets_events_about_its_own_object():
    dispatcher = EventDispatcher()
    waiter = dispatcher.expect({"PlaybackFinished"}, "pb-mine")
    dispatcher.dispatch(playback_finished("pb-other"))
    with pytest.raises(EventTimeout):
        await waiter.wait(timeout=0.05)


async def test_a_dropped_websocket_wakes_every_waiter_with_an_error():
    dispatcher = EventDispatcher()
    waiters = [dispatcher.expect({"RecordingFinished"}, f"rec-{i}") for i in range(3)]
    dispatcher.fail_all_waiters()
    for waiter in waiters:
        with pytest.raises(AriConnectionLost):
            await waiter.wait(timeout=1)


async def test_subscribers_see_their_channel_until_they_unsubscribe():
    dispatcher = EventDispatcher()
    seen: list[str] = []
    unsubscribe = dispatcher.subscribe("chan-1", lambda e: seen.append(e["digit"]))
    dispatcher.dispatch(dtmf("chan-1", "5"))
    dispatcher.dispatch(dtmf("chan-2", "9"))
    unsubscribe()
    dispatcher.dispatch(dtmf("chan-1", "7"))
    assert seen == ["5"]


async def test_a_failing_handler_does_not_stop_the_others():
    dispatcher = EventDispatcher()
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("bug in one call")

    dispatcher.on("ChannelDtmfReceived", broken)
    dispatcher.subscribe("chan-1", lambda e: seen.append(e["digit"]))
    dispatcher.dispatch(dtmf("chan-1", "1"))
    assert seen == ["1"]


async def test_a_finished_waiter_leaves_nothing_registered():
    dispatcher = EventDispatcher()
    waiter = dispatcher.expect({"PlaybackFinished", "PlaybackStarted"}, "pb-1")
    dispatcher.dispatch(playback_finished("pb-1"))
    await waiter.wait(timeout=1)
    assert dispatcher._waiters == {}
    cancelled = dispatcher.expect({"PlaybackFinished"}, "pb-2")
    cancelled.cancel()
    assert dispatcher._waiters == {}
    await asyncio.sleep(0)


def test_an_event_tells_when_asterisk_sent_it_on_asterisks_clock() -> None:
    event = Event.from_json({"type": "ChannelDestroyed", "timestamp": "2026-12-01T22:40:05.250+0100"})
    assert event.timestamp == datetime(2026, 12, 1, 21, 40, 5, 250000, tzinfo=UTC)
    assert Event.from_json({"type": "ChannelDestroyed"}).timestamp is None
    assert Event.from_json({"type": "ChannelDestroyed", "timestamp": "yesterday"}).timestamp is None
