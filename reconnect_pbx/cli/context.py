"""What every command shares: the settings and database opened once per run (``ctx.obj``), and the
translation of errors into one line on stderr at the CLI boundary.

Exit codes: 2 for bad usage and for requests the domain refuses (invalid input, unknown names,
conflicts with the current state); 1 for the environment (configuration, database unreachable or
not migrated, unexpected errors).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.config import ConfigError, Settings, load_settings
from reconnect_pbx.db import make_engine, make_session_factory, transaction
from reconnect_pbx.services import credentials, numbers, schema
from reconnect_pbx.services.errors import DomainError

log = logging.getLogger(__name__)


class InputError(click.ClickException):
    """The request was understood but refused: exit 2, like a usage error."""

    exit_code = 2


@dataclass
class App:
    """``ctx.obj``: the run's settings, database and operator, each made once on first use."""

    config_path: Path | None
    operator: str
    debug: bool = False
    _schema_checked: bool = field(default=False, repr=False)

    @cached_property
    def settings(self) -> Settings:
        settings = load_settings(self.config_path)
        credentials.use_pepper_file(settings.pin.pepper_file)
        return settings

    @property
    def reserved_numbers(self) -> frozenset[str]:
        """Numbers no person may be given (the access number, the self-test's mailbox)."""
        access = self.settings.access
        return numbers.reserved_numbers(access.access_number, self.settings.numbers.default_region, access.selftest_number)

    @property
    def database_url(self) -> str:
        return self.settings.database.url

    @cached_property
    def engine(self) -> Engine:
        # One command, one connection: no pool to keep.
        return make_engine(self.database_url, pool_size=1, max_overflow=0)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction per command: everything it writes is committed together, or nothing."""
        with transaction(self.session_factory) as session:
            if not self._schema_checked:
                schema.ensure_current(session.connection())
                self._schema_checked = True
            yield session

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


pass_app = click.make_pass_decorator(App)


class RootGroup(click.Group):
    """Translates every error raised below the root into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            app = ctx.obj if isinstance(ctx.obj, App) else None
            if app is not None and app.debug:
                raise
            log.debug("command failed", exc_info=True)
            raise translate(exc, app) from None
        finally:
            if isinstance(ctx.obj, App):
                ctx.obj.close()


def translate(exc: Exception, app: App | None) -> click.ClickException:
    if isinstance(exc, DomainError):
        return InputError(str(exc))
    if isinstance(exc, ConfigError):
        return click.ClickException(f"configuration: {exc}")
    if isinstance(exc, schema.SchemaError):
        return click.ClickException(str(exc))
    if isinstance(exc, ArgumentError):
        return click.ClickException(f"configuration: database.url is not a valid database URL: {exc}")
    if isinstance(exc, (OperationalError, DBAPIError)) and not isinstance(exc, IntegrityError) and _is_connection_error(exc):
        return click.ClickException(f"cannot reach the database {_safe_url(app)}: {_driver_message(exc)}")
    if isinstance(exc, IntegrityError):
        return click.ClickException(f"the database refused the change (concurrent update?): {_driver_message(exc)}")
    if isinstance(exc, SQLAlchemyError):
        return click.ClickException(f"database error: {_driver_message(exc)}")
    return click.ClickException(f"unexpected error ({type(exc).__name__}): {exc}; --debug shows the traceback")


def _is_connection_error(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError) or exc.connection_invalidated


def _driver_message(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _safe_url(app: App | None) -> str:
    if app is None:
        return ""
    try:
        return make_url(app.database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only decorates an error message
        return "(unreadable URL)"
