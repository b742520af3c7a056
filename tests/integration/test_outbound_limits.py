"""Outgoing-call limits against a real PostgreSQL: quotas, one call at a time, the trunk cap, the
daily budget, refused destinations and the suspension they lead to, and the call records."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.config import CallbackSettings
from reconnect_pbx.db import make_engine, make_session_factory, transaction
from reconnect_pbx.models import (
    AuditEvent,
    Beneficiary,
    CallDirection,
    CallRecord,
    Centre,
)
from reconnect_pbx.services import outbound
from reconnect_pbx.services.destination_policy import decide

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
OWN = "+33912345600"
LANDLINE = decide("0142685300", is_callback=False, rules=CallbackSettings())
PREMIUM = decide("0899123456", is_callback=False, rules=CallbackSettings())
EMERGENCY = decide("115", is_callback=False, rules=CallbackSettings())
WITHHELD = decide(None, is_callback=True, rules=CallbackSettings())


class People:
    """Makes people in a centre of their own and removes them (and their rows) afterwards."""

    def __init__(self, factory: sessionmaker[Session], name: str) -> None:
        self.factory = factory
        with transaction(factory) as session:
            centre = Centre(name=name)
            session.add(centre)
            session.flush()
            self.centre_id = centre.id
        self.ids: list[int] = []

    def __call__(self) -> int:
        with transaction(self.factory) as session:
            person = Beneficiary(display_name="outbound test", centre_id=self.centre_id)
            session.add(person)
            session.flush()
            self.ids.append(person.id)
            return person.id

    def remove(self) -> None:
        with transaction(self.factory) as session:
            session.execute(delete(CallRecord).where(CallRecord.beneficiary_id.in_(self.ids)))
            session.execute(delete(AuditEvent).where(AuditEvent.beneficiary_id.in_(self.ids)))
            session.execute(delete(Beneficiary).where(Beneficiary.id.in_(self.ids)))
            session.execute(delete(Centre).where(Centre.id == self.centre_id))


@pytest.fixture
def person_factory(session_factory: sessionmaker[Session], unique_name: Any) -> Iterator[People]:
    people = People(session_factory, unique_name("Outbound"))
    yield people
    people.remove()


@pytest.fixture
def fresh_factory(fresh_database_url: str) -> Iterator[sessionmaker[Session]]:
    """A database of its own: for the limits that count every call of the service."""
    engine: Engine = make_engine(fresh_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def begin(
    factory: sessionmaker[Session], person: int, rules: CallbackSettings, now: datetime = NOW, channel: str = "far",
    carrying: int | None = None,
) -> outbound.CallGrant:
    with transaction(factory) as session:
        return outbound.begin_call(
            session, beneficiary_id=person, own_number=OWN, decision=LANDLINE, channel_id=channel, rules=rules, now=now,
            carrying_call_id=carrying,
        )


def refuse(factory: sessionmaker[Session], person: int, decision: Any, rules: CallbackSettings, now: datetime = NOW, destination: str | None = "0899123456") -> outbound.Refusal:
    with transaction(factory) as session:
        return outbound.record_refusal(
            session, beneficiary_id=person, own_number=OWN, destination=destination, decision=decision,
            channel_id="person-channel", rules=rules, now=now,
        )  # fmt: skip


def past_call(factory: sessionmaker[Session], person: int, started: datetime, seconds: int) -> None:
    with transaction(factory) as session:
        session.add(
            CallRecord(
                direction=CallDirection.OUTBOUND, flow="callback", beneficiary_id=person, caller_number=OWN,
                called_number="+33142685300", started_at=started, answered_at=started,
                ended_at=started + timedelta(seconds=seconds), billable_seconds=seconds, outcome=outbound.COMPLETED,
                policy_decision="allowed:geographic",
            )
        )  # fmt: skip


def record(factory: sessionmaker[Session], call_id: int) -> CallRecord:
    with factory() as session:
        return session.get(CallRecord, call_id)


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` in ``count`` threads released at the same instant; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


# -- refused destinations ----------------------------------------------------------------------


def test_a_refused_destination_is_recorded_with_outcome_refused_and_the_decision(session_factory, person_factory) -> None:
    person = person_factory()
    refusal = refuse(session_factory, person, PREMIUM, CallbackSettings())
    row = record(session_factory, refusal.call_id)
    assert (row.outcome, row.policy_decision, row.direction) == ("refused", "refused:premium", CallDirection.OUTBOUND)
    assert (row.beneficiary_id, row.caller_number, row.called_number) == (person, OWN, "+33899123456")
    assert row.billable_seconds == 0 and row.ended_at == row.started_at
    assert not refusal.suspended_now


def test_a_malformed_destination_is_recorded_as_given_cut_to_the_column(session_factory, person_factory) -> None:
    person = person_factory()
    text = "0142685300&PJSIP/0899123456@trunk-and-more"
    decision = decide(text, is_callback=True, rules=CallbackSettings())
    row = record(session_factory, refuse(session_factory, person, decision, CallbackSettings(), destination=text).call_id)
    assert (row.outcome, row.policy_decision, row.called_number) == ("refused", "refused:invalid", text[:32])


def test_ten_refusals_in_ten_minutes_suspend_outgoing_calls_with_an_alert_and_an_audit_event(
    session_factory, person_factory, caplog
) -> None:
    person = person_factory()
    rules = CallbackSettings()
    caplog.set_level(logging.ERROR, logger="reconnect_pbx.services.outbound")
    results = [refuse(session_factory, person, PREMIUM, rules, NOW + timedelta(seconds=50 * i)) for i in range(10)]
    assert [r.suspended_now for r in results] == [False] * 9 + [True]
    assert any(r.message.startswith("ALERT") and str(person) in r.message for r in caplog.records)
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.beneficiary_id == person)).all()
        assert [(e.action, e.actor, e.details["refused_destinations"]) for e in events] == [
            ("outbound.suspended", "system", 10)
        ]
        assert outbound.is_suspended(session, person)
    with pytest.raises(outbound.CallNotAllowed) as refused:
        begin(session_factory, person, rules, NOW + timedelta(minutes=9))
    assert refused.value.reason == outbound.LimitReason.SUSPENDED


def test_refusals_spread_over_more_than_the_window_do_not_suspend(session_factory, person_factory) -> None:
    person = person_factory()
    results = [refuse(session_factory, person, PREMIUM, CallbackSettings(), NOW + timedelta(minutes=2 * i)) for i in range(12)]
    assert not any(r.suspended_now for r in results)


def test_emergency_numbers_and_withheld_callers_never_suspend(session_factory, person_factory) -> None:
    person = person_factory()
    for i in range(12):
        refuse(session_factory, person, EMERGENCY if i % 2 else WITHHELD, CallbackSettings(), NOW + timedelta(seconds=i))
    with session_factory() as session:
        assert not outbound.is_suspended(session, person)
        assert session.scalar(select(CallRecord.id).where(CallRecord.beneficiary_id == person).limit(1)) is not None


def test_after_staff_resume_only_new_refusals_count(session_factory, person_factory) -> None:
    person = person_factory()
    rules = CallbackSettings(refusals_before_suspension=3)
    for i in range(3):
        refuse(session_factory, person, PREMIUM, rules, NOW + timedelta(seconds=i))
    with transaction(session_factory) as session:
        outbound.resume_outbound(session, person, actor="staff", note="talked with them")
    assert begin(session_factory, person, rules, datetime.now(UTC)).allowed_seconds > 0
    with session_factory() as session:
        assert not outbound.is_suspended(session, person)
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.beneficiary_id == person).order_by(AuditEvent.id)
        ).all()
        assert actions == ["outbound.suspended", "outbound.resumed"]


def test_resuming_someone_who_is_not_suspended_is_refused(session_factory, person_factory) -> None:
    person = person_factory()
    with pytest.raises(outbound.Conflict), transaction(session_factory) as session:
        outbound.resume_outbound(session, person, actor="staff")


# -- quotas and the per-call maximum -----------------------------------------------------------


def test_a_call_may_last_the_per_call_maximum_when_the_month_allows_it(session_factory, person_factory) -> None:
    person = person_factory()
    grant = begin(session_factory, person, CallbackSettings())
    assert grant.allowed_seconds == 1200
    row = record(session_factory, grant.call_id)
    assert (row.outcome, row.ended_at, row.channel_id, row.policy_decision) == ("in-progress", None, "far", "allowed:geographic")


def test_a_call_may_last_only_the_minutes_left_this_month(session_factory, person_factory) -> None:
    person = person_factory()
    past_call(session_factory, person, NOW - timedelta(days=3), 120 * 60 - 95)
    # Last month's calls do not count (1 March 00:00 Paris is 28 February 23:00 UTC).
    past_call(session_factory, person, datetime(2026, 2, 28, 22, 59, tzinfo=UTC), 3000)
    assert begin(session_factory, person, CallbackSettings()).allowed_seconds == 95


def test_a_call_at_the_start_of_the_month_in_paris_counts_in_that_month(session_factory, person_factory) -> None:
    person = person_factory()
    past_call(session_factory, person, datetime(2026, 2, 28, 23, 1, tzinfo=UTC), 120 * 60 - 30)
    assert begin(session_factory, person, CallbackSettings()).allowed_seconds == 30


def test_an_exhausted_monthly_quota_refuses_the_call_and_records_nothing(session_factory, person_factory) -> None:
    person = person_factory()
    past_call(session_factory, person, NOW - timedelta(days=1), 120 * 60)
    with pytest.raises(outbound.CallNotAllowed) as refused:
        begin(session_factory, person, CallbackSettings())
    assert refused.value.reason == outbound.LimitReason.QUOTA
    with session_factory() as session:
        assert session.scalar(
            select(CallRecord.id).where(CallRecord.beneficiary_id == person, CallRecord.outcome == "in-progress")
        ) is None


def test_billing_counts_whole_seconds_from_the_answer(session_factory, person_factory) -> None:
    person = person_factory()
    grant = begin(session_factory, person, CallbackSettings())
    with transaction(session_factory) as session:
        outbound.mark_answered(session, grant.call_id, NOW + timedelta(seconds=4))
    with transaction(session_factory) as session:
        billed = outbound.finish_call(session, grant.call_id, outcome=outbound.COMPLETED, ended_at=NOW + timedelta(seconds=65.2))
    assert billed == 62
    row = record(session_factory, grant.call_id)
    assert (row.outcome, row.billable_seconds, row.answered_at) == ("completed", 62, NOW + timedelta(seconds=4))
    with transaction(session_factory) as session:  # a second end changes nothing
        assert outbound.finish_call(session, grant.call_id, outcome=outbound.FAILED, ended_at=NOW + timedelta(hours=1)) == 62
    assert record(session_factory, grant.call_id).outcome == "completed"


def test_an_unanswered_call_bills_nothing_and_frees_the_person(session_factory, person_factory) -> None:
    person = person_factory()
    grant = begin(session_factory, person, CallbackSettings())
    with transaction(session_factory) as session:
        assert outbound.finish_call(session, grant.call_id, outcome=outbound.BUSY, ended_at=NOW + timedelta(seconds=3)) == 0
    assert begin(session_factory, person, CallbackSettings(), channel="far-2").allowed_seconds == 1200


# -- one at a time, the trunk cap, the daily budget --------------------------------------------


def test_one_outgoing_call_at_a_time_even_when_two_start_at_the_same_instant(session_factory, person_factory) -> None:
    person = person_factory()
    results = run_together(6, lambda i: begin(session_factory, person, CallbackSettings(), channel=f"far-{i}"))
    granted = [r for r in results if isinstance(r, outbound.CallGrant)]
    refused = [r for r in results if isinstance(r, outbound.CallNotAllowed)]
    assert len(granted) == 1 and len(refused) == 5, results
    assert {r.reason for r in refused} == {outbound.LimitReason.IN_CALL}


def test_a_call_placed_from_the_persons_own_call_is_allowed_and_shares_the_month_left(session_factory, person_factory) -> None:
    person, other = person_factory(), person_factory()
    past_call(session_factory, person, NOW - timedelta(days=3), 120 * 60 - 400)
    alert = begin(session_factory, person, CallbackSettings(), channel="alert")
    with transaction(session_factory) as session:
        outbound.mark_answered(session, alert.call_id, NOW)
    later = NOW + timedelta(seconds=100)
    # 400 s left this month, 100 s of them used by the alert so far, both legs billed from now on.
    grant = begin(session_factory, person, CallbackSettings(), now=later, channel="back", carrying=alert.call_id)
    assert grant.allowed_seconds == 150
    # Still one at a time beside it, and another person's call carries nothing.
    with pytest.raises(outbound.CallNotAllowed) as refused:
        begin(session_factory, person, CallbackSettings(), now=later, channel="third", carrying=alert.call_id)
    assert refused.value.reason is outbound.LimitReason.IN_CALL
    other_call = begin(session_factory, other, CallbackSettings(), channel="other")
    with pytest.raises(outbound.CallNotAllowed):
        begin(session_factory, person, CallbackSettings(), channel="fourth", carrying=other_call.call_id)


def test_the_trunk_cap_holds_when_many_people_start_calls_at_once(fresh_factory, unique_name) -> None:
    people = People(fresh_factory, unique_name("Cap"))
    ids = [people() for _ in range(12)]
    rules = CallbackSettings(max_simultaneous_calls=4)
    results = run_together(12, lambda i: begin(fresh_factory, ids[i], rules, channel=f"far-{i}"))
    granted = [r for r in results if isinstance(r, outbound.CallGrant)]
    refused = [r for r in results if isinstance(r, outbound.CallNotAllowed)]
    assert len(granted) == 4 and len(refused) == 8, results
    assert {r.reason for r in refused} == {outbound.LimitReason.TRUNK_FULL}
    # A call that ends frees its line.
    with transaction(fresh_factory) as session:
        outbound.finish_call(session, granted[0].call_id, outcome=outbound.COMPLETED, ended_at=NOW)
    assert begin(fresh_factory, people(), rules, channel="far-again").allowed_seconds > 0
    with pytest.raises(outbound.CallNotAllowed):
        begin(fresh_factory, people(), rules, channel="far-over")


def test_the_daily_budget_counts_todays_minutes_and_reserves_calls_in_progress(fresh_factory, unique_name) -> None:
    people = People(fresh_factory, unique_name("Budget"))
    someone, other, third = people(), people(), people()
    rules = CallbackSettings(daily_minutes_budget=30, max_call_seconds=600)
    # Yesterday (Paris) does not count; today's 15 minutes do.
    past_call(fresh_factory, someone, datetime(2026, 3, 14, 22, 59, tzinfo=UTC), 3600)
    past_call(fresh_factory, someone, datetime(2026, 3, 14, 23, 1, tzinfo=UTC), 900)
    first = begin(fresh_factory, other, rules, channel="far-a")
    assert first.allowed_seconds == 600
    # 900 billed + 600 reserved by the call in progress: 300 s left for the service.
    assert begin(fresh_factory, third, rules, channel="far-b").allowed_seconds == 300
    with pytest.raises(outbound.CallNotAllowed) as refused:
        begin(fresh_factory, someone, rules, channel="far-c")
    assert refused.value.reason == outbound.LimitReason.DAILY_BUDGET


# -- after a crash -----------------------------------------------------------------------------


def test_calls_whose_channel_vanished_are_closed_and_billed_up_to_the_latest_possible_cut(fresh_factory, unique_name) -> None:
    session_factory = fresh_factory
    people = People(fresh_factory, unique_name("Crash"))
    person, other, young = people(), people(), people()
    rules = CallbackSettings(max_call_seconds=100, ring_timeout_seconds=30, hangup_grace_seconds=3)
    answered = begin(session_factory, person, rules, channel="gone-answered")
    alive = begin(session_factory, other, rules, channel="still-here")
    # Set up 5 s ago: its channel may not exist yet (close_vanished_calls leaves calls younger than 10 s).
    recent = begin(session_factory, young, rules, NOW + timedelta(seconds=595), channel="gone-but-recent")
    with transaction(session_factory) as session:
        outbound.mark_answered(session, answered.call_id, NOW + timedelta(seconds=10))
    with transaction(session_factory) as session:
        closed = outbound.close_vanished_calls(session, {"still-here"}, rules=rules, now=NOW + timedelta(minutes=10))
    assert closed == 1
    row = record(session_factory, answered.call_id)
    # Answered at +10 s: the far end's absolute timeout, reset at the answer, cut it at the latest
    # max_call_seconds + grace later (the ring time it did not use is not billed).
    assert (row.outcome, row.billable_seconds) == ("interrupted", 103)
    assert record(session_factory, alive.call_id).outcome == "in-progress"
    assert record(session_factory, recent.call_id).outcome == "in-progress"
