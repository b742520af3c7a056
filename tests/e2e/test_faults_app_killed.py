"""The application is killed (SIGKILL) in the middle of calls: after the restart every message is
stored, every call left in our Stasis application is taken up, and no channel or bridge outlives
its call."""

from __future__ import annotations

import asyncio
import math

from app_process import ACCESS_NUMBER, CALLBACK_TEST_LIMITS
from deposit_helpers import media_names, wait_for_messages
from fault_helpers import (
    call_until_recording,
    log_lines,
    new_caller,
    speak_then_hang_up,
)
from harness import place_call
from reconnect_pbx.ari import Event
from access_helpers import person  # noqa: F401 (fixture: an enrolled person who knows their PIN)
from test_callback_calls import LANDLINE, callback_bridges, dial_out, far_end, wait_bridged, wait_record_ended

GRACE = int(CALLBACK_TEST_LIMITS["RECONNECT_CALLBACK_HANGUP_GRACE_SECONDS"])
# Long enough for the restarted process to take the call up before Asterisk cuts it, however slow
# its start (the test configuration's 10 s were not, with eight test sessions on two cores).
DEAD_CALLBACK_MAX_CALL = 30
# The far end leaves the pbx: the first of these Asterisk sends about it.
LEAVING = ("ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")


async def test_messages_being_recorded_when_the_app_is_killed_are_all_stored_after_restart(
    running_app, carrier, observer, enrol, db
):
    person = enrol()
    callers = [new_caller() for _ in range(4)]
    calls = await asyncio.gather(*(call_until_recording(carrier, observer, person.national, c) for c in callers))
    running_app.kill()
    # Two callers say their message and hang up while nobody drives their call...
    gone = asyncio.gather(*(speak_then_hang_up(call) for call, _ in calls[:2]))
    # ...two are still speaking when the application is back.
    for call, _ in calls[2:]:
        await call.play("tone:440")
    await gone
    running_app.start()
    await running_app.wait_for_log("taking up a message left recording", count=2)
    # They end their message with '#': the application takes it up, stores it and says so.
    for call, _ in calls[2:]:
        await call.send_dtmf("#")
    await asyncio.gather(*(call.wait_hung_up(timeout=15) for call, _ in calls[2:]))

    messages = await wait_for_messages(db, person.mailbox_id, len(callers), timeout=20)
    assert sorted(m.caller_number for m in messages) == sorted("+33" + c[1:] for c in callers)
    assert len({m.source_channel_id for m in messages}) == len(callers)
    for _, observed in calls[2:]:
        assert media_names(observed.media)[-1] == "message-saved"
    # The spool is empty of these calls' files.
    left = [r["name"] for r in await observer.client.stored_recordings()]
    assert [n for n in left if any(c[1:] in n for c in callers)] == []


async def test_calls_mid_login_and_mid_bridge_are_taken_up_and_nothing_outlives_them(
    running_app, carrier, observer, enrol, db
):
    person = enrol()
    at_login, in_bridge = new_caller("03"), new_caller("04")
    login_call = await place_call(carrier, ACCESS_NUMBER, at_login)
    bridged_call = await place_call(carrier, person.national, in_bridge)
    login_observed = await observer.call_from(at_login, timeout=15)
    bridged_observed = await observer.call_from(in_bridge, timeout=15)
    async with asyncio.timeout(15):
        while "enter-personal-number" not in media_names(login_observed.media) or not bridged_observed.media:
            await asyncio.sleep(0.05)
    running_app.kill()
    # What a dead callback leaves: a person's channel in a bridge, and an empty bridge.
    client = observer.client
    await client.create_bridge("callback-bridge-left-by-a-crash", kind="mixing")
    await client.add_to_bridge("callback-bridge-left-by-a-crash", [bridged_observed.channel_id])
    await client.create_bridge("callback-bridge-left-empty", kind="mixing")
    prompts_before = len(login_observed.media)

    running_app.start()
    # The caller in a bridge hears that something went wrong and is hung up; the bridges go.
    await bridged_call.wait_hung_up(timeout=15)
    assert media_names(bridged_observed.media)[-1] == "technical-problem"
    async with asyncio.timeout(10):
        while await client.list_bridges():
            await asyncio.sleep(0.1)
    # The caller at the login is asked for their number again: the access flow starts over.
    async with asyncio.timeout(10):
        while "enter-personal-number" not in media_names(login_observed.media[prompts_before:]):
            await asyncio.sleep(0.05)
    await login_call.hangup()
    await login_call.wait_hung_up()
    async with asyncio.timeout(10):
        while [c for c in await client.list_channels() if c["id"] in (login_observed.channel_id, bridged_observed.channel_id)]:
            await asyncio.sleep(0.1)
    assert await client.list_bridges() == []
    assert log_lines(running_app.log_text(), rf"channel {login_observed.channel_id}: resuming the access flow")


async def test_a_conversation_left_by_a_dead_process_goes_on_and_ends_cleanly(running_app, carrier, observer, enrol):
    person = enrol()
    talking, listening = new_caller("03"), new_caller("04")
    calls = [await place_call(carrier, person.national, caller) for caller in (talking, listening)]
    observed = [await observer.call_from(caller, timeout=15) for caller in (talking, listening)]
    async with asyncio.timeout(15):
        while not all(o.media for o in observed):
            await asyncio.sleep(0.05)
    running_app.kill()
    # What a dead callback leaves: two people talking in a bridge nobody drives.
    client = observer.client
    await client.create_bridge("callback-bridge-conversation", kind="mixing")
    await client.add_to_bridge("callback-bridge-conversation", [o.channel_id for o in observed])
    reconciled = running_app.reconcile_count()
    running_app.start()
    # The reconcile that would have hung them up is over: they go on talking...
    await running_app.wait_reconciled(reconciled)
    assert log_lines(running_app.log_text(), "a conversation left by a dead process goes on")
    [bridge] = await client.list_bridges()
    assert sorted(bridge["channels"]) == sorted(o.channel_id for o in observed)
    # ...until one hangs up: the other hears that the call ended, and nothing is left.
    await calls[0].hangup()
    await calls[1].wait_hung_up(timeout=10)
    assert media_names(observed[1].media)[-1] == "call-ended"
    async with asyncio.timeout(5):
        while await client.list_bridges() or [c for c in await client.list_channels() if c["id"] in {o.channel_id for o in observed}]:
            await asyncio.sleep(0.1)


async def test_a_callback_left_by_a_dead_process_is_cut_by_asterisk_and_billed_from_asterisks_times(
    running_app, carrier, observer, person, session_factory
):
    running_app.stop()
    running_app.configure(callback_max_call_seconds=str(DEAD_CALLBACK_MAX_CALL))
    try:
        await _dead_callback(running_app, carrier, observer, person, session_factory)
    finally:
        running_app.stop()
        running_app.configure(callback_max_call_seconds=CALLBACK_TEST_LIMITS["RECONNECT_CALLBACK_MAX_CALL_SECONDS"])


async def _dead_callback(running_app, carrier, observer, person, session_factory) -> None:
    running_app.start()
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    # The outgoing leg on the pbx ("owned,callback,<person's channel>"), and what Asterisk says
    # about it, stamped with Asterisk's clock.
    [leg] = [c["id"] for c in await observer.client.list_channels() if c["id"].startswith("callback-")]
    seen: list[Event] = []
    stop_watching = observer.client.events.subscribe(leg, seen.append)
    try:
        await far.answer()
        await wait_bridged(observer)
        running_app.kill()
        running_app.start()
        async with asyncio.timeout(DEAD_CALLBACK_MAX_CALL):
            while not log_lines(running_app.log_text(), "a conversation left by a dead process goes on"):
                await asyncio.sleep(0.1)
        # Nobody hangs up: the absolute timeout the dead process set at the answer cuts the far end...
        await far.wait_gone(timeout=DEAD_CALLBACK_MAX_CALL + GRACE + 10)
        # ...and the person hears that the call ended, then is hung up.
        await call.until("call-ended")
        await call.wait_ended()
        record = await wait_record_ended(session_factory, person)
    finally:
        stop_watching()
    # Both legs are gone, and their bridge.
    live = {c["id"] for c in await observer.client.list_channels()}
    assert {leg, call.observed.channel_id} & live == set()
    assert await callback_bridges(observer) == []
    # The cut, on Asterisk's clock: the limit plus the grace after the answer.
    answered = next(e.timestamp for e in seen if e.type == "ChannelStateChange" and e["channel"]["state"] == "Up")
    ended = next(e.timestamp for e in seen if e.type in LEAVING)
    lasted = (ended - answered).total_seconds()
    # (Asterisk's cut counts from when the dead process set it, a moment after the answer.)
    assert DEAD_CALLBACK_MAX_CALL + GRACE <= lasted < DEAD_CALLBACK_MAX_CALL + GRACE + 2
    # Billed for what it lasted by Asterisk's times, in whole seconds rounded up (from the moment
    # the far end entered Stasis, a few milliseconds after its answer), not by our clock.
    assert record.outcome == "interrupted"
    assert math.ceil(lasted) - 1 <= record.billable_seconds <= math.ceil(lasted)
    assert log_lines(
        running_app.log_text(), rf"channel {leg}: outgoing call finished after a crash, {record.billable_seconds} s billed"
    )
