"""The PostgreSQL roles that ``serve`` and ``web`` use (migration 0007), logged in as for real: their
ordinary work succeeds, rewriting the audit log is refused, the web role cannot read stored audio,
and only the owner (the operator's CLI, the daily purge) deletes expired audit rows."""

from __future__ import annotations

import io
import secrets
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pg
import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.config import DatabaseSettings
from reconnect_pbx.db import make_engine, make_session_factory, transaction
from reconnect_pbx.models import AuditEvent, Centre, Language, Mailbox, Message
from reconnect_pbx.services import audit, centres, numbers, people, voicemail
from reconnect_pbx.storage import PostgresAudioStore

ROLES = DatabaseSettings()
INSUFFICIENT_PRIVILEGE = "42501"


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x01\x00" * 800)
    return buffer.getvalue()


@contextmanager
def logged_in_as(database_url: str, role: str) -> Iterator[sessionmaker[Session]]:
    with pg.member_login(database_url, role) as url:
        engine = make_engine(url)
        try:
            yield make_session_factory(engine)
        finally:
            engine.dispose()


def refused(factory: sessionmaker[Session], statement: str, **params: Any) -> bool:
    """Whether PostgreSQL refuses ``statement`` for lack of privilege (and it changed nothing)."""
    with factory() as session:
        try:
            session.execute(text(statement), params)
        except ProgrammingError as exc:
            return getattr(exc.orig, "pgcode", None) == INSUFFICIENT_PRIVILEGE
        finally:
            session.rollback()
    return False


@pytest.fixture
def centre_with_pool(session_factory: sessionmaker[Session]) -> Callable[[int], int]:
    def make(size: int) -> int:
        with transaction(session_factory) as session:
            centre = centres.add_centre(session, f"Roles {secrets.token_hex(3)}", "Paris", actor="pytest")
            prefix = f"+339{secrets.randbelow(10**6):06d}"
            numbers.import_numbers(session, [f"{prefix}{i:02d}" for i in range(size)], centre=centre, trunk="trunk", actor="pytest", source="test")
            return centre.id

    return make


def test_the_web_role_enrols_but_cannot_rewrite_the_audit_log_nor_read_audio(database_url, centre_with_pool) -> None:  # type: ignore[no-untyped-def]
    centre_id = centre_with_pool(1)
    with logged_in_as(database_url, ROLES.web_role) as web:
        with transaction(web) as session:
            enrolment = people.enrol(session, centre=session.get(Centre, centre_id), display_name="Par le web",
                                     language=Language.FR, pin_length=6, actor="web:test@example.org")
        with web() as session:
            event_id = session.scalar(select(AuditEvent.id).where(AuditEvent.beneficiary_id == enrolment.beneficiary_id))
        assert event_id is not None
        assert refused(web, "UPDATE audit_events SET actor = 'someone else' WHERE id = :id", id=event_id)
        assert refused(web, "DELETE FROM audit_events WHERE id = :id", id=event_id)
        assert refused(web, "TRUNCATE audit_events")
        assert refused(web, "SELECT data FROM audio_blobs LIMIT 1")
        assert refused(web, "UPDATE alembic_version SET version_num = 'x'")
    with make_session_factory(make_engine(database_url))() as owner:
        assert owner.get(AuditEvent, event_id).actor == "web:test@example.org"


def test_the_serve_role_stores_a_message_but_cannot_rewrite_the_audit_log(database_url, centre_with_pool, session_factory) -> None:  # type: ignore[no-untyped-def]
    centre_id = centre_with_pool(1)
    with transaction(session_factory) as session:
        enrolment = people.enrol(session, centre=session.get(Centre, centre_id), display_name="Appelée",
                                 language=Language.FR, pin_length=6, actor="pytest")
        mailbox_id = session.scalar(select(Mailbox.id).where(Mailbox.beneficiary_id == enrolment.beneficiary_id))
    with logged_in_as(database_url, ROLES.serve_role) as serve:
        # What a deposit writes: the audio, the message, an audit event.
        with transaction(serve) as session:
            message_id = voicemail.store_message(session, PostgresAudioStore(), voicemail.NewMessage(
                mailbox_id=mailbox_id, caller_number="+33612345678", called_number=enrolment.e164,
                received_at=datetime.now(timezone.utc), duration_ms=100, source_channel_id=f"roles-{secrets.token_hex(4)}",
            ), _wav())
            event = audit.record(session, "system", "test.serve_role", enrolment.beneficiary_id)
        assert message_id is not None
        assert refused(serve, "UPDATE audit_events SET note = 'rewritten' WHERE id = :id", id=event.id)
        assert refused(serve, "DELETE FROM audit_events WHERE id = :id", id=event.id)
        # serve has no staff: the staff accounts are out of its reach.
        assert refused(serve, "SELECT email FROM staff_accounts LIMIT 1")
    with session_factory() as owner:
        assert owner.get(Message, message_id).audio_id is not None
        assert owner.get(AuditEvent, event.id).note is None


def test_expired_audit_rows_are_purged_by_the_owner_and_not_by_serve(fresh_database_url, cli_runner) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(fresh_database_url)
    try:
        with engine.begin() as connection:
            old = connection.execute(
                insert(AuditEvent).values(actor="pytest", action="test.old", details={},
                                          at=datetime.now(timezone.utc) - timedelta(days=400)).returning(AuditEvent.id)
            ).scalar_one()
        with pg.member_login(fresh_database_url, ROLES.serve_role) as serve_url:
            as_serve = cli_runner.with_database(serve_url)("purge")
        assert as_serve.exit_code == 1 and "permission denied for table audit_events" in as_serve.output
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).where(AuditEvent.id == old)) == 1
        # The owner's URL (the operator's CLI as root, the purge timer): the row goes.
        as_owner = cli_runner.with_database(fresh_database_url)("purge")
        assert as_owner.exit_code == 0, as_owner.output
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).where(AuditEvent.id == old)) == 0
    finally:
        engine.dispose()


def test_roles_named_in_the_settings_are_created_and_granted_in_each_database(empty_database_url, postgres_server_url, cli_runner) -> None:  # type: ignore[no-untyped-def]
    tag = secrets.token_hex(3)
    env = {"RECONNECT_DATABASE_SERVE_ROLE": f"test_serve_{tag}", "RECONNECT_DATABASE_WEB_ROLE": f"test_web_{tag}"}
    result = cli_runner.with_database(empty_database_url)("db", "upgrade", env=env)
    assert result.exit_code == 0, result.output
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            rights = dict(connection.execute(text(
                "SELECT r, string_agg(p, ',' ORDER BY p) FROM unnest(ARRAY[:serve, :web]) r,"
                " unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p"
                " WHERE has_table_privilege(r, 'audit_events', p) GROUP BY r"
            ), {"serve": env["RECONNECT_DATABASE_SERVE_ROLE"], "web": env["RECONNECT_DATABASE_WEB_ROLE"]}).all())
            login = connection.scalar(text("SELECT bool_or(rolcanlogin) FROM pg_roles WHERE rolname LIKE :p"), {"p": f"test_%_{tag}"})
        assert rights == {env["RECONNECT_DATABASE_SERVE_ROLE"]: "INSERT,SELECT", env["RECONNECT_DATABASE_WEB_ROLE"]: "INSERT,SELECT"}
        assert login is False
    finally:
        engine.dispose()
        # Roles outlive databases: these test-only ones are dropped (their grants first).
        pg.drop_database(empty_database_url)
        server = make_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            for role in env.values():
                connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        server.dispose()
