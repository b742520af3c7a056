"""Engine and session factory. One transaction per unit of work (a CLI command, a call step)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached (down, restarting, network): not a bug, and it will pass.

    Call flows get this instead of SQLAlchemy's errors (``FlowContext.db``): a deposit then takes
    the message without the database, other flows say the service is temporarily unavailable."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the server cannot be reached, as opposed to a query that failed.

    A lost or refused connection carries no SQLSTATE; a deadlock or a serialization failure (also
    OperationalError for psycopg2) does."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    return getattr(exc.orig, "pgcode", None) is None


def make_engine(url: str, **kwargs: object) -> Engine:
    # pool_pre_ping: a database restart must not break the next call's first query.
    return create_engine(url, pool_pre_ping=True, future=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session
