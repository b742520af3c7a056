"""The database paths every call takes, on the real PostgreSQL: audio in by binary COPY, and one
retry on a connection that PostgreSQL closed while it sat in the pool (no pool_pre_ping)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.db import make_engine, make_session_factory, run_in_transaction
from reconnect_pbx.models import AudioBlob
from reconnect_pbx.storage import WAV, PostgresAudioStore


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def test_audio_stored_by_copy_reads_back_byte_for_byte(factory: sessionmaker[Session]) -> None:
    store = PostgresAudioStore()
    # Every byte value, and a NUL-heavy tail: what hex escaping had to get right, COPY must too.
    audio = bytes(range(256)) * 1250 + os.urandom(1000) + b"\x00" * 4000

    first = run_in_transaction(factory, store.put, audio)
    second = run_in_transaction(factory, store.put, b"RIFF-greeting", "audio/x-test")

    assert second > first
    assert run_in_transaction(factory, store.get, first) == audio
    with factory() as session:
        blob = session.get(AudioBlob, first)
        assert (blob.content_type, blob.size_bytes, blob.sha256) == (WAV, len(audio), hashlib.sha256(audio).hexdigest())
        assert blob.created_at is not None
        assert session.get(AudioBlob, second).content_type == "audio/x-test"


def test_audio_read_by_copy_is_none_when_absent_and_empty_when_empty(factory: sessionmaker[Session]) -> None:
    store = PostgresAudioStore()
    empty = run_in_transaction(factory, store.put, b"")
    assert run_in_transaction(factory, store.get, empty) == b""
    assert run_in_transaction(factory, store.get, empty + 1000) is None


def test_audio_copied_in_a_transaction_that_fails_is_not_kept(factory: sessionmaker[Session]) -> None:
    store = PostgresAudioStore()

    def put_then_fail(session: Session) -> None:
        store.put(session, b"never kept")
        raise RuntimeError("the message insert failed")

    with pytest.raises(RuntimeError):
        run_in_transaction(factory, put_then_fail)
    with factory() as session:
        assert session.scalars(select(AudioBlob.id)).all() == []


def _terminate_pooled_connections(engine: Engine, database_url: str) -> None:
    """What a PostgreSQL restart does to the pool: every idle connection is closed by the server."""
    killer = make_engine(database_url)
    try:
        with killer.connect() as connection:
            closed = connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        killer.dispose()
    assert closed >= 1


def test_a_connection_closed_by_the_server_is_retried_once(
    engine: Engine, factory: sessionmaker[Session], fresh_database_url: str
) -> None:
    backend_pids = []

    def backend(session: Session) -> int:
        pid = session.scalar(text("SELECT pg_backend_pid()"))
        backend_pids.append(pid)
        return pid

    run_in_transaction(factory, backend)  # leaves one connection in the pool
    _terminate_pooled_connections(engine, fresh_database_url)

    assert run_in_transaction(factory, backend) != backend_pids[0]
    # The first attempt failed on its first statement, before SELECT pg_backend_pid() returned.
    assert len(backend_pids) == 2


def test_audio_read_on_a_connection_closed_by_the_server_is_retried_once(
    engine: Engine, factory: sessionmaker[Session], fresh_database_url: str
) -> None:
    # Reading audio is the first statement of its transaction (a playback), by COPY on the
    # driver's own cursor: a stale pooled connection must be retried as for any statement.
    store = PostgresAudioStore()
    audio_id = run_in_transaction(factory, store.put, b"RIFF" + os.urandom(1000))
    _terminate_pooled_connections(engine, fresh_database_url)
    attempts = []

    def get(session: Session) -> bytes | None:
        attempts.append(1)
        return store.get(session, audio_id)

    assert run_in_transaction(factory, get).startswith(b"RIFF")
    assert len(attempts) == 2


def test_a_query_that_fails_is_not_retried(factory: sessionmaker[Session]) -> None:
    attempts = []

    def divide(session: Session) -> int:
        attempts.append(1)
        return session.scalar(text("SELECT 1 / 0"))

    with pytest.raises(DBAPIError):
        run_in_transaction(factory, divide)
    assert len(attempts) == 1


def test_an_unreachable_server_fails_at_once(fresh_database_url: str) -> None:
    # A port nothing listens on: connecting fails, which is not a stale pooled connection, so the
    # caller hears at once that the database is unavailable (a deposit then goes on without it).
    unreachable = make_engine(
        fresh_database_url.replace("127.0.0.1:5432", "127.0.0.1:1"), connect_args={"connect_timeout": 2}
    )
    attempts = []

    def work(session: Session) -> None:
        attempts.append(1)
        session.execute(text("SELECT 1"))

    try:
        with pytest.raises(DBAPIError):
            run_in_transaction(make_session_factory(unreachable), work)
    finally:
        unreachable.dispose()
    assert attempts == [1]
