"""Integration fixtures: the CLI as a real process, pools to enrol from, and a database fingerprint
that proves a refused command wrote nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from reconnect_pbx.db import make_engine

_CONSOLE_SCRIPT = Path(sys.executable).parent / "reconnect-pbx"


def reconnect_pbx_command() -> list[str]:
    if _CONSOLE_SCRIPT.exists():
        return [str(_CONSOLE_SCRIPT)]
    return [sys.executable, "-c", "from reconnect_pbx.cli import main; main()"]


@pytest.fixture
def reconnect_pbx_argv() -> list[str]:
    """The command line that starts ``reconnect-pbx`` as its own process."""
    return reconnect_pbx_command()


@pytest.fixture
def cli_process(database_url: str, empty_config_file: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs ``reconnect-pbx`` as its own process: ``cli_process("list", database_url=...)``."""

    def run(*args: str, database_url: str = database_url, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("RECONNECT_")}
        full_env.update(RECONNECT_DATABASE_URL=database_url, RECONNECT_CONFIG=str(empty_config_file), **(env or {}))
        return subprocess.run(
            [*reconnect_pbx_command(), "--operator", "pytest", *args],
            env=full_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def database_fingerprint(engine: Engine) -> dict[str, str]:
    """One digest of every row of every table."""
    with engine.connect() as connection:
        tables = connection.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).all()
        return {
            table: connection.scalar(
                text(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t")
            )
            for table in tables
        }


@pytest.fixture
def unchanged(db_engine: Engine) -> Callable[[], Any]:
    """``with unchanged(): ...`` fails if the block changed any row of the database."""
    import contextlib

    @contextlib.contextmanager
    def check():  # type: ignore[no-untyped-def]
        before = database_fingerprint(db_engine)
        yield
        after = database_fingerprint(db_engine)
        changed = sorted(t for t in before if before[t] != after.get(t))
        assert not changed, f"tables changed: {changed}"

    return check


@pytest.fixture
def centre(cli_runner: Any, unique_name: Callable[[str], str]) -> str:
    name = unique_name("Centre")
    result = cli_runner("centre", "add", name, "--city", "Paris")
    assert result.exit_code == 0, result.output
    return name


@pytest.fixture
def pool(cli_runner: Any, number_block: Callable[[], str]) -> Callable[..., list[str]]:
    """``pool(centre, 3)`` imports 3 fresh numbers into the centre's pool and returns them (E.164)."""

    def make(centre_name: str, size: int) -> list[str]:
        prefix = number_block()
        numbers = [f"{prefix}{i:02d}" for i in range(size)]
        result = cli_runner("numbers", "import", "-", "--centre", centre_name, input="\n".join(numbers) + "\n")
        assert result.exit_code == 0, result.output + result.stderr
        return numbers

    return make


@pytest.fixture
def enrolled(cli_runner: Any, centre: str, pool: Callable[..., list[str]]) -> Callable[..., dict[str, Any]]:
    """``enrolled()`` enrols one person into a one-number pool of ``centre``; returns the JSON output."""
    import json

    def make(**options: str) -> dict[str, Any]:
        pool(centre, 1)
        args = ["enrol", "--centre", centre, "--name", options.get("name", "Test Person"), "--json"]
        result = cli_runner(*args)
        assert result.exit_code == 0, result.output + result.stderr
        return json.loads(result.stdout)

    return make


@pytest.fixture
def other_engine() -> Callable[[str], Engine]:
    engines: list[Engine] = []

    def make(url: str) -> Engine:
        engine = make_engine(url)
        engines.append(engine)
        return engine

    yield make  # type: ignore[misc]
    for engine in engines:
        engine.dispose()
