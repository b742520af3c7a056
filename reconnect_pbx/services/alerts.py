"""New-message alerts: a call to the person's current phone when a message arrives.

Domain only: no ARI, no clock of its own (every function takes ``now``: tests move time). When a
message is stored (``voicemail.store_message``: a deposit, the fallback spool, a deposit stored
once the database is back) and the person has a confirmed current phone with alerts on,
``message_stored`` opens an alert, or counts the message into the one already open (coalescing:
one open alert per person, a unique index). An alert is due ``alert_coalesce_seconds`` after its
first message, never during quiet hours (``next_allowed``: it waits for their end). ``serve``
claims due alerts (``claim_due``), calls, and writes how it went (``finish_attempt``): answered (1
pressed, then the PIN login: an alert never skips the PIN), or tried again ``alert_retries`` times
``alert_retry_seconds`` apart, then failed. Each call is an outgoing call under the callback limits
(flow ``alert``). Alerts live in PostgreSQL: a restart of ``serve`` loses none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from reconnect_pbx.config import FollowSettings
from reconnect_pbx.models import CurrentPhone, Mailbox, NumberAssignment, PendingAlert, PhoneNumber

LOCAL_TIMEZONE = ZoneInfo("Europe/Paris")
PENDING = "pending"
CALLING = "calling"
ANSWERED = "answered"
FAILED = "failed"
DROPPED = "dropped"


@dataclass(frozen=True)
class AlertCall:
    alert_id: int
    beneficiary_id: int
    e164: str
    own_number: str | None
    attempt: int


def next_allowed(moment: datetime, rules: FollowSettings) -> datetime:
    """``moment``, or the end of the quiet hours it falls in (Europe/Paris)."""
    start, end = rules.alert_quiet_start_hour, rules.alert_quiet_end_hour
    if start == end:
        return moment  # no quiet hours
    local = moment.astimezone(LOCAL_TIMEZONE)
    hour = local.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return moment
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end), tzinfo=LOCAL_TIMEZONE)


def message_stored(session: Session, mailbox_id: int, *, rules: FollowSettings, now: datetime) -> None:
    """A message was stored in ``mailbox_id``: open an alert, or count it into the open one."""
    phone = session.scalar(
        select(CurrentPhone)
        .join(Mailbox, Mailbox.beneficiary_id == CurrentPhone.beneficiary_id)
        .where(Mailbox.id == mailbox_id, CurrentPhone.alerts, CurrentPhone.confirmed_at.is_not(None))
    )
    if phone is None:
        return
    due = next_allowed(now + timedelta(seconds=rules.alert_coalesce_seconds), rules)
    statement = insert(PendingAlert).values(
        beneficiary_id=phone.beneficiary_id, due_at=due, state=PENDING, attempts=0, messages=1
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["beneficiary_id"],
            index_where=PendingAlert.state.in_((PENDING, CALLING)),
            set_={"messages": PendingAlert.messages + 1},
        )
    )


def claim_due(session: Session, *, now: datetime) -> list[AlertCall]:
    """The alerts due now, marked as calling (one process gets each). Alerts whose person has no
    confirmed phone with alerts on any more are dropped."""
    due = session.scalars(
        select(PendingAlert)
        .where(PendingAlert.state == PENDING, PendingAlert.due_at <= now)
        .order_by(PendingAlert.due_at)
        .with_for_update(skip_locked=True)
    ).all()
    calls = []
    for alert in due:
        phone = session.get(CurrentPhone, alert.beneficiary_id)
        if phone is None or not phone.alerts or phone.confirmed_at is None:
            alert.state = DROPPED
            continue
        alert.state = CALLING
        alert.attempts += 1
        own_number = session.scalar(
            select(PhoneNumber.e164)
            .join(NumberAssignment, NumberAssignment.phone_number_id == PhoneNumber.id)
            .where(NumberAssignment.beneficiary_id == alert.beneficiary_id, NumberAssignment.ended_at.is_(None))
        )
        calls.append(AlertCall(alert.id, alert.beneficiary_id, phone.e164, own_number, alert.attempts))
    return calls


def finish_attempt(session: Session, alert_id: int, *, answered: bool, rules: FollowSettings, now: datetime) -> str:
    """Write how one alert call went; returns the alert's new state."""
    alert = session.get(PendingAlert, alert_id, with_for_update=True)
    if answered:
        alert.state = ANSWERED
    elif alert.attempts > rules.alert_retries:
        alert.state = FAILED
    else:
        alert.state = PENDING
        alert.due_at = next_allowed(now + timedelta(seconds=rules.alert_retry_seconds), rules)
    return alert.state


def requeue_interrupted(session: Session) -> int:
    """Alerts left calling by a dead process are due again (at start-up)."""
    stale = session.scalars(select(PendingAlert).where(PendingAlert.state == CALLING).with_for_update()).all()
    for alert in stale:
        alert.state = PENDING
    return len(stale)
