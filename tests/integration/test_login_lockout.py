"""PIN login over the phone: failures counted in PostgreSQL across calls, growing locks, suspension.

Each ``attempt`` runs in a transaction of its own, as each call's login does.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from reconnect_pbx.config import AccessSettings
from reconnect_pbx.db import transaction
from reconnect_pbx.flows.access import weak_pin_prompts
from reconnect_pbx.models import AuditEvent, Beneficiary, BeneficiaryStatus, Credential
from reconnect_pbx.services import access, credentials, people
from reconnect_pbx.services.access import LockPolicy, LoginOutcome

# The built-in settings: locks from the 5th failure (at most an hour), staff alerted at the 20th,
# suspension at the 100th.
POLICY = LockPolicy.from_settings(AccessSettings())
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


@pytest.fixture
def attempt(session_factory):
    def run(beneficiary_id: int | None, pin: str, now: datetime = T0) -> access.LoginResult:
        with transaction(session_factory) as session:
            return access.attempt_login(session, beneficiary_id, pin, POLICY, now=now)

    return run


@pytest.fixture
def credential_of(session_factory):
    def read(beneficiary_id: int) -> Credential:
        with session_factory() as session:
            return session.get(Credential, beneficiary_id)

    return read


def audit_actions(session_factory, beneficiary_id: int) -> list[tuple[str, dict]]:
    with session_factory() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.beneficiary_id == beneficiary_id, AuditEvent.action.like("pin.%"))
            .order_by(AuditEvent.id)
        )
        return [(e.action, e.details) for e in events]


def wrong(pin: str) -> str:
    return "".join(str((int(d) + 1) % 10) for d in pin)


def fail_until(attempt, person_id: int, pin: str, failures: int, start: datetime = T0) -> datetime:
    """Fail ``failures`` times, each time just after the previous lock ended; returns the time."""
    now = start
    for _ in range(failures):
        result = attempt(person_id, wrong(pin), now)
        assert result.outcome == LoginOutcome.REFUSED
        now += timedelta(minutes=(result.locked_minutes or 0), seconds=1)
    return now


def test_the_lock_starts_at_the_fifth_failure_and_doubles_up_to_an_hour() -> None:
    minutes = [access.lock_minutes(n, POLICY) for n in range(1, 13)]
    assert minutes == [None, None, None, None, 1, 2, 4, 8, 16, 32, 60, 60]
    assert access.lock_minutes(10_000, POLICY) == 60


def test_a_right_pin_logs_in_and_clears_the_failures(enrolled, attempt, credential_of) -> None:
    person = enrolled()
    for _ in range(3):
        assert attempt(person["id"], wrong(person["pin"])).outcome == LoginOutcome.REFUSED
    assert credential_of(person["id"]).failed_attempts == 3

    result = attempt(person["id"], person["pin"])

    assert result.outcome == LoginOutcome.ACCEPTED
    assert result.account.beneficiary_id == person["id"]
    assert result.account.number == person["number"]
    assert result.account.onboarded is False
    assert credential_of(person["id"]).failed_attempts == 0


def test_failures_add_up_across_calls_and_the_fifth_locks_for_one_minute(
    enrolled, attempt, credential_of, session_factory
) -> None:
    person = enrolled()
    results = [attempt(person["id"], wrong(person["pin"])) for _ in range(5)]

    assert [r.failures for r in results] == [1, 2, 3, 4, 5]
    assert [r.locked_minutes for r in results] == [None, None, None, None, 1]
    assert credential_of(person["id"]).locked_until == T0 + timedelta(minutes=1)
    assert audit_actions(session_factory, person["id"]) == [("pin.locked", {"failures": 5, "minutes": 1})]


def test_a_locked_mailbox_refuses_even_the_right_pin_and_counts_nothing(enrolled, attempt, credential_of) -> None:
    person = enrolled()
    fail_until(attempt, person["id"], person["pin"], 4)
    assert attempt(person["id"], wrong(person["pin"]), T0).locked_minutes == 1

    during = T0 + timedelta(seconds=59)
    assert attempt(person["id"], person["pin"], during).outcome == LoginOutcome.LOCKED
    assert attempt(person["id"], wrong(person["pin"]), during).outcome == LoginOutcome.LOCKED
    assert credential_of(person["id"]).failed_attempts == 5

    after = T0 + timedelta(minutes=1, seconds=1)
    assert attempt(person["id"], person["pin"], after).outcome == LoginOutcome.ACCEPTED
    credential = credential_of(person["id"])
    assert (credential.failed_attempts, credential.locked_until) == (0, None)


def test_each_further_failure_doubles_the_lock(enrolled, attempt, credential_of, session_factory) -> None:
    person = enrolled()
    now = fail_until(attempt, person["id"], person["pin"], 4)
    locks = []
    for _ in range(8):
        result = attempt(person["id"], wrong(person["pin"]), now)
        locks.append(result.locked_minutes)
        assert credential_of(person["id"]).locked_until == now + timedelta(minutes=result.locked_minutes)
        now += timedelta(minutes=result.locked_minutes, seconds=1)
    assert locks == [1, 2, 4, 8, 16, 32, 60, 60]
    assert [a for a, _ in audit_actions(session_factory, person["id"])] == ["pin.locked"] * 8


def test_twenty_failures_alert_staff_but_leave_the_person_able_to_log_in_after_the_lock(
    enrolled, attempt, credential_of, session_factory
) -> None:
    person = enrolled()
    now = fail_until(attempt, person["id"], person["pin"], 19)

    result = attempt(person["id"], wrong(person["pin"]), now)

    assert result.outcome == LoginOutcome.REFUSED and result.alert_now and not result.suspended_now
    assert result.locked_minutes == 60
    assert not credential_of(person["id"]).login_suspended
    actions = audit_actions(session_factory, person["id"])
    assert actions[-2:] == [("pin.alert", {"failures": 20}), ("pin.locked", {"failures": 20, "minutes": 60})]
    assert [a for a, _ in actions].count("pin.alert") == 1
    # The next failure does not alert again.
    after_lock = now + timedelta(minutes=60, seconds=1)
    assert not attempt(person["id"], wrong(person["pin"]), after_lock).alert_now
    # The person, once the hour is over, gets in, and is told how many failures there were.
    later = after_lock + timedelta(minutes=60, seconds=1)
    result = attempt(person["id"], person["pin"], later)
    assert result.outcome == LoginOutcome.ACCEPTED
    assert result.account.failures_since_last_login == 21
    assert attempt(person["id"], person["pin"], later).account.failures_since_last_login == 0


def test_a_hundred_failures_suspend_the_pin_login_until_staff_reset_it(
    enrolled, attempt, credential_of, session_factory
) -> None:
    person = enrolled()
    now = fail_until(attempt, person["id"], person["pin"], 99)
    assert not credential_of(person["id"]).login_suspended

    result = attempt(person["id"], wrong(person["pin"]), now)

    assert result.outcome == LoginOutcome.REFUSED and result.suspended_now
    assert credential_of(person["id"]).login_suspended
    actions = audit_actions(session_factory, person["id"])
    assert actions[-1] == ("pin.suspended", {"failures": 100})
    assert [a for a, _ in actions].count("pin.locked") == 95
    # Growing delays, capped at an hour: a guesser needs days to get there.
    assert now - T0 > timedelta(days=3)
    much_later = now + timedelta(days=30)
    assert attempt(person["id"], person["pin"], much_later).outcome == LoginOutcome.SUSPENDED
    assert credential_of(person["id"]).failed_attempts == 100

    with transaction(session_factory) as session:
        beneficiary = session.get(Beneficiary, person["id"])
        new_pin = people.reset_pin(session, beneficiary, actor="staff", pin_length=6).pin

    after_reset = attempt(person["id"], new_pin, much_later)
    assert after_reset.outcome == LoginOutcome.ACCEPTED
    assert after_reset.account.must_change_pin


def test_the_pin_handed_over_at_enrolment_must_be_changed_at_the_first_login(
    enrolled, attempt, session_factory
) -> None:
    person = enrolled()

    first = attempt(person["id"], person["pin"])
    assert first.outcome == LoginOutcome.ACCEPTED and first.account.must_change_pin
    # Logging in again without changing it: still to be changed.
    account = attempt(person["id"], person["pin"]).account
    assert account.must_change_pin

    with transaction(session_factory) as session:
        access.change_pin(session, account, "386195", pin_length=6)

    assert attempt(person["id"], "386195").account.must_change_pin is False


def test_the_pin_handed_over_by_a_pin_reset_must_be_changed_at_the_next_login(
    enrolled, attempt, session_factory
) -> None:
    person = enrolled()
    with transaction(session_factory) as session:
        account = access.attempt_login(session, person["id"], person["pin"], POLICY, now=T0).account
        access.change_pin(session, account, "386195", pin_length=6)
    assert attempt(person["id"], "386195").account.must_change_pin is False

    with transaction(session_factory) as session:
        new_pin = people.reset_pin(session, session.get(Beneficiary, person["id"]), actor="staff", pin_length=6).pin

    assert attempt(person["id"], new_pin).account.must_change_pin


def test_the_person_is_told_nothing_when_there_was_no_failure(enrolled, attempt) -> None:
    person = enrolled()
    assert attempt(person["id"], person["pin"]).account.failures_since_last_login == 0
    attempt(person["id"], wrong(person["pin"]))
    attempt(person["id"], wrong(person["pin"]))
    assert attempt(person["id"], person["pin"]).account.failures_since_last_login == 2


def test_a_person_suspended_by_staff_cannot_log_in_and_nothing_is_counted(
    enrolled, attempt, credential_of, session_factory
) -> None:
    person = enrolled()
    with transaction(session_factory) as session:
        session.execute(update(Beneficiary).where(Beneficiary.id == person["id"]).values(status=BeneficiaryStatus.SUSPENDED))

    assert attempt(person["id"], person["pin"]).outcome == LoginOutcome.SUSPENDED
    assert attempt(person["id"], wrong(person["pin"])).outcome == LoginOutcome.SUSPENDED
    assert credential_of(person["id"]).failed_attempts == 0


def test_an_unknown_number_is_refused_like_a_wrong_pin_and_takes_as_long(enrolled, attempt, session_factory) -> None:
    person = enrolled()
    assert not credentials.needs_rehash(access._dummy_hash()), "the dummy hash must cost what a real one costs"
    with session_factory() as session:
        before = session.scalar(select(func.count()).select_from(AuditEvent))

    # The cost that must match is the hash's: this process's CPU time, which neither other
    # processes on a loaded machine nor PostgreSQL's commits (only a known person's failures are
    # written) stretch. The two kinds alternate, so whatever remains affects both alike.
    def timed(beneficiary_id: int | None) -> tuple[access.LoginResult, float]:
        started = time.process_time()
        result = attempt(beneficiary_id, wrong(person["pin"]))
        return result, time.process_time() - started

    unknown, wrong_pin = [], []
    for _ in range(4):
        unknown.append(timed(None))
        wrong_pin.append(timed(person["id"]))

    assert {r.outcome for r, _ in unknown} == {r.outcome for r, _ in wrong_pin} == {LoginOutcome.REFUSED}
    unknown_time = statistics.median(t for _, t in unknown)
    wrong_time = statistics.median(t for _, t in wrong_pin)
    assert unknown_time > wrong_time / 2, (unknown_time, wrong_time)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_simultaneous_wrong_pins_are_counted_one_by_one(enrolled, attempt, credential_of, session_factory) -> None:
    person = enrolled()
    start = threading.Barrier(10)
    results: list[access.LoginResult] = []

    def guess() -> None:
        start.wait()
        results.append(attempt(person["id"], wrong(person["pin"])))

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(r.outcome.value for r in results) == ["locked"] * 5 + ["refused"] * 5
    assert sorted(r.failures for r in results if r.outcome == LoginOutcome.REFUSED) == [1, 2, 3, 4, 5]
    assert credential_of(person["id"]).failed_attempts == 5
    assert [a for a, _ in audit_actions(session_factory, person["id"])] == ["pin.locked"]


def test_no_pin_reaches_the_log(enrolled, attempt, session_factory, caplog) -> None:
    person = enrolled()
    caplog.set_level(logging.DEBUG)
    now = fail_until(attempt, person["id"], person["pin"], 6)
    attempt(person["id"], person["pin"], now)
    with transaction(session_factory) as session:
        account = access.attempt_login(session, person["id"], person["pin"], POLICY, now=now).account
        access.change_pin(session, account, "386195", pin_length=6)
    assert attempt(person["id"], "386195", now).outcome == LoginOutcome.ACCEPTED

    for secret in (person["pin"], wrong(person["pin"]), "386195"):
        assert secret not in caplog.text


def test_the_personal_number_typed_finds_the_mailbox(enrolled, session_factory) -> None:
    person = enrolled()
    national = "0" + person["number"][3:]
    with session_factory() as session:
        found = access.find_mailbox_by_typed_number(session, national, digits=10, region="FR")
        assert found is not None and found.beneficiary_id == person["id"]
        assert access.find_mailbox_by_typed_number(session, national[:-1], digits=10, region="FR") is None
        assert access.find_mailbox_by_typed_number(session, "", digits=10, region="FR") is None
        assert access.find_mailbox_by_typed_number(session, "12*4", digits=10, region="FR") is None


def test_the_last_digits_find_the_mailbox_only_when_they_match_one_number(enrolled, session_factory) -> None:
    person, other = enrolled(), enrolled()
    assert person["number"][-2:] == other["number"][-2:]
    with session_factory() as session:
        last8 = person["number"][-8:]
        found = access.find_mailbox_by_typed_number(session, last8, digits=8, region="FR")
        assert found is not None and found.beneficiary_id == person["id"]
        # Both numbers end alike: their last two digits are ambiguous, so they find nobody.
        assert access.find_mailbox_by_typed_number(session, person["number"][-2:], digits=2, region="FR") is None


def test_a_refused_new_pin_is_answered_with_its_reason_or_a_generic_refusal() -> None:
    assert weak_pin_prompts("sequence", 6) == ["pin-weak-sequence"]
    assert weak_pin_prompts("length", 6) == ["pin-weak-length", "pin-must-have", "number-6", "pin-digits"]
    assert weak_pin_prompts("not-digits", 6) == ["pin-weak-generic"]
    assert weak_pin_prompts("error", 6) == ["pin-weak-generic"]
    assert weak_pin_prompts("../../etc", 6) == ["pin-weak-generic"]
