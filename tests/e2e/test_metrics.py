"""The metrics endpoint of the real ``serve``, scraped around real calls.

Counters are compared before and after: the application serves the whole session, other tests'
calls have moved them already.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from reconnect_pbx.sandbox import Sandbox

from access_helpers import star_in_greeting, wrong_pin
from app_process import AppProcess
from deposit_helpers import Person, leave_message, wait_for_messages
from harness import AriApp, place_call
from observer import PbxObserver

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(app: AppProcess) -> Samples:
    port = app.env["RECONNECT_METRICS_LISTEN_PORT"]
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def wait_for(app: AppProcess, condition: Callable[[Samples], bool], timeout: float = 10) -> Samples:
    async with asyncio.timeout(timeout):
        while not condition(samples := scrape(app)):
            await asyncio.sleep(0.1)
    return samples


async def test_a_deposit_call_counts_one_stored_message(
    running_app: AppProcess, carrier: AriApp, observer: PbxObserver, enrol: Callable[..., Person], db: Session
) -> None:
    person = enrol()
    before = scrape(running_app)
    await leave_message(carrier, observer, person.national, "0142685378")
    await wait_for_messages(db, person.mailbox_id, 1)
    after = scrape(running_app)
    assert value(after, "reconnect_messages_stored_total") == value(before, "reconnect_messages_stored_total") + 1
    # The call's own ARI traffic: at least answer, greeting, record, fetch the recording.
    assert value(after, "reconnect_ari_requests_total") >= value(before, "reconnect_ari_requests_total") + 4
    assert value(after, "reconnect_ari_events_total", type="StasisStart") >= 1


async def test_a_call_shows_in_the_calls_in_progress_gauge_until_it_ends(
    running_app: AppProcess, carrier: AriApp, observer: PbxObserver, enrol: Callable[..., Person]
) -> None:
    person = enrol()
    before = scrape(running_app)
    assert value(before, "reconnect_calls_in_progress", flow="deposit") == 0
    assert value(before, "reconnect_ari_connected") == 1
    caller = "0142685377"
    call = await place_call(carrier, person.national, caller)
    await call.wait_answered(timeout=15)
    observed = await observer.call_from(caller, timeout=15)
    async with asyncio.timeout(15):
        while not observed.recordings:
            await asyncio.sleep(0.02)
    during = scrape(running_app)
    await call.hangup()
    await wait_for(running_app, lambda s: value(s, "reconnect_calls_in_progress", flow="deposit") == 0)
    assert value(during, "reconnect_calls_in_progress", flow="deposit") == 1


async def test_a_wrong_pin_counts_a_login_failure(
    running_app: AppProcess, carrier: AriApp, observer: PbxObserver, enrol: Callable[..., Person]
) -> None:
    person = enrol()
    before = value(scrape(running_app), "reconnect_login_failures_total")
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(wrong_pin(person.pin) + "#")
    await call.until("login-incorrect")
    await call.hang_up()
    assert value(scrape(running_app), "reconnect_login_failures_total") == before + 1


def abort_ari_connections(app: AppProcess, pbx_address: str, http_port: int) -> None:
    """Abort the application's own TCP connections to ARI (``ss -K``), as a network fault would."""
    assert app.process is not None
    listing = subprocess.run(
        ["ss", "-tnpH", "state", "established", "dst", f"{pbx_address}:{http_port}"],
        capture_output=True, text=True, check=True,
    ).stdout
    ours = [line for line in listing.splitlines() if f"pid={app.process.pid}," in line]
    ports = [match.group(1) for line in ours if (match := re.search(r":(\d+)\s+\S+:\d+\s", line))]
    assert ports, listing
    for port in ports:
        subprocess.run(
            ["ss", "-K", "dst", pbx_address, "dport", "=", f":{http_port}", "sport", "=", f":{port}"],
            capture_output=True, check=True,
        )


async def test_a_dropped_ari_websocket_counts_a_reconnection(running_app: AppProcess, sandbox: Sandbox) -> None:
    before = value(scrape(running_app), "reconnect_ari_reconnections_total")
    await asyncio.to_thread(abort_ari_connections, running_app, sandbox.pbx.address, sandbox.pbx.http_port)
    after = await wait_for(
        running_app,
        lambda s: value(s, "reconnect_ari_reconnections_total") > before and value(s, "reconnect_ari_connected") == 1,
    )
    assert value(after, "reconnect_ari_reconnections_total") == before + 1
    running_app.wait_registered()


def test_every_flow_is_exposed_from_the_start(running_app: AppProcess) -> None:
    samples = scrape(running_app)
    flows = {dict(labels).get("flow") for name, labels in samples if name == "reconnect_calls_in_progress"}
    assert {"deposit", "access"} <= flows
    assert value(samples, "process_resident_memory_bytes") > 0
