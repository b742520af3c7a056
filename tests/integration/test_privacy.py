"""``purge`` and ``export``. Purge works on the whole database, so each test has a database of its own
(``fresh_database_url``): counts can be exact and no other test's rows are touched."""

from __future__ import annotations

import io
import json
import stat
import wave
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.db import make_engine, make_session_factory, transaction
from reconnect_pbx.models import (
    AudioBlob,
    AuditEvent,
    Beneficiary,
    CallDirection,
    CallRecord,
    Credential,
    Greeting,
    GreetingKind,
    Language,
    Mailbox,
    Message,
    MessageState,
    NumberAssignment,
    PhoneNumber,
)
from reconnect_pbx.services import audit, centres, people
from reconnect_pbx.storage import PostgresAudioStore

NOW = datetime.now(timezone.utc)
STORE = PostgresAudioStore()


def wav(seconds: float = 0.1, level: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes([level, 0]) * int(8000 * seconds))
    return buffer.getvalue()


@dataclass
class Fresh:
    cli: Any
    factory: sessionmaker[Session]


@pytest.fixture
def fresh(fresh_database_url: str, cli_runner: Any) -> Iterator[Fresh]:
    engine = make_engine(fresh_database_url)
    yield Fresh(cli_runner.with_database(fresh_database_url), make_session_factory(engine))
    engine.dispose()


@dataclass
class Scenario:
    active_id: int
    deleted_recent: int
    expired_saved: int
    expired_deleted: int
    kept: int
    kept_audio: int
    erased_id: int
    erased_calls: list[int]
    recent_closed_id: int


def _enrol(session: Session, centre: Any, e164: str, name: str, since: datetime) -> Beneficiary:
    session.add(PhoneNumber(e164=e164, centre_id=centre.id))
    session.flush()
    enrolment = people.enrol(
        session, centre=centre, display_name=name, language=Language.FR, pin_length=6, actor="pytest", number=e164, now=since
    )
    return session.get(Beneficiary, enrolment.beneficiary_id)


def _mailbox(session: Session, person: Beneficiary) -> int:
    return session.scalar(select(Mailbox.id).where(Mailbox.beneficiary_id == person.id))


def _message(session: Session, person: Beneficiary, age_days: int, state: MessageState = MessageState.NEW) -> Message:
    message = Message(
        mailbox_id=_mailbox(session, person),
        caller_number="+33612345678",
        called_number="+33912345600",
        received_at=NOW - timedelta(days=age_days),
        duration_ms=5000,
        state=state,
        deleted_at=NOW - timedelta(days=age_days) if state == MessageState.DELETED else None,
        audio_id=STORE.put(session, wav(level=age_days % 250 + 1)),
    )
    session.add(message)
    session.flush()
    return message


def _greeting_and_calls(session: Session, person: Beneficiary, age_days: int) -> list[int]:
    session.add(Greeting(mailbox_id=_mailbox(session, person), kind=GreetingKind.PERSONAL, audio_id=STORE.put(session, wav())))
    return _calls(session, person, age_days)


def _calls(session: Session, person: Beneficiary, age_days: int) -> list[int]:
    calls = [
        CallRecord(direction=CallDirection.INBOUND, flow="deposit", beneficiary_id=person.id, caller_number="+33612345678",
                   called_number="+33912345600", started_at=NOW - timedelta(days=age_days)),
        CallRecord(direction=CallDirection.OUTBOUND, flow="callback", beneficiary_id=person.id, caller_number="+33912345600",
                   called_number="+33142685300", started_at=NOW - timedelta(days=age_days), billable_seconds=60),
    ]
    session.add_all(calls)
    session.flush()
    return [call.id for call in calls]


def build_scenario(factory: sessionmaker[Session]) -> Scenario:
    with transaction(factory) as session:
        centre = centres.add_centre(session, "Privacy centre", actor="pytest")
        active = _enrol(session, centre, "+33912345601", "Active Person", NOW - timedelta(days=400))
        deleted_recent = _message(session, active, 5, MessageState.DELETED)
        expired_saved = _message(session, active, 100, MessageState.SAVED)
        expired_deleted = _message(session, active, 120, MessageState.DELETED)
        kept = _message(session, active, 5)

        # Closed 100 days ago: the 90-day quarantine is over.
        erased = _enrol(session, centre, "+33912345602", "Closed Long Ago", NOW - timedelta(days=300))
        _message(session, erased, 150, MessageState.SAVED)
        _message(session, erased, 110)
        erased_calls = _greeting_and_calls(session, erased, 120)
        audit.record(session, "pytest", "pin.locked", erased.id, name="Closed Long Ago").note = "moved to Lyon"
        people.close(session, erased, actor="pytest", quarantine_days=90, now=NOW - timedelta(days=100))

        # Closed 10 days ago: still in quarantine, nothing erased.
        recent = _enrol(session, centre, "+33912345603", "Closed Recently", NOW - timedelta(days=300))
        _message(session, recent, 20)
        _greeting_and_calls(session, recent, 20)
        people.close(session, recent, actor="pytest", quarantine_days=90, now=NOW - timedelta(days=10))
        return Scenario(
            active.id, deleted_recent.id, expired_saved.id, expired_deleted.id, kept.id, kept.audio_id,
            erased.id, erased_calls, recent.id,
        )


EXPECTED_COUNTS = {
    "people_erased": 1,
    "person_messages_erased": 2,
    "greetings_erased": 1,
    "credentials_erased": 1,
    "call_records_scrubbed": 2,
    "messages_expired": 2,
    "deleted_message_audio_erased": 1,
    # two messages and a greeting of the erased person, two expired messages, one deleted message
    "audio_erased": 6,
    # Nothing in the scenario is older than a year.
    "call_records_expired": 0,
    "audit_events_expired": 0,
}


def _fingerprint(session: Session) -> dict[str, str]:
    """A digest of every row of every table."""
    tables = session.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).all()
    return {
        table: session.scalar(text(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t"))
        for table in tables
    }


def test_purge_erases_what_retention_no_longer_allows_and_keeps_the_rest(fresh):
    scenario = build_scenario(fresh.factory)

    result = fresh.cli("purge", "--json", operator="alice")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"dry_run": False, **EXPECTED_COUNTS}
    with fresh.factory() as session:
        deleted = session.get(Message, scenario.deleted_recent)
        assert deleted is not None and deleted.audio_id is None
        assert session.get(Message, scenario.expired_saved) is None
        assert session.get(Message, scenario.expired_deleted) is None
        kept = session.get(Message, scenario.kept)
        assert kept.audio_id == scenario.kept_audio and STORE.get(session, kept.audio_id) is not None

        erased = session.get(Beneficiary, scenario.erased_id)
        assert erased.display_name == "erased"
        assert session.get(Credential, erased.id) is None
        mailbox = _mailbox(session, erased)
        assert session.scalar(select(func.count()).where(Message.mailbox_id == mailbox)) == 0
        assert session.scalar(select(func.count()).where(Greeting.mailbox_id == mailbox)) == 0
        for call_id in scenario.erased_calls:
            call = session.get(CallRecord, call_id)
            assert (call.caller_number, call.called_number) == (None, None)
            assert call.billable_seconds in (0, 60)
        assert session.scalar(select(func.count()).where(NumberAssignment.beneficiary_id == erased.id)) == 1
        lock_event = session.scalar(select(AuditEvent).where(AuditEvent.action == "pin.locked"))
        assert lock_event.note is None and lock_event.details == {"name": None}

        recent = session.get(Beneficiary, scenario.recent_closed_id)
        assert recent.display_name == "Closed Recently"
        assert session.get(Credential, recent.id) is not None
        recent_mailbox = _mailbox(session, recent)
        assert session.scalar(select(func.count()).where(Message.mailbox_id == recent_mailbox, Message.audio_id.is_not(None))) == 1
        assert session.scalar(select(func.count()).where(Greeting.mailbox_id == recent_mailbox)) == 1
        assert session.scalar(
            select(func.count()).where(CallRecord.beneficiary_id == recent.id, CallRecord.called_number.is_not(None))
        ) == 2

        # Only the kept message, the recently closed person's message and greeting still have audio.
        assert session.scalar(select(func.count()).select_from(AudioBlob)) == 3
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "privacy.purge"))
        assert event.actor == "alice"
        assert {key: event.details[key] for key in EXPECTED_COUNTS} == EXPECTED_COUNTS


def test_purge_dry_run_counts_the_same_and_writes_nothing(fresh):
    build_scenario(fresh.factory)
    with fresh.factory() as session:
        before = _fingerprint(session)

    result = fresh.cli("purge", "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"dry_run": True, **EXPECTED_COUNTS}
    with fresh.factory() as session:
        assert _fingerprint(session) == before


def test_purge_twice_finds_nothing_left_the_second_time(fresh):
    build_scenario(fresh.factory)
    assert fresh.cli("purge").exit_code == 0

    result = fresh.cli("purge", "--json")

    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout).values()) == {False, 0}
    with fresh.factory() as session:
        assert session.scalar(select(func.count()).where(AuditEvent.action == "privacy.purge")) == 2


def test_purge_prints_its_counts_for_people(fresh):
    build_scenario(fresh.factory)

    result = fresh.cli("purge", "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Dry run: nothing was erased. Would erase:"
    assert "Closed people erased:" in result.stdout and "Deleted messages' audio:" in result.stdout


def test_closed_people_are_erased_when_a_shorter_quarantine_ends(fresh):
    scenario = build_scenario(fresh.factory)

    result = fresh.cli("purge", "--json", env={"RECONNECT_NUMBERS_QUARANTINE_DAYS": "7"})

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["people_erased"] == 2
    with fresh.factory() as session:
        assert session.get(Beneficiary, scenario.recent_closed_id).display_name == "erased"


def _read_zip(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("data.json")), files


def test_export_zip_holds_everything_about_the_person_and_never_the_pin_hash(fresh, tmp_path):
    scenario = build_scenario(fresh.factory)
    with transaction(fresh.factory) as session:
        audit.record(session, "system", "pin.locked", scenario.active_id, failures=5)
    with fresh.factory() as session:
        pin_hash = session.get(Credential, scenario.active_id).pin_hash
        audio = {m.id: STORE.get(session, m.audio_id) for m in session.scalars(select(Message)) if m.audio_id}
    out = tmp_path / "export.zip"

    result = fresh.cli("export", str(scenario.active_id), "--out", str(out), operator="bob")

    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert pin_hash.encode() not in raw and b"pin_hash" not in raw
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data, files = _read_zip(raw)
    assert data["person"]["display_name"] == "Active Person"
    assert data["exported_by"] == "bob"
    assert data["numbers"] == [
        {"number": "+33912345601", "national": "09 12 34 56 01", "started_at": data["numbers"][0]["started_at"], "ended_at": None}
    ]
    messages = {m["id"]: m for m in data["messages"]}
    assert set(messages) == {scenario.deleted_recent, scenario.expired_saved, scenario.expired_deleted, scenario.kept}
    assert messages[scenario.expired_saved]["state"] == "saved"
    assert files[messages[scenario.kept]["audio"]] == audio[scenario.kept]
    assert len(files) == 4
    assert data["credential"]["failed_attempts"] == 0 and "pin_hash" not in data["credential"]
    assert [e["action"] for e in data["audit_events"]] == ["beneficiary.enrol", "pin.locked"]
    with fresh.factory() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "beneficiary.export"))
        assert (event.actor, event.beneficiary_id) == ("bob", scenario.active_id)
        assert event.details["audio_files"] == 4


def test_export_of_an_erased_person_by_their_old_number_keeps_the_history(fresh):
    scenario = build_scenario(fresh.factory)
    fresh.cli("purge")

    result = fresh.cli("export", "09 12 34 56 02", "--out", "-")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["person"]["id"] == scenario.erased_id
    assert data["person"]["display_name"] == "erased"
    assert data["numbers"][0]["ended_at"] is not None
    assert data["messages"] == [] and data["greetings"] == [] and data["credential"] is None
    assert {c["id"] for c in data["call_records"]} == set(scenario.erased_calls)
    assert all(c["called_number"] is None for c in data["call_records"])


def test_export_as_json_has_no_audio(fresh, tmp_path):
    scenario = build_scenario(fresh.factory)
    out = tmp_path / "export.json"

    result = fresh.cli("export", str(scenario.recent_closed_id), "--out", str(out))

    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data["messages"]) == 1 and data["messages"][0]["audio"] is None
    assert data["greetings"][0]["kind"] == "personal"
    assert len(data["call_records"]) == 2


def test_export_of_an_unknown_person_is_one_line_and_audits_nothing(fresh, tmp_path):
    build_scenario(fresh.factory)
    out = tmp_path / "export.zip"

    result = fresh.cli("export", "09 99 99 99 99", "--out", str(out))

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0
    assert "nobody holds or held number +33999999999" in result.output
    assert not out.exists()
    with fresh.factory() as session:
        assert session.scalar(select(func.count()).where(AuditEvent.action == "beneficiary.export")) == 0


def test_an_export_that_cannot_be_written_is_not_audited(fresh, tmp_path):
    scenario = build_scenario(fresh.factory)

    result = fresh.cli("export", str(scenario.active_id), "--out", str(tmp_path / "missing" / "export.zip"))

    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "cannot write" in result.output
    with fresh.factory() as session:
        assert session.scalar(select(func.count()).where(AuditEvent.action == "beneficiary.export")) == 0


def test_purge_takes_the_numbers_out_of_old_call_records_and_deletes_old_audit_events_of_active_people_too(fresh):
    with transaction(fresh.factory) as session:
        centre = centres.add_centre(session, "Records centre", actor="pytest")
        active = _enrol(session, centre, "+33912345611", "Still Here", NOW - timedelta(days=800))
        old_calls = _calls(session, active, 400)
        recent_calls = _calls(session, active, 300)
        old_event = audit.record(session, "pytest", "pin.locked", active.id, name="Still Here")
        old_event.at = NOW - timedelta(days=400)
        recent_event = audit.record(session, "pytest", "pin.locked", active.id, name="Still Here")
        recent_event.at = NOW - timedelta(days=300)
        session.flush()
        old_event_id, recent_event_id = old_event.id, recent_event.id

    result = fresh.cli("purge", "--json")

    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["call_records_expired"], counts["people_erased"]) == (2, 0)
    # The two old ones, and the enrolment's own audit events (800 days ago).
    assert counts["audit_events_expired"] >= 1
    with fresh.factory() as session:
        for call_id in old_calls:
            call = session.get(CallRecord, call_id)
            assert (call.caller_number, call.called_number) == (None, None)
        assert session.get(CallRecord, old_calls[1]).billable_seconds == 60
        for call_id in recent_calls:
            assert session.get(CallRecord, call_id).called_number is not None
        assert session.get(AuditEvent, old_event_id) is None
        assert session.get(AuditEvent, recent_event_id) is not None
        assert session.get(Beneficiary, active.id).display_name == "Still Here"
    again = fresh.cli("purge", "--json", env={"RECONNECT_RETENTION_AUDIT_RETENTION_DAYS": "400"})
    assert json.loads(again.stdout)["call_records_expired"] == 0


def test_a_record_retention_shorter_than_a_month_is_refused(fresh):
    result = fresh.cli("purge", env={"RECONNECT_RETENTION_CALL_RECORD_RETENTION_DAYS": "7"})
    assert result.exit_code != 0
    assert "retention.call_record_retention_days must be at least 31" in result.output
