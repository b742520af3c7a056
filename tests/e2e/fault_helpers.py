"""What the fault tests share: callers who keep talking through a fault, the dialplan's own
voicemail seen from the side, and the faults themselves (a killed process, a cut connection, a
stopped database, a restarted Asterisk).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest_asyncio

from reconnect_pbx.ari import Event
from reconnect_pbx.sandbox import Sandbox, postgres

from harness import AriApp, CarrierCall, place_call
from observer import ObservedCall, PbxObserver


SPEECH = "sound:test/speech-4s"


def new_caller(prefix: str = "01") -> str:
    return f"{prefix}{secrets.randbelow(10**8):08d}"


@dataclass
class DialplanSteps:
    """The dialplan applications one pbx channel ran (ChannelDialplan events), in order."""

    channel_id: str
    steps: list[tuple[str, str]] = field(default_factory=list)

    def ran(self, app: str) -> bool:
        return any(step[0] == app for step in self.steps)

    def media(self) -> list[str]:
        """What Playback() played: ``fallback-greeting``, ``message-saved``..."""
        played = []
        for app, data in self.steps:
            if app == "Playback":
                played += [item.rsplit("/", 1)[-1] for item in data.split(",")[0].split("&")]
        return played


class DialplanWatch:
    """Every dialplan step of the pbx, by caller number: what the fallback voicemail did."""

    def __init__(self, observer: PbxObserver) -> None:
        self.by_caller: dict[str, list[DialplanSteps]] = defaultdict(list)
        self._by_channel: dict[str, DialplanSteps] = {}
        observer.client.events.on("ChannelDialplan", self._on_dialplan)

    def _on_dialplan(self, event: Event) -> None:
        channel = event["channel"]
        steps = self._by_channel.get(channel["id"])
        if steps is None:
            steps = self._by_channel[channel["id"]] = DialplanSteps(channel["id"])
            self.by_caller[channel["caller"]["number"]].append(steps)
        steps.steps.append((str(event.get("dialplan_app", "")), str(event.get("dialplan_app_data", ""))))

    async def wait_for(self, caller: str, app: str, timeout: float = 20) -> DialplanSteps:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for steps in self.by_caller.get(caller, []):
                if steps.ran(app):
                    return steps
            await asyncio.sleep(0.05)
        seen = [s.steps for s in self.by_caller.get(caller, [])]
        raise AssertionError(f"the call from {caller} never ran {app} (saw {seen})")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dialplan_watch(observer: PbxObserver) -> AsyncIterator[DialplanWatch]:
    yield DialplanWatch(observer)


async def speak_then_hang_up(call: CarrierCall, *, speech: str = SPEECH, end_with_hash: bool = False) -> None:
    """The caller says their message (4 s of speech) and puts the phone down (or presses #)."""
    await call.say(speech)
    if end_with_hash:
        await call.send_dtmf("#")
    else:
        await call.hangup()


async def call_fallback(carrier: AriApp, watch: DialplanWatch, dialled: str, caller: str, *, withheld: bool = False) -> CarrierCall:
    """A call that the dialplan's own voicemail answers: returns once Record() runs."""
    call = await place_call(carrier, dialled, caller, withheld=withheld)
    await call.wait_answered(timeout=15)
    await watch.wait_for(caller, "Record", timeout=30)
    return call


async def call_until_recording(carrier: AriApp, observer: PbxObserver, dialled: str, caller: str) -> tuple[CarrierCall, ObservedCall]:
    """A call to our application: returns once its recording has started (the caller then speaks)."""
    call = await place_call(carrier, dialled, caller)
    await call.wait_answered(timeout=15)
    observed = await observer.call_from(caller, timeout=15)
    async with asyncio.timeout(20):
        while not observed.recordings:
            await asyncio.sleep(0.02)
    return call, observed


async def wait_until(predicate, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(interval)


async def spool_names(observer: PbxObserver) -> list[str]:
    return [r["name"] for r in await observer.client.stored_recordings()]


# -- faults ---------------------------------------------------------------------------------------


def cut_ari_connections(pid: int, pbx_address: str, port: int = 8088) -> int:
    """Kill (RST) every TCP connection process ``pid`` has to ARI, as a network fault would.

    Only that process's connections: the observer and the carrier keep theirs."""
    listing = subprocess.run(
        ["ss", "-tnpH", "dst", f"{pbx_address}:{port}"], capture_output=True, text=True, check=True
    ).stdout
    cut = 0
    for line in listing.splitlines():
        if f"pid={pid}," not in line:
            continue
        local = line.split()[3]
        subprocess.run(
            ["ss", "-K", "-tn", "src", local, "dst", f"{pbx_address}:{port}"], capture_output=True, check=True
        )
        cut += 1
    return cut


def restart_pbx(sandbox: Sandbox, timeout: float = 30, *, crash: bool = False) -> float:
    """Stop and start the pbx's Asterisk (its spool kept); returns how long it took.

    ``crash``: SIGKILL instead of ``core stop now``, as a segfault would: nothing is closed."""
    started = time.monotonic()
    if crash and sandbox.pbx.pid is not None:
        os.kill(sandbox.pbx.pid, signal.SIGKILL)
    sandbox.pbx.stop()
    sandbox.pbx.start()
    sandbox.save()
    sandbox.pbx.wait_fully_booted(timeout)
    sandbox.wait_registered(timeout)
    return time.monotonic() - started


@contextlib.contextmanager
def module_unloaded(sandbox: Sandbox, module: str) -> Iterator[None]:
    """An Asterisk module of the pbx missing for a while (``module unload``), as on a host where
    it was not installed."""
    sandbox.pbx.rx(f"module unload {module}")
    try:
        yield
    finally:
        sandbox.pbx.rx(f"module load {module}")


def start_cluster_again(directory: Path) -> None:
    """Start a private cluster stopped by ``postgres.stop_cluster``, on the same port as before
    (``start_cluster`` would take a new one, and the application's database URL would be wrong)."""
    port = (directory / "port").read_text().strip()
    options = (
        f"-p {port} -k {directory / 'sockets'} -c listen_addresses=127.0.0.1"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = str(postgres._postgres_bin_dir() / "pg_ctl")
    postgres._run_as_postgres(
        [pg_ctl, "-D", str(directory / "data"), "-l", str(directory / "server.log"), "-o", options, "-w", "start"]
    )


def log_lines(text: str, pattern: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(pattern, line)]
