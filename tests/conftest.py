"""Shared fixtures: a real PostgreSQL database per test run, sessions on it, and the CLI.

``database_url`` is a throwaway database (``reconnect_test_<random>``) on the server from
RECONNECT_TEST_DATABASE_URL, else the local server, else a private cluster (tests/pg.py), migrated
with the same code as ``reconnect-pbx db upgrade`` and dropped at the end. The database is shared by
the whole run: tests use unique names (``unique_name``, ``number_block``) or clean their rows.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click.testing
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pg  # noqa: E402  (tests/pg.py, also used by bench/ and CI scripts)

from reconnect_pbx.cli import main  # noqa: E402
from reconnect_pbx.db import make_engine, make_session_factory  # noqa: E402
from reconnect_pbx.services import credentials, schema  # noqa: E402


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server URL (its ``postgres`` database) that answers."""
    with pg.available_server() as url:
        yield url


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    with pg.throwaway_database(postgres_server_url) as url:
        schema.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def session_factory(db_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(db_engine)


@pytest.fixture
def db_session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and checking; whatever it leaves uncommitted is rolled back."""
    with session_factory() as session:
        yield session
        session.rollback()


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    """A database of its own, with no schema at all (not migrated)."""
    with pg.throwaway_database(postgres_server_url, prefix="reconnect_test_empty") as url:
        yield url


@pytest.fixture
def fresh_database_url(postgres_server_url: str) -> Iterator[str]:
    """A migrated database of its own, for tests that must see every row in it."""
    with pg.throwaway_database(postgres_server_url, prefix="reconnect_test_fresh") as url:
        schema.upgrade(url)
        yield url


@pytest.fixture(scope="session", autouse=True)
def pin_pepper_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The PIN pepper of the run, as an install generates it: every process of the run uses it
    (this one, the CLI's, serve's: RECONNECT_PIN_PEPPER_FILE is inherited)."""
    path = tmp_path_factory.mktemp("pepper") / "pin-pepper"
    path.write_text(secrets.token_hex(32) + "\n")
    path.chmod(0o640)
    os.environ["RECONNECT_PIN_PEPPER_FILE"] = str(path)
    credentials.use_pepper_file(path)
    yield path
    os.environ.pop("RECONNECT_PIN_PEPPER_FILE", None)


@pytest.fixture(scope="session")
def empty_config_file(tmp_path_factory: pytest.TempPathFactory, pin_pepper_file: Path) -> Path:
    # A config file of defaults keeps the tests from reading /etc/reconnect-pbx/ on a real host;
    # only the PIN pepper is the run's.
    path = tmp_path_factory.mktemp("config") / "reconnect-pbx.conf"
    path.write_text(f'[pin]\npepper_file = "{pin_pepper_file}"\n')
    return path


class CliInvoker:
    """Runs ``reconnect-pbx`` in-process against the test database: ``cli_runner("list", "--json")``."""

    def __init__(self, database_url: str, config_path: Path) -> None:
        self.database_url = database_url
        self.config_path = config_path

    def invoke(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None, operator: str = "pytest"
    ) -> click.testing.Result:
        full_env = {
            "RECONNECT_DATABASE_URL": self.database_url,
            "RECONNECT_CONFIG": str(self.config_path),
            **(env or {}),
        }
        return click.testing.CliRunner().invoke(main, ["--operator", operator, *args], input=input, env=full_env)

    __call__ = invoke

    def with_database(self, database_url: str) -> CliInvoker:
        return CliInvoker(database_url, self.config_path)


@pytest.fixture
def cli_runner(database_url: str, empty_config_file: Path) -> CliInvoker:
    return CliInvoker(database_url, empty_config_file)


@pytest.fixture
def unique_name() -> Any:
    """``unique_name("Centre")`` -> "Centre 3fa9c1": names that no other test uses."""
    return lambda prefix="test": f"{prefix} {secrets.token_hex(3)}"


_blocks_taken: set[str] = set()


@pytest.fixture
def number_block() -> Any:
    """``number_block()`` -> a prefix like "+3397123" free in this run; add two digits for a number.

    French VoIP numbers (09...): every one of them is valid, so any two digits make a real number.
    """

    def take() -> str:
        while True:
            prefix = f"+339{secrets.randbelow(10**6):06d}"
            if prefix not in _blocks_taken:
                _blocks_taken.add(prefix)
                return prefix

    return take
