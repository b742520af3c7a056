"""ARI events, and the dispatcher that hands them to waiters and subscribers.

Waiters are registered *before* the request that triggers their event (Asterisk may send the event
before the REST reply), and are indexed by (event type, object id) so that dispatching stays cheap
with hundreds of calls in progress.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import AriConnectionLost, EventTimeout

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        return cls(type=str(data.get("type", "")), data=data)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def timestamp(self) -> datetime | None:
        """When Asterisk sent it, on Asterisk's clock ("2026-12-01T22:40:00.123+0000")."""
        value = self.data.get("timestamp")
        if not isinstance(value, str):
            return None
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            return None

    @property
    def channel_id(self) -> str | None:
        channel = self.data.get("channel")
        return channel.get("id") if isinstance(channel, dict) else None

    @property
    def object_ids(self) -> tuple[str, ...]:
        """Ids of every object the event is about: what waiters and subscribers are keyed on."""
        ids: list[str] = []
        for key in ("channel", "playback", "bridge", "peer"):
            obj = self.data.get(key)
            if isinstance(obj, dict) and "id" in obj:
                ids.append(obj["id"])
        recording = self.data.get("recording")
        if isinstance(recording, dict) and "name" in recording:
            ids.append(recording["name"])
        return tuple(ids)


EventHandler = Callable[[Event], None]


class Waiter:
    """One awaited event. Create it with ``EventDispatcher.expect`` before sending the request."""

    def __init__(self, dispatcher: EventDispatcher, keys: list[tuple[str, str]]) -> None:
        self._dispatcher = dispatcher
        self._keys = keys
        self.future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()

    async def wait(self, timeout: float | None) -> Event:
        try:
            return await asyncio.wait_for(self.future, timeout)
        except asyncio.TimeoutError:
            raise EventTimeout(f"no {self._keys} within {timeout} s") from None
        finally:
            self.cancel()

    def cancel(self) -> None:
        self._dispatcher._forget(self)
        if not self.future.done():
            self.future.cancel()

    def __enter__(self) -> Waiter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


class EventDispatcher:
    def __init__(self, ignored: Iterable[str] = ()) -> None:
        self._waiters: dict[tuple[str, str], list[Waiter]] = defaultdict(list)
        self._subscribers: dict[str, list[EventHandler]] = defaultdict(list)
        self._type_handlers: dict[str, list[EventHandler]] = defaultdict(list)
        # Event types Asterisk is asked not to send (AriClient's ignored_events): waiting for
        # one would wait for ever, so it is refused at once.
        self.ignored = frozenset(ignored)

    def _refuse_ignored(self, event_types: Iterable[str]) -> None:
        unused = self.ignored.intersection(event_types)
        if unused:
            raise ValueError(f"{sorted(unused)} are filtered out (AriClient ignored_events)")

    def expect(self, event_types: Iterable[str], object_id: str) -> Waiter:
        self._refuse_ignored(event_types := list(event_types))
        keys = [(event_type, object_id) for event_type in event_types]
        waiter = Waiter(self, keys)
        for key in keys:
            self._waiters[key].append(waiter)
        return waiter

    def on(self, event_type: str, handler: EventHandler) -> None:
        """Call ``handler`` for every event of this type (e.g. StasisStart)."""
        self._refuse_ignored([event_type])
        self._type_handlers[event_type].append(handler)

    def subscribe(self, object_id: str, handler: EventHandler) -> Callable[[], None]:
        """Call ``handler`` for every event about this object; returns the unsubscribe function."""
        self._subscribers[object_id].append(handler)

        def unsubscribe() -> None:
            handlers = self._subscribers.get(object_id)
            if handlers and handler in handlers:
                handlers.remove(handler)
                if not handlers:
                    del self._subscribers[object_id]

        return unsubscribe

    def dispatch(self, event: Event) -> None:
        for handler in self._type_handlers.get(event.type, ()):
            self._call(handler, event)
        for object_id in event.object_ids:
            for waiter in list(self._waiters.get((event.type, object_id), ())):
                if not waiter.future.done():
                    waiter.future.set_result(event)
                self._forget(waiter)
            for handler in list(self._subscribers.get(object_id, ())):
                self._call(handler, event)

    def fail_all_waiters(self) -> None:
        """The websocket dropped: events are not replayed after a reconnect, so no waiter will
        ever be served. Wake them all with an error so their calls can reconcile over REST."""
        waiters = {w for ws in self._waiters.values() for w in ws}
        self._waiters.clear()
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_exception(AriConnectionLost("event websocket dropped"))

    def _forget(self, waiter: Waiter) -> None:
        for key in waiter._keys:
            waiters = self._waiters.get(key)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[key]

    @staticmethod
    def _call(handler: EventHandler, event: Event) -> None:
        try:
            handler(event)
        except Exception:
            log.exception("event handler failed on %s (objects %s)", event.type, event.object_ids)
