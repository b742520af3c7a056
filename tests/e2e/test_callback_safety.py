"""The safety nets of outgoing calls, with real calls: a leg on which Asterisk did not take the
absolute timeout (the toll-fraud backstop) is hung up at once; the person gets their own absolute
timeout back after a call; a call in progress survives a cut ARI connection; and a bridge a dead
process left behind is destroyed before the next call."""

from __future__ import annotations

import asyncio
import secrets

import pytest

import access_helpers
from access_helpers import MAIN_MENU
from test_callback_calls import (
    LANDLINE,
    call_from_menu,
    callback_bridges,
    dial_out,
    far_end,
    wait_bridged,
    wait_no_callback_bridge,
    wait_record_ended,
)
from fault_helpers import cut_ari_connections, log_lines, module_unloaded

person = access_helpers.person


@pytest.mark.serve_errors(
    r"ERROR reconnect_pbx\.flows\.callback: channel \S+: Asterisk did not take TIMEOUT\(absolute\)",
    reason="func_timeout.so is unloaded on purpose: the toll-fraud backstop must hang the leg up",
)
async def test_a_leg_without_an_absolute_timeout_is_hung_up_at_once(
    running_app, sandbox, carrier, observer, person, session_factory
):
    with module_unloaded(sandbox, "func_timeout.so"):
        call = await dial_out(carrier, observer, person, LANDLINE)
        played = await call.until(MAIN_MENU[-1], timeout=30)
    assert played[-3:] == ["call-failed", *MAIN_MENU]
    record = await wait_record_ended(session_factory, person)
    assert (record.outcome, record.billable_seconds, record.answered_at) == ("failed", 0, None)
    log = running_app.log_text()
    assert log_lines(log, rf"ERROR .*channel {call.observed.channel_id}: Asterisk did not take TIMEOUT\(absolute\)")
    # Our outgoing leg is gone from the pbx: nothing can go on talking without a cut.
    async with asyncio.timeout(10):
        while [c for c in await observer.client.list_channels() if c["id"].startswith("callback-")]:
            await asyncio.sleep(0.1)
    await call.hang_up()


@pytest.mark.parametrize("own_timeout", [600, 0], ids=["a-cut-of-their-own", "no-cut"])
async def test_the_persons_own_absolute_timeout_is_given_back_after_a_call(
    running_app, carrier, observer, person, session_factory, own_timeout
):
    since = carrier.mark()
    call = await access_helpers.log_in(carrier, observer, person)
    channel = call.observed.channel_id

    async def timeout_left() -> float:
        return float(await observer.client.get_variable(channel, "TIMEOUT(absolute)") or 0)

    if own_timeout:  # the person's channel had a cut of its own, far beyond the call's
        await observer.client.set_variable(channel, "TIMEOUT(absolute)", str(own_timeout))
    await call_from_menu(call, LANDLINE)
    far = await far_end(carrier, person, since)
    await far.answer()
    await wait_bridged(observer)
    during = await timeout_left()
    await far.hang_up()
    assert (await call.until(MAIN_MENU[-1]))[-3:] == ["call-ended", *MAIN_MENU]
    # During the call, the call's own cut (ring + allowed + 2 graces = 18 s); after it, the person's
    # own cut again, less the time the call took (far less than 100 s), or none as before.
    assert 0 < during <= 18
    after = await timeout_left()
    if own_timeout:
        assert own_timeout - 100 < after <= own_timeout
    else:
        assert after == 0
    await call.hang_up()


@pytest.mark.serve_errors(
    r"ERROR reconnect_pbx\.stasis: channel \S+: access flow failed",
    reason="the cut aborts the REST request the person's flow was waiting on; the reconcile carries"
    " the conversation on, which is what this test checks",
)
async def test_a_call_in_progress_survives_a_cut_ari_connection(
    running_app, sandbox, carrier, observer, person, session_factory
):
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    await far.answer()
    bridge = await wait_bridged(observer)
    reconciled = running_app.reconcile_count()
    assert cut_ari_connections(running_app.process.pid, sandbox.pbx.address) >= 1
    # The reconcile of the reconnection has run: the call was left alone, still in its bridge,
    # driven by the same process.
    await running_app.wait_reconciled(reconciled)
    [still] = [b for b in await callback_bridges(observer) if b["id"] == bridge["id"]]
    assert sorted(still["channels"]) == sorted(bridge["channels"])
    await far.hang_up()
    assert (await call.until(MAIN_MENU[-1]))[-3:] == ["call-ended", *MAIN_MENU]
    record = await wait_record_ended(session_factory, person)
    assert record.outcome == "completed" and record.answered_at is not None
    await wait_no_callback_bridge(observer)
    assert not log_lines(running_app.log_text(), "a conversation left by a dead process")
    await call.hang_up()


async def test_an_empty_bridge_a_dead_process_left_is_destroyed_before_the_next_call(
    running_app, carrier, observer, person, session_factory
):
    leftover = f"callback-bridge-left-{secrets.token_hex(4)}"
    await observer.client.create_bridge(leftover, kind="mixing")
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    await far.reject("busy")
    await call.until("call-busy")
    assert leftover not in [b["id"] for b in await observer.client.list_bridges()]
    assert log_lines(running_app.log_text(), rf"channel {call.observed.channel_id}: destroying bridge {leftover} left by a dead process")
    await call.hang_up()
