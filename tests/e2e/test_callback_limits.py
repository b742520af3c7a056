"""Limits of outgoing calls on real calls: the per-call maximum, the monthly quota, one call at a
time, and the cut that holds when the application is killed mid-call.

Test configuration (``app_process.CALLBACK_TEST_LIMITS``): a call may last 10 s from the answer,
the warning comes 3 s before the cut, Asterisk's own cut (``TIMEOUT(absolute)``) 2 s after ours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.models import CallDirection, CallRecord

import access_helpers
from access_helpers import MAIN_MENU
from deposit_helpers import Person
from harness import asterisk_time
from test_callback_calls import (
    LANDLINE,
    callback_bridges,
    calls_from_pbx,
    dial_out,
    far_end,
    outbound_records,
    wait_bridged,
    wait_record_ended,
)

# An enrolled, onboarded person who knows their PIN (the access tests' fixture).
person = access_helpers.person

MAX_CALL = 10
GRACE = 2
MONTHLY_SECONDS = 120 * 60


def used_this_month(session_factory: sessionmaker[Session], person: Person, seconds: int) -> None:
    """An earlier call of this month, ``seconds`` long."""
    started = datetime.now(UTC) - timedelta(minutes=5)
    with session_factory() as session, session.begin():
        session.add(
            CallRecord(
                direction=CallDirection.OUTBOUND, flow="callback", beneficiary_id=person.id,
                caller_number=person.number, called_number="+33142685300", started_at=started,
                answered_at=started, ended_at=started + timedelta(seconds=seconds), billable_seconds=seconds,
                outcome="completed", policy_decision="allowed:geographic",
            )
        )  # fmt: skip


async def test_the_per_call_maximum_cuts_the_call_after_a_warning(running_app, carrier, observer, person, session_factory):
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    answered = await far.answer()
    cut = await far.wait_gone(timeout=MAX_CALL + 5)
    assert MAX_CALL - 0.5 <= cut - answered <= MAX_CALL + 1.5
    assert await call.until(MAIN_MENU[-1]) == ["calling", "call-limit-warning", "call-time-up", *MAIN_MENU]
    record = await wait_record_ended(session_factory, person)
    assert record.outcome == "cut"
    assert MAX_CALL <= record.billable_seconds <= MAX_CALL + 1
    assert await callback_bridges(observer) == []
    await call.hang_up()


async def test_the_monthly_quota_cuts_the_call_when_the_minutes_run_out(
    running_app, carrier, observer, person, session_factory
):
    used_this_month(session_factory, person, MONTHLY_SECONDS - 5)
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    answered = await far.answer()
    cut = await far.wait_gone(timeout=10)
    assert 4.5 <= cut - answered <= 6.5
    assert await call.until(MAIN_MENU[-1]) == ["calling", "call-limit-warning", "call-time-up", *MAIN_MENU]
    record = await wait_record_ended(session_factory, person)
    assert record.outcome == "cut" and 5 <= record.billable_seconds <= 6
    # Now nothing is left this month.
    since = carrier.mark()
    await call.press("2")
    await call.until("enter-number-to-call")
    await call.press(LANDLINE + "#")
    assert await call.until(MAIN_MENU[-1]) == ["quota-exhausted", *MAIN_MENU]
    assert calls_from_pbx(carrier, since) == []
    await call.hang_up()


async def test_a_second_outgoing_call_while_one_is_in_progress_is_refused(
    running_app, carrier, observer, person, session_factory
):
    since = carrier.mark()
    first = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    await far.answer()
    await wait_bridged(observer)
    second = await dial_out(carrier, observer, person, LANDLINE)
    assert await second.until(MAIN_MENU[-1]) == ["call-already-in-progress", *MAIN_MENU]
    assert len([e for e in calls_from_pbx(carrier, since) if e["channel"]["caller"]["number"] == person.number]) == 1
    await second.hang_up()
    await first.hang_up()
    await far.wait_gone(timeout=5)
    assert (await wait_record_ended(session_factory, person)).outcome == "completed"
    assert len(outbound_records(session_factory, person)) == 1


async def test_a_call_still_ends_at_the_limit_when_the_application_is_killed(
    running_app, carrier, observer, person, session_factory
):
    since = carrier.mark()
    call = await dial_out(carrier, observer, person, LANDLINE)
    far = await far_end(carrier, person, since)
    answered = await far.answer()
    await wait_bridged(observer)
    reconciled = running_app.reconcile_count()
    running_app.kill()
    try:
        cut = await far.wait_gone(timeout=MAX_CALL + GRACE + 5)
        # Asterisk's absolute timeout, set when the call was answered: the limit plus the grace.
        assert MAX_CALL + GRACE - 1 <= cut - answered <= MAX_CALL + GRACE + 1.5
        # Nobody is left in a bridge that nothing drives: the person's channel is cut one grace later.
        person_cut = asterisk_time(await call.call.wait_hung_up(timeout=GRACE + 4))
        assert person_cut - answered <= MAX_CALL + 2 * GRACE + 1.5
    finally:
        running_app.start()
    # The next call closes what the dead process left: the call record, and its empty bridge.
    await running_app.wait_reconciled(reconciled)
    since = carrier.mark()
    again = await dial_out(carrier, observer, person, LANDLINE)
    far_again = await far_end(carrier, person, since)
    await far_again.reject("busy")
    await again.until("call-busy")
    records = outbound_records(session_factory, person)
    assert [r.outcome for r in records][:1] == ["interrupted"]
    # Nobody saw it end: billed up to the latest cut Asterisk's timeout allowed after the answer
    # (the ring time it did not use is not billed).
    assert records[0].billable_seconds == MAX_CALL + GRACE
    assert (await wait_record_ended(session_factory, person)).outcome == "busy"
    assert await callback_bridges(observer) == []
    await again.hang_up()
