"""calls resume: staff lift a suspension of outgoing calls set by the toll-fraud guard."""

from __future__ import annotations

from sqlalchemy import select

from reconnect_pbx.models import AuditEvent
from reconnect_pbx.services import audit, outbound


def test_calls_resume_lifts_a_suspension_and_audits_who_did_it(cli_runner, enrolled, db_session) -> None:
    person = enrolled()
    audit.record(db_session, "system", outbound.SUSPENDED_ACTION, person["id"], refused_destinations=10)
    db_session.commit()
    assert outbound.is_suspended(db_session, person["id"])

    result = cli_runner.invoke("calls", "resume", person["number"], "--note", "talked with them", operator="dana")
    assert result.exit_code == 0, result.output
    assert "outgoing calls allowed again" in result.stdout

    db_session.expire_all()
    assert not outbound.is_suspended(db_session, person["id"])
    event = db_session.scalar(
        select(AuditEvent).where(AuditEvent.beneficiary_id == person["id"], AuditEvent.action == outbound.RESUMED_ACTION)
    )
    assert (event.actor, event.note) == ("dana", "talked with them")


def test_calls_resume_of_someone_not_suspended_is_refused(cli_runner, enrolled, unchanged) -> None:
    person = enrolled()
    with unchanged():
        result = cli_runner("calls", "resume", str(person["id"]))
    assert result.exit_code == 2
    assert "are not suspended" in result.stderr
