"""Engine and session factory. One transaction per unit of work (a CLI command, a call step)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

T = TypeVar("T")


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
    # No pool_pre_ping: its round trip on every checkout was half the transactions of a deposit
    # call (docs/benchmarks.md). A connection that went stale while pooled (PostgreSQL restarted)
    # is retried instead, by run_in_transaction.
    return create_engine(url, future=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session


def run_in_transaction(factory: sessionmaker[Session], work: Callable[..., T], *args: Any) -> T:
    """Run ``work(session, *args)`` in one transaction, committed on success.

    A pooled connection that the server closed meanwhile (PostgreSQL restarted) fails on its first
    statement. Failing before the commit means nothing was written, so the work runs once more on
    a new connection (SQLAlchemy has by then invalidated the pool's other stale connections). A
    failure during the commit itself is never retried: whether it was written is unknown."""
    for attempt in (1, 2):
        committing = False
        try:
            with transaction(factory) as session:
                result = work(session, *args)
                committing = True
            return result
        except DBAPIError as exc:
            if attempt == 1 and not committing and exc.connection_invalidated:
                log.warning("database connection lost (%s); trying once more", str(exc.orig).strip().splitlines()[0])
                continue
            raise
    raise AssertionError("unreachable")
