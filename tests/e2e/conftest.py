"""End-to-end fixtures: a real carrier Asterisk and the real pbx Asterisk, once per session.

The carrier simulator listens on 127.0.0.2, the pbx on 127.0.0.3 (SIP 5060, ARI 8088
on each). A second test session running at the same time (another developer in the
same tree) takes the next free pair, 127.0.0.4/5 and so on, instead of disturbing
the first; tests read addresses from the fixtures, never hard-code them. If the
Asterisk chroot cannot be built the tests fail: they never skip.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from reconnect_pbx.sandbox import STASIS_APP, Sandbox, SandboxBusy, SandboxError, start_sandbox

from harness import APP_NAME_RELEASERS, AriApp, release_app_name

# (sandbox name, carrier's last address octet; the pbx takes the next one).
# 12/13 belong to the demo, 20/21 to the load bench, 24 to 27 to its smoke test; the deploy
# guide's test takes the session's octet + 40. Each pytest-xdist worker is a session of its own.
TEST_SLOTS = [
    ("test", 2), ("test4", 4), ("test6", 6), ("test8", 8),
    ("test14", 14), ("test16", 16), ("test30", 30), ("test32", 32),
]
BUSY_TIMEOUT = 240

_started: list[Sandbox] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    slots = [i for i, item in enumerate(items) if str(item.path).startswith(here)]
    ours = [items[i] for i in slots]
    for item in ours:
        item.add_marker(pytest.mark.e2e)
    # Tests standing in for the application (pbx_app) run before those running the real one,
    # so the application name changes hands once per session, not at every module.
    ours.sort(key=lambda item: "pbx_app" not in getattr(item, "fixturenames", ()))
    for i, item in zip(slots, ours):
        items[i] = item


def _timing_lines() -> list[str]:
    lines = []
    for sandbox in _started:
        timings = ", ".join(f"{key} {value:.2f} s" for key, value in sandbox.timings.items())
        lines.append(f"Asterisk sandbox {sandbox.name!r}: {timings}")
    return lines


_worker_timings: list[str] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Under pytest-xdist a worker's sandboxes are reported by the controller (below).
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["sandbox_timings"] = _timing_lines()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    _worker_timings.extend(getattr(node, "workeroutput", {}).get("sandbox_timings", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _timing_lines() + _worker_timings:
        terminalreporter.write_line(line)


def _start_first_free_sandbox() -> Sandbox:
    """The first slot that starts. A slot that fails to start (an Asterisk that a killed session
    left behind, with no state file, holding its addresses) is passed over; if none starts, the
    first failure is raised."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    failures: dict[str, SandboxError] = {}
    while True:
        for name, octet in TEST_SLOTS:
            if name in failures:
                continue
            try:
                return start_sandbox(octet, name=name, owner_pid=os.getpid())
            except SandboxBusy:
                continue
            except SandboxError as error:
                failures[name] = error
        if len(failures) == len(TEST_SLOTS):
            raise next(iter(failures.values()))
        if time.monotonic() > deadline:
            raise SandboxBusy(f"every test sandbox has been in use for {BUSY_TIMEOUT} s (failed to start: {failures})")
        time.sleep(1)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Carrier + pbx, the pbx registered to the carrier."""
    started = _start_first_free_sandbox()
    _started.append(started)
    try:
        yield started
    finally:
        started.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def carrier(sandbox: Sandbox) -> AsyncIterator[AriApp]:
    """The carrier's ARI application ("carrier"): places calls to the pbx."""
    app = await AriApp.for_instance(sandbox.carrier).connect()
    try:
        yield app
    finally:
        await app.close()


@pytest_asyncio.fixture(loop_scope="session")
async def pbx_app(sandbox: Sandbox, carrier: AriApp) -> AsyncIterator[AriApp]:
    """Stands in for the application on the pbx (as "reconnect-pbx") for one test.

    Only one websocket may hold the name: whatever holds it for the session (the real
    application) is asked to let it go first, see ``harness.APP_NAME_RELEASERS``.
    Whatever a test left is hung up afterwards.
    """
    release_app_name(STASIS_APP)
    app = await AriApp.for_instance(sandbox.pbx, STASIS_APP).connect()
    try:
        yield app
    finally:
        for side in (carrier, app):
            for channel in await side.get("/channels"):
                await side.http.delete(f"/channels/{channel['id']}")
        await app.close()


# Our application under test and the fixtures around it (see deposit_helpers.py).
from deposit_helpers import (  # noqa: E402,F401
    app_process,
    close_person,
    db,
    e2e_centre,
    enrol,
    fill_mailbox,
    observer,
    running_app,
    serve_log_checked,
    serve_role_url,
    speech_sounds,
)


E2E_DIR = Path(__file__).resolve().parent


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Past this process's last e2e test, the session's ``serve`` stops. In parallel runs the same
    worker goes on with integration tests on the same database, and ``serve`` would go on working
    on it (confirmation calls to the phones they set, alerts, spool sweeps) under their feet."""
    if nextitem is None or E2E_DIR not in Path(str(nextitem.fspath)).resolve().parents:
        for stop in list(APP_NAME_RELEASERS.get(STASIS_APP, [])):
            stop()
