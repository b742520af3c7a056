"""Outgoing calls: limits, quotas, refused destinations and call records. Domain only: no ARI.

Every outgoing attempt leaves one ``CallRecord`` (direction outbound, flow ``callback``):

- a refused destination: outcome ``refused`` and the policy decision (``refused:premium``...),
  started and ended at once, no channel created (``record_refusal``);
- a call: outcome ``in-progress`` from the moment it is allowed (``begin_call``, before any channel
  exists) until ``finish_call`` writes its end, billable seconds and outcome (``completed``, ``cut``,
  ``busy``, ``no-answer``, ``failed``, ``cancelled``, or ``interrupted`` when the application died
  and a later call found its channel gone: ``close_vanished_calls``).

A call refused by a limit (quota, one call at a time, trunk full, daily budget, suspension) creates
no record: the usage report would count it as a call made. It is logged.

Limits (``CallbackSettings``):

- minutes per person per calendar month (Europe/Paris, as the usage report counts them);
- a maximum per call; the call may last ``min(max_call_seconds, minutes left this month, minutes
  left today for the service)``: ``CallGrant.allowed_seconds``;
- one outgoing call at a time per person, and ``max_simultaneous_calls`` for everybody;
- a daily budget for the whole service; calls in progress reserve ``max_call_seconds`` each.

Race safety: ``begin_call`` takes one PostgreSQL transaction-level advisory lock for every check and
the ``in-progress`` insert, so two calls starting at the same moment (same person or not, any
number of processes) are decided one after the other, each seeing the other's record. The lock is
held for a few milliseconds, never during a call.

Suspension: ``refusals_before_suspension`` refused destinations within ``refusal_window_minutes``
(not counting emergency numbers, withheld callers and mobiles dialled from the menu: no sign of
fraud) suspend the person's outgoing calls: an audit event ``outbound.suspended`` and an ERROR log
line starting with ``ALERT``. Only ``resume_outbound`` (staff) lifts it, with an audit event
``outbound.resumed``; refusals before it no longer count. Suspension is kept in the audit log, not in
the person's status: their voicemail keeps working.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session

from reconnect_pbx.config import CallbackSettings
from reconnect_pbx.models import AuditEvent, CallDirection, CallRecord
from reconnect_pbx.services import audit
from reconnect_pbx.services.destination_policy import INNOCENT_REFUSALS, Decision
from reconnect_pbx.services.errors import Conflict, NotFound
from reconnect_pbx.services.reports import REFUSED_OUTCOME

log = logging.getLogger(__name__)

FLOW = "callback"
LOCAL_TIMEZONE = ZoneInfo("Europe/Paris")

IN_PROGRESS = "in-progress"
REFUSED = REFUSED_OUTCOME
COMPLETED = "completed"
CUT = "cut"
BUSY = "busy"
NO_ANSWER = "no-answer"
FAILED = "failed"
CANCELLED = "cancelled"
INTERRUPTED = "interrupted"
# Follow and confirmation calls: answered, but the person did not press 1 (the mobile's
# voicemail took it, or someone else answered).
NOT_TAKEN = "not-taken"
FINAL_OUTCOMES = frozenset({COMPLETED, CUT, BUSY, NO_ANSWER, FAILED, CANCELLED, INTERRUPTED, NOT_TAKEN})

SUSPENDED_ACTION = "outbound.suspended"
RESUMED_ACTION = "outbound.resumed"
SYSTEM_ACTOR = "system"

# pg_advisory_xact_lock keys: "reconnec" for every outgoing call start, ("outb", person) for the
# refusal count of one person.
_OUTBOUND_LOCK = 0x7265636F6E6E6563
_PERSON_LOCK_CLASS = 0x6F757462

_INNOCENT_CODES = tuple(f"refused:{category.value}" for category in INNOCENT_REFUSALS)


class LimitReason(str, enum.Enum):
    SUSPENDED = "suspended"
    IN_CALL = "in-call"
    TRUNK_FULL = "trunk-full"
    QUOTA = "quota"
    DAILY_BUDGET = "daily-budget"


class CallNotAllowed(Conflict):
    """A limit refuses the call; ``reason`` says which."""

    def __init__(self, reason: LimitReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CallGrant:
    call_id: int
    # How long the call may last from the answer.
    allowed_seconds: int


@dataclass(frozen=True)
class Refusal:
    call_id: int
    # This refusal suspended the person's outgoing calls.
    suspended_now: bool


# -- refused destinations ----------------------------------------------------------------------


def record_refusal(
    session: Session,
    *,
    beneficiary_id: int,
    own_number: str | None,
    destination: str | None,
    decision: Decision,
    channel_id: str | None,
    rules: CallbackSettings,
    now: datetime,
) -> Refusal:
    """Record a refused destination, and suspend the person's outgoing calls after too many."""
    if decision.allowed:
        raise ValueError("record_refusal needs a refusal")
    _lock_person(session, beneficiary_id)
    # The E.164 form when there is one; else what was given, cut to the column (it is never dialled).
    called = decision.e164 or (destination[:32] if destination else None)
    record = CallRecord(
        direction=CallDirection.OUTBOUND,
        flow=FLOW,
        channel_id=channel_id,
        caller_number=own_number,
        called_number=called,
        beneficiary_id=beneficiary_id,
        started_at=now,
        ended_at=now,
        billable_seconds=0,
        outcome=REFUSED,
        policy_decision=decision.code,
    )
    session.add(record)
    session.flush()
    suspended_now = False
    if decision.counts_towards_suspension and not is_suspended(session, beneficiary_id):
        count = recent_refusals(session, beneficiary_id, rules=rules, now=now)
        if count >= rules.refusals_before_suspension:
            _suspend(session, beneficiary_id, count=count, rules=rules)
            suspended_now = True
    return Refusal(record.id, suspended_now)


def recent_refusals(session: Session, beneficiary_id: int, *, rules: CallbackSettings, now: datetime) -> int:
    """Refused destinations that count towards the suspension, in the window (since the last resume)."""
    since = now - timedelta(minutes=rules.refusal_window_minutes)
    resumed_at = session.scalar(
        select(func.max(AuditEvent.at)).where(
            AuditEvent.beneficiary_id == beneficiary_id, AuditEvent.action == RESUMED_ACTION
        )
    )
    if resumed_at is not None and resumed_at > since:
        since = resumed_at
    return session.scalar(
        select(func.count()).where(
            CallRecord.beneficiary_id == beneficiary_id,
            CallRecord.direction == CallDirection.OUTBOUND,
            CallRecord.outcome == REFUSED,
            CallRecord.started_at > since,
            CallRecord.policy_decision.not_in(_INNOCENT_CODES),
        )
    ) or 0


def is_suspended(session: Session, beneficiary_id: int) -> bool:
    latest = session.scalar(
        select(AuditEvent.action)
        .where(AuditEvent.beneficiary_id == beneficiary_id, AuditEvent.action.in_((SUSPENDED_ACTION, RESUMED_ACTION)))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    return latest == SUSPENDED_ACTION


def _suspend(session: Session, beneficiary_id: int, *, count: int, rules: CallbackSettings) -> None:
    audit.record(
        session,
        SYSTEM_ACTOR,
        SUSPENDED_ACTION,
        beneficiary_id,
        refused_destinations=count,
        window_minutes=rules.refusal_window_minutes,
    )
    log.error(
        "ALERT outgoing calls of beneficiary %s suspended: %d refused destinations in %d min",
        beneficiary_id,
        count,
        rules.refusal_window_minutes,
    )


def resume_outbound(session: Session, beneficiary_id: int, *, actor: str, note: str | None = None) -> None:
    """Lift a suspension of outgoing calls (staff, after talking with the person)."""
    if not is_suspended(session, beneficiary_id):
        raise Conflict(f"the outgoing calls of person {beneficiary_id} are not suspended")
    event = audit.record(session, actor, RESUMED_ACTION, beneficiary_id)
    event.note = note


# -- calls -------------------------------------------------------------------------------------


def begin_call(
    session: Session,
    *,
    beneficiary_id: int,
    own_number: str,
    decision: Decision,
    channel_id: str,
    rules: CallbackSettings,
    now: datetime,
    flow: str = FLOW,
    carrying_call_id: int | None = None,
) -> CallGrant:
    """Check every limit and record the call as in progress, atomically. ``channel_id`` is the id
    the outbound channel will get; ``flow``: ``callback``, or ``follow`` and ``phone-confirm``
    (flows/follow.py), which obey the same limits. Raises ``CallNotAllowed``.

    ``carrying_call_id``: the person's own outgoing call this one is placed from (a callback from
    inside an alert call). It is not "another call in progress" for the one-at-a-time rule, but it
    still holds a trunk line and its reserve of the daily budget, the seconds it has run are taken
    from the month left, and, both legs being billed together from now on, the new call may last
    half of what is left."""
    if not decision.allowed:
        raise ValueError("begin_call needs an allowed destination")
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _OUTBOUND_LOCK})
    if is_suspended(session, beneficiary_id):
        raise CallNotAllowed(LimitReason.SUSPENDED, "outgoing calls are suspended for this person")
    in_progress = _in_progress()
    carrying = _carrying_call(session, carrying_call_id, beneficiary_id)
    mine = session.scalar(
        select(func.count()).where(
            in_progress,
            CallRecord.beneficiary_id == beneficiary_id,
            CallRecord.id != (carrying.id if carrying is not None else -1),
        )
    )
    if mine:
        raise CallNotAllowed(LimitReason.IN_CALL, "this person has an outgoing call in progress")
    everybody = session.scalar(select(func.count()).where(in_progress)) or 0
    if everybody >= rules.max_simultaneous_calls:
        raise CallNotAllowed(LimitReason.TRUNK_FULL, f"{everybody} outgoing calls in progress")
    month_left = monthly_seconds_left(session, beneficiary_id, rules=rules, now=now)
    if carrying is not None:
        # Its seconds are billed only when it ends: count them now, and its time to come.
        month_left = (month_left - _seconds_between(carrying.answered_at, now)) // 2
    if month_left <= 0:
        raise CallNotAllowed(LimitReason.QUOTA, "no minutes left this month")
    day_used = _billed_since(session, _day_start(now)) + everybody * rules.max_call_seconds
    day_left = rules.daily_minutes_budget * 60 - day_used
    if day_left <= 0:
        raise CallNotAllowed(LimitReason.DAILY_BUDGET, "the service's minutes for today are used up")
    allowed = min(rules.max_call_seconds, month_left, day_left)
    record = CallRecord(
        direction=CallDirection.OUTBOUND,
        flow=flow,
        channel_id=channel_id,
        caller_number=own_number,
        called_number=decision.e164,
        beneficiary_id=beneficiary_id,
        started_at=now,
        billable_seconds=0,
        outcome=IN_PROGRESS,
        policy_decision=decision.code,
    )
    session.add(record)
    session.flush()
    return CallGrant(record.id, allowed)


def _carrying_call(session: Session, call_id: int | None, beneficiary_id: int) -> CallRecord | None:
    """The call in progress a new call is placed from; None when there is none or it is not the
    person's own (then it counts as any other call in progress)."""
    if call_id is None:
        return None
    record = session.get(CallRecord, call_id)
    if record is None or record.beneficiary_id != beneficiary_id or record.outcome != IN_PROGRESS or record.ended_at:
        return None
    return record


def mark_answered(session: Session, call_id: int, at: datetime) -> None:
    record = _locked(session, call_id)
    if record.ended_at is None and record.answered_at is None:
        record.answered_at = at


def finish_call(session: Session, call_id: int, *, outcome: str, ended_at: datetime) -> int:
    """Write the end of a call; returns its billable seconds. A call already ended is left as is."""
    if outcome not in FINAL_OUTCOMES:
        raise ValueError(f"{outcome!r} is not a final outcome")
    record = _locked(session, call_id)
    if record.ended_at is not None:
        return record.billable_seconds
    record.ended_at = ended_at
    record.outcome = outcome
    record.billable_seconds = _seconds_between(record.answered_at, ended_at)
    return record.billable_seconds


def close_vanished_calls(
    session: Session, live_channel_ids: set[str], *, rules: CallbackSettings, now: datetime, min_age_seconds: float = 10
) -> int:
    """Close the calls still in progress whose channel Asterisk no longer has: the application died
    during them. ``live_channel_ids``: Asterisk's channels, and the outbound channel ids of the
    calls the caller's own process is driving (a call being set up has no channel yet); records
    younger than ``min_age_seconds`` are left too, in case another process is setting one up. The
    end is not known: a call that was answered is billed up to the latest moment Asterisk's
    absolute timeout allowed, never beyond ``now``."""
    stale = session.scalars(
        select(CallRecord)
        .where(_in_progress(), CallRecord.started_at < now - timedelta(seconds=min_age_seconds))
        .with_for_update(skip_locked=True)
    ).all()
    closed = 0
    for record in stale:
        if record.channel_id in live_channel_ids:
            continue
        if record.answered_at is not None:
            # At the answer the far end's absolute timeout was set to (at most) the longest call.
            latest_end = record.answered_at + timedelta(seconds=rules.max_call_seconds + rules.hangup_grace_seconds)
        else:
            latest_end = record.started_at + timedelta(
                seconds=rules.ring_timeout_seconds + rules.max_call_seconds + rules.hangup_grace_seconds
            )
        record.ended_at = min(now, latest_end)
        record.outcome = INTERRUPTED
        record.billable_seconds = _seconds_between(record.answered_at, record.ended_at)
        log.warning(
            "outgoing call %s (channel %s) ended while nobody watched it: closed, %d s billed",
            record.id,
            record.channel_id,
            record.billable_seconds,
        )
        closed += 1
    return closed


def monthly_seconds_left(session: Session, beneficiary_id: int, *, rules: CallbackSettings, now: datetime) -> int:
    used = session.scalar(
        select(func.coalesce(func.sum(CallRecord.billable_seconds), 0)).where(
            CallRecord.beneficiary_id == beneficiary_id,
            CallRecord.direction == CallDirection.OUTBOUND,
            CallRecord.started_at >= _month_start(now),
        )
    )
    return rules.monthly_minutes * 60 - int(used or 0)


def _billed_since(session: Session, since: datetime) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(CallRecord.billable_seconds), 0)).where(
                CallRecord.direction == CallDirection.OUTBOUND, CallRecord.started_at >= since
            )
        )
        or 0
    )


def _in_progress():
    return and_(
        CallRecord.direction == CallDirection.OUTBOUND,
        CallRecord.outcome == IN_PROGRESS,
        CallRecord.ended_at.is_(None),
    )


def _locked(session: Session, call_id: int) -> CallRecord:
    record = session.scalar(select(CallRecord).where(CallRecord.id == call_id).with_for_update())
    if record is None:
        raise NotFound(f"no call record {call_id}")
    return record


def _lock_person(session: Session, beneficiary_id: int) -> None:
    session.execute(
        text("SELECT pg_advisory_xact_lock(:class, :id)"), {"class": _PERSON_LOCK_CLASS, "id": beneficiary_id}
    )


def _seconds_between(start: datetime | None, end: datetime) -> int:
    if start is None or end <= start:
        return 0
    return math.ceil((end - start).total_seconds())


def _month_start(now: datetime) -> datetime:
    local = now.astimezone(LOCAL_TIMEZONE)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _day_start(now: datetime) -> datetime:
    local = now.astimezone(LOCAL_TIMEZONE)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)
