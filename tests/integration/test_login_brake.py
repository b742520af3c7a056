"""The brake on PIN guessing for the whole service: failed logins per calling number and in all,
kept in PostgreSQL, past which a login is answered "try again later" without checking anything.

Each test works at a time of its own (the brake counts every row of its window, whoever wrote it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from reconnect_pbx.config import AccessSettings
from reconnect_pbx.db import make_engine, make_session_factory, transaction
from reconnect_pbx.models import Credential, LoginFailure
from reconnect_pbx.services import access
from reconnect_pbx.services.access import BrakePolicy, LockPolicy, LoginOutcome

POLICY = LockPolicy.from_settings(AccessSettings())
BRAKE = BrakePolicy(window_minutes=10, failures_per_caller=3, failures_service=6)


def wrong(pin: str) -> str:
    return "".join(str((int(d) + 1) % 10) for d in pin)


def log_in(session_factory, caller: str | None, pin: str, now: datetime, *, beneficiary_id=None, typed=None):
    with transaction(session_factory) as session:
        return access.log_in(
            session, pin, POLICY, BRAKE, caller_number=caller, beneficiary_id=beneficiary_id, typed_number=typed, now=now
        )


def failed_attempts(session_factory, beneficiary_id: int) -> int:
    with session_factory() as session:
        return session.get(Credential, beneficiary_id).failed_attempts


def national(person) -> str:
    return "0" + person["number"][3:]


def test_a_calling_number_past_its_failures_is_braked_without_any_pin_checked(enrolled, session_factory) -> None:
    person = enrolled()
    now = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
    # Three failures from one calling number, at three mailboxes (an unknown number counts too).
    other = enrolled()
    log_in(session_factory, "+33100000001", wrong(person["pin"]), now, beneficiary_id=person["id"])
    log_in(session_factory, "+33100000001", wrong(other["pin"]), now, typed=national(other))
    log_in(session_factory, "+33100000001", "123456", now, typed="0999999999")

    braked = log_in(session_factory, "+33100000001", person["pin"], now + timedelta(seconds=1), beneficiary_id=person["id"])

    assert braked.outcome == LoginOutcome.BRAKED and braked.account is None
    assert (braked.brake.scope, braked.brake.failures, braked.brake.limit) == ("caller", 3, 3)
    assert failed_attempts(session_factory, person["id"]) == 1, "a braked login checks and counts nothing"
    # Another calling number still gets in.
    result = log_in(session_factory, "+33100000002", person["pin"], now + timedelta(seconds=2), beneficiary_id=person["id"])
    assert result.outcome == LoginOutcome.ACCEPTED


def test_withheld_callers_share_one_count(enrolled, session_factory) -> None:
    person = enrolled()
    now = datetime(2030, 2, 1, 10, 0, tzinfo=UTC)
    for caller in (None, "", " "):
        log_in(session_factory, caller, wrong(person["pin"]), now, beneficiary_id=person["id"])
    assert log_in(session_factory, None, person["pin"], now, beneficiary_id=person["id"]).outcome == LoginOutcome.BRAKED


def test_failures_from_many_numbers_brake_the_whole_service(enrolled, session_factory) -> None:
    person = enrolled()
    now = datetime(2030, 3, 1, 10, 0, tzinfo=UTC)
    for i in range(6):
        result = log_in(session_factory, f"+3310000010{i}", "123456", now, typed="0999999999")
        assert result.outcome == LoginOutcome.REFUSED

    braked = log_in(session_factory, "+33100000200", person["pin"], now, beneficiary_id=person["id"])

    assert braked.outcome == LoginOutcome.BRAKED and braked.brake.scope == "service"
    with session_factory() as session:
        assert access.login_brake(session, "+33100000201", BRAKE, now=now).scope == "service"


def test_the_brake_lets_go_once_the_failures_are_older_than_the_window_and_forgets_them(
    enrolled, session_factory
) -> None:
    person = enrolled()
    now = datetime(2030, 4, 1, 10, 0, tzinfo=UTC)
    for _ in range(3):
        log_in(session_factory, "+33100000300", wrong(person["pin"]), now, beneficiary_id=person["id"])
    assert log_in(session_factory, "+33100000300", person["pin"], now + timedelta(minutes=9), beneficiary_id=person["id"]).outcome == LoginOutcome.BRAKED

    later = now + timedelta(minutes=10, seconds=1)
    assert log_in(session_factory, "+33100000300", wrong(person["pin"]), later, beneficiary_id=person["id"]).outcome == LoginOutcome.REFUSED
    with session_factory() as session:
        kept = session.scalars(select(LoginFailure.at).where(LoginFailure.caller_number == "+33100000300")).all()
    assert kept == [later], "failures older than the window are deleted"


def test_the_brake_holds_across_processes_because_it_lives_in_postgresql(
    enrolled, session_factory, database_url
) -> None:
    """Two engines (as two `serve` processes would have): failures through one brake the other."""
    person = enrolled()
    now = datetime(2030, 5, 1, 10, 0, tzinfo=UTC)
    first, second = make_engine(database_url), make_engine(database_url)
    try:
        for engine in (first, second, first):
            log_in(make_session_factory(engine), "+33100000400", wrong(person["pin"]), now, beneficiary_id=person["id"])
        result = log_in(make_session_factory(second), "+33100000400", person["pin"], now, beneficiary_id=person["id"])
        assert result.outcome == LoginOutcome.BRAKED
    finally:
        first.dispose()
        second.dispose()


def test_a_locked_mailbox_is_not_a_failure_for_the_brake(enrolled, session_factory) -> None:
    person = enrolled()
    now = datetime(2030, 6, 1, 10, 0, tzinfo=UTC)
    with transaction(session_factory) as session:
        credential = session.get(Credential, person["id"])
        credential.locked_until = now + timedelta(minutes=5)
    for _ in range(4):
        assert log_in(session_factory, "+33100000500", person["pin"], now, beneficiary_id=person["id"]).outcome == LoginOutcome.LOCKED
    with session_factory() as session:
        kept = session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.caller_number == "+33100000500")
        )
    assert kept == 0


def test_failures_older_than_the_window_are_forgotten_even_when_no_login_fails(enrolled, session_factory) -> None:
    person = enrolled()
    now = datetime(2030, 7, 1, 10, 0, tzinfo=UTC)
    log_in(session_factory, "+33100000600", wrong(person["pin"]), now, beneficiary_id=person["id"])
    log_in(session_factory, "+33100000601", person["pin"], now + timedelta(minutes=11), beneficiary_id=person["id"])
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure).where(LoginFailure.at <= now)) == 0
