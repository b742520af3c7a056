"""What the bench measures: CPU of processes, PostgreSQL counters, and the pbx's calls seen over ARI.

- CPU: utime + stime of a process (all its threads) from ``/proc/<pid>/stat``, in ms; PostgreSQL's
  backends serving the bench database are polled the same way (they come and go with the pool).
- Database: ``pg_stat_database`` of the bench-only database (transactions, rows); statement counts
  from ``pg_stat_statements`` when the server preloads it.
- Calls: ``PbxObserver``, a second ARI application subscribed to every event source, notes for each
  pbx channel when it entered Stasis and when its first prompt started (Asterisk's own event
  timestamps, millisecond resolution), what it played, and how many channels were up at once.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg2
from sqlalchemy.engine import make_url

from reconnect_pbx.ari import AriClient, Event

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def process_cpu_ms(pid: int) -> float:
    """CPU time (user + system, every thread) the process has used so far, in ms."""
    return sum(process_cpu_split_ms(pid))


def process_cpu_split_ms(pid: int) -> tuple[float, float]:
    """(user, system) CPU time of the process so far, in ms."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name (field 2) may hold spaces: split after its closing parenthesis.
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) * TICK_MS, int(fields[12]) * TICK_MS


def percentile(values: Iterable[float], p: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _dsn(url: str) -> str:
    u = make_url(url)
    parts = {"host": u.host or "127.0.0.1", "port": u.port or 5432, "user": u.username or "postgres",
             "dbname": u.database}
    if u.password:
        parts["password"] = u.password
    return " ".join(f"{k}='{v}'" for k, v in parts.items())


class PostgresWatch:
    """Counters of one database, and the CPU of the server processes working for it.

    It connects to the server's ``postgres`` database: its own queries never count in the bench
    database's counters."""

    def __init__(self, server_url: str, database_url: str) -> None:
        self.database = make_url(database_url).database
        self._connection = psycopg2.connect(_dsn(server_url))
        self._connection.autocommit = True
        self._backend_cpu: dict[int, float] = {}
        self._start_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.statements_available = False
        with self._connection.cursor() as cursor:
            # Statement counts only where the server preloads pg_stat_statements and the view
            # exists in its postgres database: the bench never installs anything on the server.
            cursor.execute("SELECT to_regclass('pg_stat_statements') IS NOT NULL")
            if cursor.fetchone()[0]:
                try:
                    cursor.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
                    self.statements_available = True
                except psycopg2.Error:
                    pass

    def close(self) -> None:
        self.stop_polling()
        self._connection.close()

    def counters(self) -> dict[str, float]:
        """Cumulative counters of the database (PostgreSQL flushes them about every second)."""
        with self._connection.cursor() as cursor:
            cursor.execute(
                "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_fetched,"
                " tup_returned FROM pg_stat_database WHERE datname = %s",
                (self.database,),
            )
            row = cursor.fetchone()
            names = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted",
                     "tup_fetched", "tup_returned")
            result = dict(zip(names, (float(v) for v in row)))
            if self.statements_available:
                cursor.execute(
                    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d"
                    " ON d.oid = s.dbid WHERE d.datname = %s",
                    (self.database,),
                )
                result["statements"] = float(cursor.fetchone()[0])
        return result

    # -- backend CPU ----------------------------------------------------------------------------

    def _backends(self) -> list[int]:
        with self._connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.database,),
            )
            return [row[0] for row in cursor.fetchall()]

    def _sample(self) -> None:
        for pid in self._backends():
            try:
                cpu = process_cpu_ms(pid)
            except OSError:
                continue  # gone, or the server is not on this host
            self._start_cpu.setdefault(pid, cpu if self._thread is None else 0.0)
            self._backend_cpu[pid] = cpu

    def start_polling(self, interval: float = 0.5) -> None:
        """Note the backends' CPU now, then keep noting it (a backend may exit before the end)."""
        self._backend_cpu.clear()
        self._start_cpu.clear()
        self._thread = None
        self._sample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, args=(interval,), daemon=True)
        self._thread.start()

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self._sample()
            except psycopg2.Error:
                pass

    def stop_polling(self) -> float:
        """CPU ms used by the database's backends since ``start_polling``."""
        if self._thread is None:
            return 0.0
        self._stop.set()
        self._thread.join()
        self._sample()
        self._thread = None
        return sum(cpu - self._start_cpu.get(pid, 0.0) for pid, cpu in self._backend_cpu.items())


# -- the pbx seen over ARI ------------------------------------------------------------------------


def event_time(event: Event) -> float:
    """Asterisk's timestamp of an event, in seconds since the epoch (ms resolution)."""
    return datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


@dataclass
class ObservedChannel:
    id: str
    caller: str
    created: float
    stasis: float | None = None
    answered: float | None = None
    first_playback: float | None = None
    media: list[str] = field(default_factory=list)
    destroyed: float | None = None


class PbxObserver:
    """Every channel of the pbx, from a second ARI application subscribed to all event sources."""

    # What the observer does not need: Asterisk is asked not to send them (eventFilter). At 500 calls
    # the observer's own parsing of everything slowed the calls it measures (INVITE -> 200 OK p50
    # 308 ms with it, 60 ms without).
    UNNEEDED = (
        "ChannelVarset", "PlaybackContinuing", "PlaybackFinished", "ChannelHangupRequest", "RecordingStarted",
        "RecordingFinished", "DeviceStateChanged", "ChannelCallerId", "ChannelConnectedLine", "ChannelDtmfReceived",
        "ChannelToneDetected", "ChannelTalkingStarted", "ChannelTalkingFinished", "EndpointStateChange",
    )  # fmt: skip

    def __init__(self, url: str, username: str, password: str, app: str = "bench-observer") -> None:
        self.client = AriClient(url, username, password, app, subscribe_all=True, ignored_events=self.UNNEEDED)
        self.channels: dict[str, ObservedChannel] = {}
        self.live = 0
        self.max_live = 0
        self.stasis_start_seen = False
        on = self.client.events.on
        on("ChannelCreated", self._on_created)
        on("ChannelDestroyed", self._on_destroyed)
        on("StasisStart", self._on_stasis_start)
        on("ChannelDialplan", self._on_dialplan)
        on("PlaybackStarted", self._on_playback_started)
        on("ChannelStateChange", self._on_state_change)
        self._task: asyncio.Task[None] | None = None
        # Events of each type since the last reset_peak (of the types it asked for).
        self.event_counts: Counter[str] = Counter()
        dispatch = self.client.events.dispatch

        def counting_dispatch(event: Event) -> None:
            self.event_counts[event.type] += 1
            dispatch(event)

        self.client.events.dispatch = counting_dispatch  # type: ignore[method-assign]

    async def start(self) -> None:
        self._task = asyncio.create_task(self.client.run(), name="bench-observer")
        await self.client.wait_connected(10)

    async def stop(self) -> None:
        await self.client.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def reset_peak(self) -> None:
        self.max_live = self.live
        self.event_counts.clear()

    def _on_created(self, event: Event) -> None:
        channel = event["channel"]
        self.live += 1
        self.max_live = max(self.max_live, self.live)
        self.channels[channel["id"]] = ObservedChannel(
            channel["id"], (channel.get("caller") or {}).get("number", ""), event_time(event)
        )

    def _on_destroyed(self, event: Event) -> None:
        self.live -= 1
        observed = self.channels.get(event.channel_id or "")
        if observed is not None:
            observed.destroyed = event_time(event)

    def _on_stasis_start(self, event: Event) -> None:
        # Asterisk sends StasisStart to the application the channel entered only; when it does
        # reach us, it is the exact moment.
        observed = self.channels.get(event.channel_id or "")
        if observed is not None:
            self.stasis_start_seen = True
            observed.stasis = event_time(event)

    def _on_dialplan(self, event: Event) -> None:
        # The dialplan starting Stasis() (what sends StasisStart to the application, in the same
        # thread, right after): the start of the latency when StasisStart does not reach us.
        if event.get("dialplan_app") != "Stasis":
            return
        observed = self.channels.get(event.channel_id or "")
        if observed is not None and observed.stasis is None:
            observed.stasis = event_time(event)

    def _on_state_change(self, event: Event) -> None:
        observed = self.channels.get(event.channel_id or "")
        if observed is not None and observed.answered is None and event["channel"].get("state") == "Up":
            observed.answered = event_time(event)

    def _on_playback_started(self, event: Event) -> None:
        playback = event["playback"]
        observed = self.channels.get(playback.get("target_uri", "").removeprefix("channel:"))
        if observed is None:
            return
        if observed.first_playback is None:
            observed.first_playback = event_time(event)
        observed.media.append(playback.get("media_uri", ""))

    def since(self, started: float) -> list[ObservedChannel]:
        return [c for c in self.channels.values() if c.created >= started - 1]

    async def wait_idle(self, timeout: float) -> bool:
        """Until no channel is up on the pbx (the calls of a phase are over)."""
        return await _until_no_live_channels(self, timeout)


class ChannelPoller:
    """The pbx's channel count by polling ``GET /channels``: the observer's stand-in when a run
    must not add an ARI application subscribed to everything (``--no-observer``: what the
    observer itself costs Asterisk). No latency, no event counts."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.client = AriClient(url, username, password, "bench-poller")
        self.channels: dict[str, ObservedChannel] = {}
        self.event_counts: Counter[str] = Counter()
        self.live = 0
        self.max_live = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._poll(), name="bench-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()

    async def _poll(self) -> None:
        while True:
            try:
                self.live = len(await self.client.list_channels())
                self.max_live = max(self.max_live, self.live)
            except Exception:  # noqa: BLE001 - Asterisk busy: ask again
                pass
            await asyncio.sleep(0.5)

    def reset_peak(self) -> None:
        self.max_live = self.live

    def since(self, started: float) -> list[ObservedChannel]:
        return []

    async def wait_idle(self, timeout: float) -> bool:
        await asyncio.sleep(1)  # let the next poll see the calls just placed or ended
        return await _until_no_live_channels(self, timeout)


async def _until_no_live_channels(watch: PbxObserver | ChannelPoller, timeout: float) -> bool:
    """Until ``watch`` counts no channel up on the pbx; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while watch.live > 0:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True
