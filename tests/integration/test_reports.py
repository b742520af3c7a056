"""``report usage``: figures checked against rows inserted around Paris month boundaries.

March 2025 in Paris runs from 2025-02-28 23:00 UTC (winter time) to 2025-03-31 22:00 UTC (summer
time began on 30 March), so rows a few minutes either side of those instants fall in different
months than their UTC dates suggest.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.db import transaction
from reconnect_pbx.models import (
    AuditEvent,
    Beneficiary,
    BeneficiaryStatus,
    CallDirection,
    CallRecord,
    Centre,
    Mailbox,
    Message,
    MessageState,
)
from reconnect_pbx.services import reports
from reconnect_pbx.services.errors import InvalidInput


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class TwoCentres:
    a: str
    b: str


@pytest.fixture
def two_centres(session_factory: sessionmaker[Session], unique_name: Any) -> Iterator[TwoCentres]:
    with transaction(session_factory) as session:
        a = Centre(name=unique_name("Report A"))
        b = Centre(name=unique_name("Report B"))
        session.add_all([a, b])
        session.flush()
        _fill(session, a, b)
        names = TwoCentres(a.name, b.name)
        ids = [a.id, b.id]
    yield names
    with transaction(session_factory) as session:
        people = select(Beneficiary.id).where(Beneficiary.centre_id.in_(ids))
        mailboxes = select(Mailbox.id).where(Mailbox.beneficiary_id.in_(people))
        session.execute(delete(Message).where(Message.mailbox_id.in_(mailboxes)))
        session.execute(delete(CallRecord).where(CallRecord.beneficiary_id.in_(people)))
        session.execute(delete(AuditEvent).where(AuditEvent.beneficiary_id.in_(people)))
        session.execute(delete(Mailbox).where(Mailbox.beneficiary_id.in_(people)))
        session.execute(delete(Beneficiary).where(Beneficiary.centre_id.in_(ids)))
        session.execute(delete(Centre).where(Centre.id.in_(ids)))


def _fill(session: Session, a: Centre, b: Centre) -> None:
    def person(centre: Centre, created: str, closed: str | None = None) -> tuple[Beneficiary, Mailbox]:
        someone = Beneficiary(
            display_name="report test",
            centre_id=centre.id,
            created_at=utc(created),
            status=BeneficiaryStatus.CLOSED if closed else BeneficiaryStatus.ACTIVE,
            closed_at=utc(closed) if closed else None,
        )
        session.add(someone)
        session.flush()
        mailbox = Mailbox(beneficiary_id=someone.id)
        session.add(mailbox)
        session.flush()
        return someone, mailbox

    def message(mailbox: Mailbox, received: str, heard: str | None = None, state: MessageState = MessageState.NEW) -> None:
        session.add(
            Message(
                mailbox_id=mailbox.id,
                caller_number="+33612345678",
                called_number="+33912345600",
                received_at=utc(received),
                heard_at=utc(heard) if heard else None,
                duration_ms=5000,
                state=state,
            )
        )

    def call(someone: Beneficiary, started: str, seconds: int = 0, outcome: str | None = "answered",
             direction: CallDirection = CallDirection.OUTBOUND, flow: str = "callback") -> None:
        session.add(
            CallRecord(
                direction=direction,
                flow=flow,
                beneficiary_id=someone.id,
                called_number="+33142685300",
                started_at=utc(started),
                billable_seconds=seconds,
                outcome=outcome,
            )
        )

    def event(someone: Beneficiary, action: str, at: str) -> None:
        session.add(AuditEvent(actor="system", action=action, beneficiary_id=someone.id, at=utc(at), details={}))

    # Centre A: five people, three of them active at some point of March (Paris).
    a1, a1_box = person(a, "2025-01-10T09:00")
    a2, _ = person(a, "2025-03-15T09:00")
    person(a, "2024-12-01T09:00", closed="2025-02-20T09:00")  # closed before March
    person(a, "2025-03-31T22:30")  # enrolled on 1 April, Paris time
    person(a, "2024-12-01T09:00", closed="2025-03-10T09:00")  # closed during March: still counted

    message(a1_box, "2025-02-28T23:30", heard="2025-03-31T21:30")  # 1 March 00:30 Paris; heard in March
    message(a1_box, "2025-02-28T22:30", heard="2025-03-01T10:00")  # 28 Feb Paris; heard in March
    message(a1_box, "2025-03-31T22:30", heard="2025-03-31T22:45")  # 1 April 00:30 Paris, heard then too
    message(a1_box, "2025-03-15T12:00", state=MessageState.DELETED)  # deleted still counts as received

    call(a1, "2025-03-05T10:00", seconds=600)
    call(a1, "2025-03-06T10:00", outcome="refused")
    call(a1, "2025-02-28T23:10", seconds=90)  # 1 March, Paris
    call(a1, "2025-03-31T22:10", seconds=1000)  # 1 April, Paris
    call(a1, "2025-03-10T10:00", seconds=300, direction=CallDirection.INBOUND)
    call(a2, "2025-03-20T10:00", seconds=7200)  # the whole monthly allowance

    event(a1, "pin.locked", "2025-03-03T10:00")
    event(a2, "pin.suspended", "2025-03-20T10:00")
    event(a1, "pin.locked", "2025-03-31T22:30")  # April, Paris
    event(a1, "pin.reset", "2025-03-04T10:00")  # not a lockout

    # Centre B: one person, one message, one refused call, one lockout.
    b1, b1_box = person(b, "2025-02-01T09:00")
    message(b1_box, "2025-03-10T12:00")
    call(b1, "2025-03-11T12:00", outcome="refused")
    event(b1, "pin.locked", "2025-03-12T10:00")
    # Calls to b1's number that rang their current phone first.
    for outcome, seconds in (("completed", 60), ("cut", 60), ("not-taken", 6), ("busy", 0), ("cancelled", 0)):
        call(b1, "2025-03-13T10:00", seconds=seconds, outcome=outcome, flow="follow")
    # New-message alerts to b1's phone: one not answered, one answered.
    call(b1, "2025-03-14T10:00", outcome="no-answer", flow="alert")
    call(b1, "2025-03-14T10:20", seconds=60, outcome="completed", flow="alert")


def test_usage_counts_each_figure_per_centre_in_paris_months(two_centres, db_session):
    report = reports.usage_report(db_session, reports.Month.parse("2025-03"), monthly_minutes=120)
    rows = {row.centre: row for row in report.centres}

    assert rows[two_centres.a] == reports.CentreUsage(
        centre=two_centres.a,
        people_active=3,
        messages_received=2,
        messages_heard=2,
        calls_made=3,
        minutes_used=131.5,  # (600 + 90 + 7200) / 60
        minutes_quota=360,
        people_at_quota=1,
        refused_destinations=1,
        lockouts=2,
    )
    assert rows[two_centres.b] == reports.CentreUsage(
        centre=two_centres.b,
        people_active=1,
        messages_received=1,
        messages_heard=0,
        calls_made=0,  # the calls that rang b1's phone are not calls b1 made...
        minutes_used=3.1,  # ...but their minutes count: (60 + 60 + 6 + 60) / 60
        minutes_quota=120,
        people_at_quota=0,
        refused_destinations=1,
        lockouts=1,
        calls_followed=5,
        followed_answered=2,
        followed_to_voicemail=2,
        alerts_sent=2,
        alerts_answered=1,
    )


def test_usage_of_the_next_month_picks_up_what_crossed_the_boundary(two_centres, db_session, session_factory):
    centre = db_session.scalar(select(Centre).where(Centre.name == two_centres.a))

    report = reports.usage_report(db_session, reports.Month.parse("2025-04"), monthly_minutes=120, centre=centre)

    (row,) = report.centres
    assert (row.people_active, row.messages_received, row.messages_heard) == (3, 1, 1)
    assert (row.calls_made, row.minutes_used, row.lockouts) == (1, 16.7, 1)


def test_usage_as_json_for_one_centre_uses_the_configured_quota(cli_runner, two_centres):
    result = cli_runner(
        "report", "usage", "--month", "2025-03", "--centre", two_centres.a, "--json",
        env={"RECONNECT_CALLBACK_MONTHLY_MINUTES": "60"},
    )

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["month"] == "2025-03"
    assert data["timezone"] == "Europe/Paris"
    assert data["monthly_minutes"] == 60
    (row,) = data["centres"]
    assert row["centre"] == two_centres.a
    assert (row["minutes_used"], row["minutes_quota"], row["people_at_quota"]) == (131.5, 180, 1)
    assert data["totals"]["messages_received"] == 2


def test_usage_as_csv_has_a_header_and_a_line_per_centre(cli_runner, two_centres):
    result = cli_runner("report", "usage", "--month", "2025-03", "--centre", two_centres.b, "--csv")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    assert rows[0]["month"] == "2025-03"
    assert rows[0]["centre"] == two_centres.b
    assert rows[0]["refused_destinations"] == "1"
    assert rows[0]["lockouts"] == "1"


def test_usage_table_lists_every_centre_and_a_total(cli_runner, two_centres):
    result = cli_runner("report", "usage", "--month", "2025-03")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Usage for 2025-03 (Europe/Paris)")
    assert lines[1].split()[:3] == ["CENTRE", "ACTIVE", "RECEIVED"]
    line_a = next(line for line in lines if line.startswith(two_centres.a))
    assert line_a.split()[-14:] == ["3", "2", "2", "3", "131.5", "360", "1", "1", "2", "0", "0", "0", "0", "0"]
    assert any(line.startswith(two_centres.b) for line in lines)
    assert lines[-1].startswith("total")


@pytest.mark.parametrize("month", ["2025-13", "2025-3", "March", "2025-03-01", ""])
def test_a_bad_month_is_one_line_and_exit_2(cli_runner, month):
    result = cli_runner("report", "usage", "--month", month)

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0
    assert "YYYY-MM" in result.output


def test_an_unknown_centre_is_one_line_and_exit_2(cli_runner):
    result = cli_runner("report", "usage", "--month", "2025-03", "--centre", "no such centre anywhere")

    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "unknown centre" in result.output


def test_json_and_csv_together_are_refused(cli_runner):
    result = cli_runner("report", "usage", "--month", "2025-03", "--json", "--csv")

    assert result.exit_code == 2
    assert "cannot be used together" in result.output


def test_months_start_and_end_at_midnight_in_paris():
    december = reports.Month.parse("2024-12")
    assert december.start == utc("2024-11-30T23:00")
    assert december.end == utc("2024-12-31T23:00")
    july = reports.Month.parse("2025-07")
    assert july.start == utc("2025-06-30T22:00")
    with pytest.raises(InvalidInput):
        reports.Month.parse("2025-00")


def test_the_selftest_mailbox_is_never_in_the_report(session_factory, number_block):
    from reconnect_pbx.services import selftest

    number = number_block() + "99"
    with transaction(session_factory) as session:
        mailbox = selftest.ensure_test_mailbox(session, number, utc("2025-03-10 10:00"))
        # What the self-test's call leaves until it erases it, as if it had not.
        session.add(Message(mailbox_id=mailbox.mailbox_id, called_number=number, received_at=utc("2025-03-10 10:00"), duration_ms=4000))
    try:
        with session_factory() as session:
            report = reports.usage_report(session, reports.Month.parse("2025-03"), monthly_minutes=120)
        assert selftest.SELFTEST_CENTRE not in [row.centre for row in report.centres]
        with transaction(session_factory) as session:
            again = selftest.ensure_test_mailbox(session, number, utc("2025-03-11 10:00"))
        assert again == mailbox
    finally:
        with transaction(session_factory) as session:
            selftest.erase_test_calls(session, mailbox)
