"""Alembic environment: the URL comes from our settings, the target schema from our models."""

from __future__ import annotations

from alembic import context
from sqlalchemy.pool import NullPool

from reconnect_pbx.config import load_settings
from reconnect_pbx.db import make_engine
from reconnect_pbx.models import Base

config = context.config


def _database_url() -> str:
    # Given by reconnect_pbx.services.schema (the CLI and the tests), else `-x url=`, else settings.
    url = config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get("url")
    return url or load_settings().database.url


def _target_metadata():  # type: ignore[no-untyped-def]
    # Tests of `db check` pass other metadata to prove a mismatch is caught.
    return config.attributes.get("target_metadata", Base.metadata)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=_target_metadata(),
        compare_type=True,
        compare_server_default=False,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_database_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
