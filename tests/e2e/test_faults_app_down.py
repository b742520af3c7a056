"""The application is not connected (stopped, crashed, restarting): the dialplan takes the messages
alone, and the application stores them when it starts, in the mailbox of the time of the call."""

from __future__ import annotations

import asyncio
import re

import pytest

from reconnect_pbx.phone import caller_e164
from reconnect_pbx.sandbox import STASIS_APP
from reconnect_pbx.services.recovery import parse_spool_name
from reconnect_pbx.stasis import ACCESS_NUMBER_VARIABLE

from app_process import ACCESS_NUMBER
from deposit_helpers import leave_message, wait_for_messages
from fault_helpers import (
    call_fallback,
    log_lines,
    new_caller,
    speak_then_hang_up,
    spool_names,
)
from fault_helpers import dialplan_watch  # noqa: F401  (a fixture)
from harness import channel_id, pbx_stasis_start, place_call, release_app_name


async def test_calls_made_while_the_app_is_stopped_are_all_stored_when_it_starts(
    app_process, speech_sounds, carrier, observer, dialplan_watch, enrol, db, number_block
):
    release_app_name(STASIS_APP)  # the application is down before the calls
    first, second = enrol(), enrol("en")
    unassigned = number_block() + "00"
    calls = [
        (first, new_caller("01"), False),
        (first, new_caller("06"), True),  # withheld
        (second, new_caller("04"), False),
        (second, new_caller("09"), False),
    ]
    dropped_caller = new_caller("05")

    async def one(dialled: str, caller: str, withheld: bool) -> None:
        call = await call_fallback(carrier, dialplan_watch, dialled, caller, withheld=withheld)
        await speak_then_hang_up(call)
        await call.wait_hung_up(timeout=15)

    await asyncio.gather(
        *(one(person.national, caller, withheld) for person, caller, withheld in calls),
        one(unassigned, dropped_caller, False),
    )
    # One file per call waits in the spool, under fallback/, named after the caller (or "withheld").
    waiting = [n for n in await spool_names(observer) if n.startswith("fallback/")]
    for _, caller, withheld in calls:
        if not withheld:
            assert len([n for n in waiting if f"-{caller}-" in n]) == 1
    assert len([n for n in waiting if f"-{dropped_caller}-" in n]) == 1

    app_process.start()
    first_messages = await wait_for_messages(db, first.mailbox_id, 2, timeout=20)
    second_messages = await wait_for_messages(db, second.mailbox_id, 2, timeout=20)
    stored = first_messages + second_messages
    assert len(stored) == len(calls)
    assert sorted(m.caller_number or "withheld" for m in first_messages) == sorted(
        ["+33" + calls[0][1][1:], "withheld"]
    )
    assert sorted(m.caller_number for m in second_messages) == sorted("+33" + c[1:] for _, c, _ in calls[2:])
    for message in stored:
        assert 3000 <= message.duration_ms <= 6000
        assert message.called_number in (first.number, second.number)
    # Nothing is left behind: the unassigned number's file went too, and the log says why.
    ours = [caller for _, caller, _ in calls] + [dropped_caller]
    async with asyncio.timeout(10):
        while [n for n in await spool_names(observer) if any(f"-{c}-" in n for c in ours)]:
            await asyncio.sleep(0.2)
    assert log_lines(app_process.log_text(), rf"spool message dropped: nobody held {re.escape(unassigned)}")
    # What the callers heard came from the dialplan alone.
    steps = (await dialplan_watch.wait_for(calls[0][1], "Record")).media()
    assert steps[:3] == ["fallback-greeting", "fallback-greeting", "beep"]


async def test_the_access_number_says_the_service_is_unavailable_while_the_app_is_stopped(
    app_process, carrier, observer, dialplan_watch
):
    # The app publishes the access number to the dialplan when it connects (an Asterisk restarted
    # while the app is away knows none, and records there as before).
    app_process.start()

    async def published() -> str | None:
        reply = await observer.client.request("GET", "/asterisk/variable", params={"variable": ACCESS_NUMBER_VARIABLE})
        return reply.get("value")

    async with asyncio.timeout(10):
        while await published() != ACCESS_NUMBER:
            await asyncio.sleep(0.1)
    release_app_name(STASIS_APP)

    caller = new_caller("07")
    call = await place_call(carrier, ACCESS_NUMBER, caller)
    await call.wait_answered(timeout=15)
    steps = await dialplan_watch.wait_for(caller, "Hangup", timeout=30)
    await call.wait_hung_up(timeout=15)
    assert steps.media() == ["service-unavailable", "service-unavailable"]  # French, then English
    assert not steps.ran("Record")
    assert not [n for n in await spool_names(observer) if f"-{caller}-" in n]


async def test_a_caller_id_that_is_no_number_ends_in_the_mailbox_as_withheld_whoever_takes_the_call(
    app_process, speech_sounds, carrier, observer, dialplan_watch, enrol, db
):
    # Too long for a number: it once left the fallback's file in the spool, never attributed. The
    # fallback and the application store the same caller for the same caller ID.
    release_app_name(STASIS_APP)
    person = enrol()
    too_long = new_caller("01") * 4  # 40 digits
    landline = new_caller("01")
    cases = [(too_long, None), (landline, "+33" + landline[1:])]
    expected = sorted(stored or "withheld" for _, stored in cases)
    for caller, _ in cases:
        call = await call_fallback(carrier, dialplan_watch, person.national, caller)
        await speak_then_hang_up(call)
        await call.wait_hung_up(timeout=15)

    app_process.start()
    from_fallback = await wait_for_messages(db, person.mailbox_id, len(cases), timeout=20)
    assert sorted(m.caller_number or "withheld" for m in from_fallback) == expected
    async with asyncio.timeout(10):
        while [n for n in await spool_names(observer) if n.startswith(f"fallback/fallback-{person.number[1:]}-")]:
            await asyncio.sleep(0.2)

    # The same callers again, the application up: the same callers stored.
    for caller, _ in cases:
        call = await leave_message(carrier, observer, person.national, caller)
        await call.wait_hung_up(timeout=15)
    every = await wait_for_messages(db, person.mailbox_id, 2 * len(cases), timeout=20)
    assert sorted(m.caller_number or "withheld" for m in every[len(cases) :]) == expected


@pytest.mark.parametrize(
    ("caller_id", "in_name"),
    [
        ("+33 (1) 42-68.53 00", "0033142685300"),  # separators around the digits: a number
        ("01 42 CALL ME", "withheld"),  # letters: not a number, as for the application
        ("+33 1+42", "withheld"),  # a "+" inside
        ("1" * 40, "withheld"),  # too long (once left in the spool, never attributed)
    ],
)
async def test_the_fallback_names_its_file_after_the_caller_by_the_rule_of_the_application(
    carrier, pbx_app, observer, dialplan_watch, caller_id, in_name
):
    # The carrier simulator sends caller IDs as numbers only: the pbx side sets the one under test
    # and hands the call to the dialplan's fallback, as the application does without a database.
    presented = new_caller("01")
    call = await place_call(carrier, "0142685300", caller_id=presented)
    channel = channel_id(await pbx_stasis_start(pbx_app, call))
    await pbx_app.post(f"/channels/{channel}/variable", variable="CALLERID(num)", value=caller_id)
    await pbx_app.post(f"/channels/{channel}/continue", context="fallback-deposit", extension="s", priority=1)
    steps = await dialplan_watch.wait_for(presented, "Record", timeout=30)
    record = next(data for app, data in steps.steps if app == "Record")
    assert "/fallback-33142685300-" in record
    name = record.split(",")[0].rsplit("/", 1)[-1].removesuffix(".wav")
    assert name.split("-")[2] == in_name
    assert caller_e164(caller_id, "allowed", "FR") == parse_spool_name(f"fallback/{name}").caller
    await call.hangup()
    await call.wait_hung_up(timeout=15)
    async with asyncio.timeout(10):
        while f"fallback/{name}" not in await spool_names(observer):
            await asyncio.sleep(0.1)
    await observer.client.delete_stored_recording(f"fallback/{name}")
