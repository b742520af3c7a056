"""The router's guards, with the real application: a Stasis() call naming a flow we do not have goes
back to the dialplan, a flow that fails apologises to the caller and hangs up, and SIGTERM lets the
calls in progress finish before ``serve`` exits."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.sandbox import STASIS_APP, Sandbox

import access_helpers
from access_helpers import MAIN_MENU, star_in_greeting, wrong_pin
from deposit_helpers import Person, media_names, wait_for_messages
from fault_helpers import dialplan_watch  # noqa: F401  (a fixture)
from fault_helpers import call_until_recording, log_lines, new_caller, speak_then_hang_up
from harness import place_call

person = access_helpers.person


@contextmanager
def extension(sandbox: Sandbox, context: str, exten: str, *steps: str) -> Iterator[None]:
    """A dialplan extension added to the running pbx for one test (``dialplan add extension``)."""
    for priority, step in enumerate(steps, start=1):
        sandbox.pbx.rx(f"dialplan add extension {exten},{priority},{step} into {context}")
    try:
        yield
    finally:
        sandbox.pbx.rx(f"dialplan remove extension {exten}@{context}")


@contextmanager
def failing_pin_check(session_factory: sessionmaker[Session], person: Person) -> Iterator[None]:
    """A fault in the database layer for one person: writing their PIN counters raises an error
    (an SQL error, not an outage), as a bug would."""
    suffix = secrets.token_hex(4)
    function, trigger = f"reconnect_test_fail_{suffix}", f"reconnect_test_fail_{suffix}"
    with session_factory() as session, session.begin():
        session.execute(text(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'a fault injected by the test'; END $$"
        ))
        session.execute(text(
            f"CREATE TRIGGER {trigger} BEFORE UPDATE ON credentials FOR EACH ROW "
            f"WHEN (NEW.beneficiary_id = {int(person.id)}) EXECUTE FUNCTION {function}()"
        ))
    try:
        yield
    finally:
        with session_factory() as session, session.begin():
            session.execute(text(f"DROP TRIGGER {trigger} ON credentials"))
            session.execute(text(f"DROP FUNCTION {function}()"))


@pytest.mark.serve_errors(
    r"ERROR reconnect_pbx\.stasis: channel \S+: unknown flow \['no-such-flow'\]; back to the dialplan",
    reason="the test hands a call to a flow that does not exist",
)
async def test_a_call_for_an_unknown_flow_goes_back_to_the_dialplan(running_app, sandbox, carrier, dialplan_watch):
    did = f"0999{secrets.randbelow(10**6):06d}"
    caller = new_caller()
    with extension(
        sandbox, "from-trunk", did,
        f"Stasis({STASIS_APP},no-such-flow)", "NoOp(back in the dialplan)", "Hangup()",
    ):
        call = await place_call(carrier, did, caller)
        steps = await dialplan_watch.wait_for(caller, "NoOp", timeout=20)
        await call.wait_hung_up(timeout=10)
    apps = [app for app, _ in steps.steps]
    assert apps.index("Stasis") < apps.index("NoOp")
    assert log_lines(running_app.log_text(), rf"ERROR .*channel {steps.channel_id}: unknown flow \['no-such-flow'\]; back to the dialplan")


@pytest.mark.serve_errors(
    r"ERROR reconnect_pbx\.stasis: channel \S+: \w+ flow failed",
    reason="a trigger makes the flow's database write fail on purpose",
)
async def test_a_flow_that_fails_apologises_to_the_caller_and_hangs_up(
    running_app, carrier, observer, person, session_factory
):
    with failing_pin_check(session_factory, person):
        call = await star_in_greeting(carrier, observer, person)
        await call.until("enter-pin")
        await call.press(wrong_pin(person.pin) + "#")
        await call.call.wait_hung_up(timeout=20)
    assert call.names[-1] == "technical-problem"
    assert log_lines(running_app.log_text(), rf"ERROR .*channel {call.observed.channel_id}: \w+ flow failed")
    # The service is still up: the same person logs in on the next call.
    again = await star_in_greeting(carrier, observer, person)
    await again.until("enter-pin")
    await again.press(person.pin + "#")
    await again.until(MAIN_MENU[-1])
    await again.hang_up()


async def test_sigterm_lets_the_calls_in_progress_finish_before_serve_exits(running_app, carrier, observer, enrol, db):
    person = enrol()
    call, observed = await call_until_recording(carrier, observer, person.national, new_caller())
    try:
        draining = r"stopping: letting [1-9]\d* call\(s\) finish"
        before = len(running_app.log_lines(draining))
        running_app.process.send_signal(signal.SIGTERM)
        await running_app.wait_for_log(draining, count=before + 1)
        # The caller has not finished: their message is taken, stored and confirmed all the same.
        await speak_then_hang_up(call, end_with_hash=True)
        await call.wait_hung_up(timeout=20)
        [message] = await wait_for_messages(db, person.mailbox_id, 1)
        assert message.source_channel_id == observed.channel_id
        assert media_names(observed.media)[-1] == "message-saved"
        returncode = await asyncio.to_thread(running_app.process.wait, 30)
        assert returncode == 0
        assert not log_lines(running_app.log_text(), f"channel {observed.channel_id}: call abandoned at shutdown")
    finally:
        # Whatever happened, the next test finds serve stopped, not still draining.
        await asyncio.to_thread(running_app.stop)
