"""Monthly usage per centre: what funders and centre staff ask for.

A month is a calendar month in Europe/Paris time (what the centres live in), whatever the server's
time zone: a message received at 23:30 on 31 March Paris time counts in March. Figures are
attributed to a person's centre; outbound calls not tied to a person are left out.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from reconnect_pbx.models import (
    AuditEvent,
    Beneficiary,
    CallDirection,
    CallRecord,
    Centre,
    Mailbox,
    Message,
)
from reconnect_pbx.services.errors import InvalidInput
from reconnect_pbx.services.selftest import staff_centres

REPORT_TIMEZONE = ZoneInfo("Europe/Paris")
# Audit actions that mean a person was locked out of their mailbox.
LOCKOUT_ACTIONS = ("pin.locked", "pin.suspended")
# The call_records outcome written when the destination policy refuses a number.
REFUSED_OUTCOME = "refused"
# Outbound call records: calls a person placed, and the legs to their current phone (follow).
CALLBACK_FLOW = "callback"
FOLLOW_FLOW = "follow"
ALERT_FLOW = "alert"
# How a follow leg ended (services/outbound.py): taken by the person, or back to the voicemail.
FOLLOW_TAKEN_OUTCOMES = ("completed", "cut")
FOLLOW_VOICEMAIL_OUTCOMES = ("busy", "no-answer", "failed", "not-taken")

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match((text or "").strip())
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
            raise InvalidInput(f"month '{text}' is not of the form YYYY-MM (e.g. 2025-03)")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def start(self) -> datetime:
        """The first instant of the month, Paris time (an aware datetime)."""
        return datetime(self.year, self.month, 1, tzinfo=REPORT_TIMEZONE)

    @property
    def end(self) -> datetime:
        """The first instant of the next month, Paris time (excluded from the month)."""
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=REPORT_TIMEZONE)
        return datetime(self.year, self.month + 1, 1, tzinfo=REPORT_TIMEZONE)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class CentreUsage:
    centre: str
    # Enrolled at some point of the month: enrolled before its end, not closed before its start.
    people_active: int = 0
    messages_received: int = 0
    messages_heard: int = 0
    # Outbound calls placed (refused ones are counted apart, in refused_destinations).
    calls_made: int = 0
    # Billable seconds of outbound calls, in minutes (one decimal).
    minutes_used: float = 0.0
    # What the month allowed: active people x callback.monthly_minutes.
    minutes_quota: int = 0
    # People whose outbound minutes reached their monthly allowance.
    people_at_quota: int = 0
    refused_destinations: int = 0
    lockouts: int = 0
    # Follow (flows/follow.py): calls to a personal number that rang the person's current phone,
    # those the person took there (pressed 1), and those that went on to the voicemail (busy, no
    # answer, unreachable, answered without the 1). The rest: the caller hung up while it rang.
    calls_followed: int = 0
    followed_answered: int = 0
    followed_to_voicemail: int = 0
    # New-message alert calls placed (each attempt), and those answered with 1.
    alerts_sent: int = 0
    alerts_answered: int = 0

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class UsageReport:
    month: Month
    monthly_minutes: int
    centres: list[CentreUsage]

    @property
    def totals(self) -> CentreUsage:
        def total(name: str) -> float:
            return sum(getattr(row, name) for row in self.centres)

        return CentreUsage(
            centre="total",
            **{
                name: round(total(name), 1) if name == "minutes_used" else int(total(name))
                for name in CentreUsage.columns()
                if name != "centre"
            },
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "month": str(self.month),
            "timezone": str(REPORT_TIMEZONE),
            "monthly_minutes": self.monthly_minutes,
            "centres": [row.as_dict() for row in self.centres],
            "totals": self.totals.as_dict(),
        }


def usage_report(session: Session, month: Month, monthly_minutes: int, centre: Centre | None = None) -> UsageReport:
    """Usage of ``month`` for every centre (each listed even when idle), or for ``centre`` alone."""
    start, end = month.start, month.end
    # The self-test's mailbox is no one's: its centre is never counted.
    centres_query = select(Centre.id, Centre.name).where(staff_centres()).order_by(Centre.name)
    if centre is not None:
        centres_query = centres_query.where(Centre.id == centre.id)
    centres = session.execute(centres_query).all()
    centre_ids = [row.id for row in centres]

    def in_month(column: ColumnElement[datetime]) -> ColumnElement[bool]:
        return and_(column >= start, column < end)

    def per_centre(query: Select[Any]) -> dict[int, int]:
        rows = session.execute(query.where(Beneficiary.centre_id.in_(centre_ids)).group_by(Beneficiary.centre_id))
        return {centre_id: value or 0 for centre_id, value in rows}

    active = per_centre(
        select(Beneficiary.centre_id, func.count()).where(
            Beneficiary.created_at < end, or_(Beneficiary.closed_at.is_(None), Beneficiary.closed_at >= start)
        )
    )
    received = per_centre(
        select(Beneficiary.centre_id, func.count())
        .select_from(Message)
        .join(Mailbox, Mailbox.id == Message.mailbox_id)
        .join(Beneficiary, Beneficiary.id == Mailbox.beneficiary_id)
        .where(in_month(Message.received_at))
    )
    heard = per_centre(
        select(Beneficiary.centre_id, func.count())
        .select_from(Message)
        .join(Mailbox, Mailbox.id == Message.mailbox_id)
        .join(Beneficiary, Beneficiary.id == Mailbox.beneficiary_id)
        .where(in_month(Message.heard_at))
    )
    outbound = and_(CallRecord.direction == CallDirection.OUTBOUND, in_month(CallRecord.started_at))
    refused = CallRecord.outcome == REFUSED_OUTCOME
    calls = per_centre(
        select(Beneficiary.centre_id, func.count())
        .select_from(CallRecord)
        .join(Beneficiary, Beneficiary.id == CallRecord.beneficiary_id)
        .where(outbound, CallRecord.flow == CALLBACK_FLOW, or_(CallRecord.outcome.is_(None), ~refused))
    )
    followed = select(Beneficiary.centre_id, func.count()).select_from(CallRecord).join(
        Beneficiary, Beneficiary.id == CallRecord.beneficiary_id
    ).where(outbound, CallRecord.flow == FOLLOW_FLOW)
    calls_followed = per_centre(followed)
    followed_answered = per_centre(followed.where(CallRecord.outcome.in_(FOLLOW_TAKEN_OUTCOMES)))
    followed_to_voicemail = per_centre(followed.where(CallRecord.outcome.in_(FOLLOW_VOICEMAIL_OUTCOMES)))
    alert_calls = select(Beneficiary.centre_id, func.count()).select_from(CallRecord).join(
        Beneficiary, Beneficiary.id == CallRecord.beneficiary_id
    ).where(outbound, CallRecord.flow == ALERT_FLOW)
    alerts_sent = per_centre(alert_calls)
    # An alert is answered when the person pressed 1 (outcome completed, or cut during the listening).
    alerts_answered = per_centre(alert_calls.where(CallRecord.outcome.in_(FOLLOW_TAKEN_OUTCOMES)))
    refusals = per_centre(
        select(Beneficiary.centre_id, func.count())
        .select_from(CallRecord)
        .join(Beneficiary, Beneficiary.id == CallRecord.beneficiary_id)
        .where(outbound, refused)
    )
    seconds = per_centre(
        select(Beneficiary.centre_id, func.sum(CallRecord.billable_seconds))
        .select_from(CallRecord)
        .join(Beneficiary, Beneficiary.id == CallRecord.beneficiary_id)
        .where(outbound)
    )
    per_person = (
        select(CallRecord.beneficiary_id)
        .join(Beneficiary, Beneficiary.id == CallRecord.beneficiary_id)
        .where(outbound, Beneficiary.centre_id.in_(centre_ids))
        .group_by(CallRecord.beneficiary_id)
        .having(func.sum(CallRecord.billable_seconds) >= monthly_minutes * 60)
        .subquery()
    )
    at_quota = per_centre(
        select(Beneficiary.centre_id, func.count()).join(per_person, per_person.c.beneficiary_id == Beneficiary.id)
    )
    lockouts = per_centre(
        select(Beneficiary.centre_id, func.count())
        .select_from(AuditEvent)
        .join(Beneficiary, Beneficiary.id == AuditEvent.beneficiary_id)
        .where(AuditEvent.action.in_(LOCKOUT_ACTIONS), in_month(AuditEvent.at))
    )

    rows = [
        CentreUsage(
            centre=name,
            people_active=active.get(centre_id, 0),
            messages_received=received.get(centre_id, 0),
            messages_heard=heard.get(centre_id, 0),
            calls_made=calls.get(centre_id, 0),
            minutes_used=round(seconds.get(centre_id, 0) / 60, 1),
            minutes_quota=active.get(centre_id, 0) * monthly_minutes,
            people_at_quota=at_quota.get(centre_id, 0),
            refused_destinations=refusals.get(centre_id, 0),
            lockouts=lockouts.get(centre_id, 0),
            calls_followed=calls_followed.get(centre_id, 0),
            followed_answered=followed_answered.get(centre_id, 0),
            followed_to_voicemail=followed_to_voicemail.get(centre_id, 0),
            alerts_sent=alerts_sent.get(centre_id, 0),
            alerts_answered=alerts_answered.get(centre_id, 0),
        )
        for centre_id, name in centres
    ]
    return UsageReport(month=month, monthly_minutes=monthly_minutes, centres=rows)


def csv_text(report: UsageReport) -> str:
    """The report as CSV, one line per centre (the CLI's ``--csv`` and the web page's download)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["month", *CentreUsage.columns()])
    for row in report.centres:
        writer.writerow([str(report.month), *row.as_dict().values()])
    return buffer.getvalue()
