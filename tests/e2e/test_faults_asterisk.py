"""Asterisk restarts, or the ARI connection is cut, with calls in progress: the application
reconnects with backoff and registers again, new calls work within seconds, and no message of the
calls in progress is lost."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from app_process import CONNECTED_LINE
from deposit_helpers import leave_message, wait_for_messages
from fault_helpers import (
    call_until_recording,
    cut_ari_connections,
    new_caller,
    restart_pbx,
    speak_then_hang_up,
)


@pytest.mark.parametrize("crash", [False, True], ids=["stopped", "crashed"])
async def test_asterisk_restarted_with_calls_in_progress_loses_no_message_and_new_calls_work_within_seconds(
    running_app, sandbox, carrier, observer, enrol, db, crash
):
    person = enrol()
    before = [new_caller() for _ in range(3)]
    calls = await asyncio.gather(*(call_until_recording(carrier, observer, person.national, c) for c in before))
    # They have said something when Asterisk goes down.
    await asyncio.gather(*(call.say("sound:test/speech-4s") for call, _ in calls))
    observer_connections = observer.client.reconnections

    await asyncio.to_thread(restart_pbx, sandbox, crash=crash)
    await asyncio.to_thread(running_app.wait_registered, 15)
    async with asyncio.timeout(15):
        while observer.client.reconnections == observer_connections or not observer.client.connected:
            await asyncio.sleep(0.1)
    # From Asterisk's start (its own clock) to the application's connection (serve.log's clock).
    started = datetime.fromisoformat((await observer.client.asterisk_info())["status"]["startup_time"])
    connected = running_app.log_lines(CONNECTED_LINE)[-1][:23]
    registered_after = (datetime.strptime(connected, "%Y-%m-%d %H:%M:%S,%f").astimezone() - started).total_seconds()
    assert registered_after < 10, f"the application registered again only after {registered_after:.1f} s"

    # The calls in progress were cut by the restart: what they said is stored all the same.
    await wait_for_messages(db, person.mailbox_id, len(before), timeout=30)
    # New calls work at once.
    after = [new_caller() for _ in range(3)]
    await asyncio.gather(*(leave_message(carrier, observer, person.national, c) for c in after))
    messages = await wait_for_messages(db, person.mailbox_id, len(before) + len(after), timeout=20)
    assert sorted(m.caller_number for m in messages) == sorted("+33" + c[1:] for c in before + after)


async def test_a_cut_ari_connection_mid_call_loses_no_message_and_the_app_reconnects(
    running_app, sandbox, carrier, observer, enrol, db
):
    person = enrol()
    callers = [new_caller() for _ in range(4)]
    calls = await asyncio.gather(*(call_until_recording(carrier, observer, person.national, c) for c in callers))
    connected_lines = running_app.log_text().count("ARI websocket connected")

    assert cut_ari_connections(running_app.process.pid, sandbox.pbx.address) >= 1
    # Two callers finish at once (maybe while the application is reconnecting), two a little later.
    await asyncio.gather(*(speak_then_hang_up(call) for call, _ in calls[:2]))
    async with asyncio.timeout(15):
        while running_app.log_text().count("ARI websocket connected") == connected_lines:
            await asyncio.sleep(0.1)
    await asyncio.gather(*(speak_then_hang_up(call) for call, _ in calls[2:]))
    # A new call works.
    late = new_caller()
    await leave_message(carrier, observer, person.national, late)

    messages = await wait_for_messages(db, person.mailbox_id, len(callers) + 1, timeout=20)
    assert sorted(m.caller_number for m in messages) == sorted("+33" + c[1:] for c in [*callers, late])
    # Every call ended cleanly: nothing is left in Asterisk.
    await asyncio.gather(*(call.wait_hung_up(timeout=15) for call, _ in calls))
    async with asyncio.timeout(10):
        while await observer.client.list_channels() or await observer.client.list_bridges():
            await asyncio.sleep(0.1)
