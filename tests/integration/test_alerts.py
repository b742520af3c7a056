"""New-message alerts in PostgreSQL: opened by a stored message, coalesced, retried, dropped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from reconnect_pbx.config import FollowSettings
from reconnect_pbx.db import transaction
from reconnect_pbx.models import CurrentPhone, Mailbox, PendingAlert
from reconnect_pbx.services import alerts
from reconnect_pbx.services.voicemail import NewMessage, store_message
from reconnect_pbx.storage import PostgresAudioStore

RULES = FollowSettings(alert_coalesce_seconds=300, alert_retries=2, alert_retry_seconds=600)
# 11:00 Paris: outside the quiet hours.
NOON = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
SILENCE = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"


def _person_with_phone(cli_runner, enrolled, session_factory, *, confirmed: bool = True) -> tuple[int, int]:
    person = enrolled()
    assert cli_runner("phone", "set", str(person["id"]), "0612345678").exit_code == 0
    with transaction(session_factory) as session:
        session.execute(
            update(CurrentPhone)
            .where(CurrentPhone.beneficiary_id == person["id"])
            .values(confirmed_at=NOON if confirmed else None, confirmation_requested_at=None)
        )
        mailbox_id = session.scalar(select(Mailbox.id).where(Mailbox.beneficiary_id == person["id"]))
    return person["id"], mailbox_id


def _message(session_factory, mailbox_id: int, n: int, *, rules: FollowSettings | None = RULES) -> None:
    with transaction(session_factory) as session:
        store_message(
            session, PostgresAudioStore(),
            NewMessage(mailbox_id, "+33142685300", "+33900000000", NOON, 1000, f"alert-test-{mailbox_id}-{n}"),
            SILENCE, alert_rules=rules,
        )  # fmt: skip


def _alerts(session_factory, person_id: int) -> list[PendingAlert]:
    with transaction(session_factory) as session:
        found = list(session.scalars(select(PendingAlert).where(PendingAlert.beneficiary_id == person_id).order_by(PendingAlert.id)))
        session.expunge_all()
        return found


def test_three_messages_make_one_alert_due_after_the_coalescing_window(cli_runner, enrolled, session_factory):
    person_id, mailbox_id = _person_with_phone(cli_runner, enrolled, session_factory)
    before = datetime.now(timezone.utc)
    for n in range(3):
        _message(session_factory, mailbox_id, n)
    [alert] = _alerts(session_factory, person_id)
    assert (alert.state, alert.messages, alert.attempts) == ("pending", 3, 0)
    # Due after the window (later still when the window ends in the quiet hours).
    assert alert.due_at >= before + timedelta(seconds=RULES.alert_coalesce_seconds)


def test_no_alert_without_a_confirmed_phone_or_with_alerts_off(cli_runner, enrolled, session_factory):
    unconfirmed, box = _person_with_phone(cli_runner, enrolled, session_factory, confirmed=False)
    _message(session_factory, box, 0)
    assert _alerts(session_factory, unconfirmed) == []
    off, box = _person_with_phone(cli_runner, enrolled, session_factory)
    with transaction(session_factory) as session:
        session.execute(update(CurrentPhone).where(CurrentPhone.beneficiary_id == off).values(alerts=False))
    _message(session_factory, box, 0)
    assert _alerts(session_factory, off) == []


def test_a_due_alert_is_claimed_once_retried_then_failed(cli_runner, enrolled, session_factory):
    person_id, mailbox_id = _person_with_phone(cli_runner, enrolled, session_factory)
    _message(session_factory, mailbox_id, 0)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    later = alerts.next_allowed(later, RULES)
    for attempt in (1, 2, 3):
        with transaction(session_factory) as session:
            calls = [c for c in alerts.claim_due(session, now=later) if c.beneficiary_id == person_id]
        assert [(c.e164, c.attempt) for c in calls] == [("+33612345678", attempt)]
        with transaction(session_factory) as session:
            # Claimed: a second process gets nothing.
            assert [c for c in alerts.claim_due(session, now=later) if c.beneficiary_id == person_id] == []
            state = alerts.finish_attempt(session, calls[0].alert_id, answered=False, rules=RULES, now=later)
        assert state == ("failed" if attempt == 3 else "pending")
        later = alerts.next_allowed(later + timedelta(seconds=RULES.alert_retry_seconds), RULES)
    # A new message after that opens a new alert.
    _message(session_factory, mailbox_id, 1)
    assert [a.state for a in _alerts(session_factory, person_id)] == ["failed", "pending"]


def test_an_alert_whose_phone_was_cleared_is_dropped(cli_runner, enrolled, session_factory):
    person_id, mailbox_id = _person_with_phone(cli_runner, enrolled, session_factory)
    _message(session_factory, mailbox_id, 0)
    assert cli_runner("phone", "clear", str(person_id)).exit_code == 0
    with transaction(session_factory) as session:
        later = alerts.next_allowed(datetime.now(timezone.utc) + timedelta(hours=1), RULES)
        assert [c for c in alerts.claim_due(session, now=later) if c.beneficiary_id == person_id] == []
    assert [a.state for a in _alerts(session_factory, person_id)] == ["dropped"]
