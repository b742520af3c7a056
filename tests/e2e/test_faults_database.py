"""PostgreSQL stops while calls are in progress: deposits are still answered and recorded, and
stored when it returns; the access number says the service is temporarily unavailable.

The test runs its own PostgreSQL cluster (never the machine's shared one) and its own application
process against it: the session's application lets go of the ARI name first.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.db import make_engine, make_session_factory
from reconnect_pbx.models import Centre, Language, Mailbox
from reconnect_pbx.sandbox import STASIS_APP, Sandbox, postgres
from reconnect_pbx.services import centres, numbers, people, schema

from app_process import ACCESS_NUMBER, AppProcess
from deposit_helpers import Person, check_serve_log, leave_message, media_names, wait_for_messages
from fault_helpers import (
    call_fallback,
    call_until_recording,
    log_lines,
    new_caller,
    speak_then_hang_up,
    start_cluster_again,
)
from fault_helpers import dialplan_watch  # noqa: F401  (a fixture)
from harness import place_call, release_app_name


@pytest.fixture
def private_database() -> Iterator[tuple[Path, str]]:
    """A PostgreSQL cluster of this test's own, and a migrated database in it."""
    # Directly under /tmp: the cluster runs as the postgres user, who cannot enter pytest's folders.
    directory = Path(tempfile.mkdtemp(prefix="reconnect-faults-pg-"))
    server = postgres.start_cluster(directory)
    try:
        url = postgres.create_database(server, prefix="reconnect_faults")
        schema.upgrade(url)
        yield directory, url
    finally:
        postgres.stop_cluster(directory)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def private_app(
    request: pytest.FixtureRequest, sandbox: Sandbox, private_database, app_process, speech_sounds, tmp_path
) -> Iterator[AppProcess]:
    """Our application on the private database, holding the ARI name for the test."""
    release_app_name(STASIS_APP)
    process = AppProcess(sandbox, private_database[1], tmp_path / "serve.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()
    check_serve_log(process, request)


@pytest.fixture
def private_factory(private_database) -> Iterator[sessionmaker[Session]]:
    # The test's own checks outlive the restarts they cause: its engine pings before each use
    # (the application retries instead, reconnect_pbx.db.run_in_transaction).
    engine = make_engine(private_database[1], pool_pre_ping=True)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def enrol_in(factory: sessionmaker[Session], number: str) -> Person:
    with factory() as session, session.begin():
        centre = session.scalar(select(Centre).limit(1)) or centres.add_centre(
            session, f"Faults {datetime.now().timestamp()}", "Paris", actor="e2e"
        )
        numbers.import_numbers(session, [number], centre=centre, trunk="trunk", actor="e2e", source="test")
        enrolment = people.enrol(
            session, centre=centre, display_name="Test Person", language=Language.FR, pin_length=6, actor="e2e",
            number=number,
        )
        mailbox_id = session.scalar(select(Mailbox.id).where(Mailbox.beneficiary_id == enrolment.beneficiary_id))
    return Person(enrolment.beneficiary_id, number, mailbox_id, "fr", pin=enrolment.pin)


@pytest.mark.serve_errors(
    r"ERROR .*database unavailable",
    r"ERROR .*could not store the message; left in the spool \(",
    r"ERROR .*spool: messages wait for the database",
    reason="the test stops PostgreSQL: each call and the sweep say so at ERROR (no traceback)",
)
async def test_calls_during_a_database_outage_are_answered_and_stored_when_it_returns(
    private_database, private_app, private_factory, carrier, observer, dialplan_watch,
    number_block: Callable[[], str],
):
    directory, _ = private_database
    known = enrol_in(private_factory, number_block() + "42")
    unknown = enrol_in(private_factory, number_block() + "42")
    # A first message: the application now knows who holds `known`.
    await leave_message(carrier, observer, known.national, new_caller())
    with private_factory() as db:
        await wait_for_messages(db, known.mailbox_id, 1)

    # Two callers are recording when PostgreSQL stops.
    recording = [new_caller() for _ in range(2)]
    calls = await asyncio.gather(*(call_until_recording(carrier, observer, known.national, c) for c in recording))
    postgres.stop_cluster(directory)
    await asyncio.gather(*(speak_then_hang_up(call) for call, _ in calls))

    # During the outage: a call to `known` (its greeting from memory, recorded by the application),
    # one to `unknown` (never looked up: the dialplan records it), one to the access number.
    from_memory, to_fallback, at_access = new_caller(), new_caller(), new_caller()

    async def memory_call() -> None:
        call, _ = await call_until_recording(carrier, observer, known.national, from_memory)
        await speak_then_hang_up(call)

    async def fallback_call() -> None:
        call = await call_fallback(carrier, dialplan_watch, unknown.national, to_fallback)
        await speak_then_hang_up(call)

    async def access_call() -> None:
        call = await place_call(carrier, ACCESS_NUMBER, at_access)
        await call.wait_hung_up(timeout=20)

    await asyncio.gather(memory_call(), fallback_call(), access_call())
    access_heard = media_names((await observer.call_from(at_access)).media)
    assert access_heard == ["service-unavailable"]
    memory_observed = await observer.call_from(from_memory)
    assert media_names(memory_observed.media)[0] == "greeting-default-intro"
    log = private_app.log_text()
    assert log_lines(log, rf"channel {memory_observed.channel_id}: deposit for mailbox {known.mailbox_id} from memory")
    for _, observed in [*calls, (None, memory_observed)]:
        assert log_lines(log, rf"channel {observed.channel_id}: could not store the message; left in the spool")

    # PostgreSQL is back: every message is stored, in the right mailbox.
    start_cluster_again(directory)
    with private_factory() as db:
        known_messages = await wait_for_messages(db, known.mailbox_id, 4, timeout=30)
        unknown_messages = await wait_for_messages(db, unknown.mailbox_id, 1, timeout=10)
        assert sorted(m.caller_number for m in known_messages[1:]) == sorted(
            "+33" + c[1:] for c in [*recording, from_memory]
        )
        assert unknown_messages[0].caller_number == "+33" + to_fallback[1:]
    log = private_app.log_text()
    assert len(log_lines(log, "recovered from the (deposit|fallback) spool")) == 4


@pytest.mark.serve_errors(
    r"ERROR reconnect_pbx\.reconcile: channel \S+: message left in the spool, database unavailable",
    # The periodic sweep may come round while PostgreSQL is down (a loaded machine: seen 2 runs in 3).
    r"ERROR reconnect_pbx\.reconcile: spool: messages wait for the database",
    reason="PostgreSQL is stopped on purpose while the recording is taken over",
)
async def test_a_recording_taken_over_while_the_database_is_down_is_stored_when_it_returns(
    private_database, private_app, private_factory, carrier, observer, number_block: Callable[[], str],
):
    directory, _ = private_database
    person = enrol_in(private_factory, number_block() + "42")
    caller = new_caller()
    call, observed = await call_until_recording(carrier, observer, person.national, caller)
    private_app.kill()
    await call.play("tone:440")  # the caller goes on talking while nobody drives the call
    private_app.start()
    await private_app.wait_for_log(rf"channel {observed.channel_id}: taking up a message left recording")
    postgres.stop_cluster(directory)
    # The caller ends the message with #: told it is saved, although it waits in the spool.
    await call.send_dtmf("#")
    await call.wait_hung_up(timeout=20)
    assert media_names(observed.media)[-1] == "message-saved"
    assert log_lines(
        private_app.log_text(), rf"ERROR .*channel {observed.channel_id}: message left in the spool, database unavailable"
    )
    start_cluster_again(directory)
    with private_factory() as db:
        [message] = await wait_for_messages(db, person.mailbox_id, 1, timeout=30)
    assert message.caller_number == "+33" + caller[1:]
    assert log_lines(private_app.log_text(), "recovered from the deposit spool")
