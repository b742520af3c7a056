"""db upgrade / current / check, and commands on a database that is down or not migrated."""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import Column, Integer, Table, inspect

from reconnect_pbx.models import Base
from reconnect_pbx.services import schema


def test_db_current_shows_the_database_at_head(cli_runner) -> None:
    result = cli_runner("db", "current", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["up_to_date"] is True
    assert found["current"] in found["heads"]
    assert "(head)" in cli_runner("db", "current").stdout


def test_db_upgrade_of_a_current_database_changes_nothing(cli_runner, unchanged) -> None:
    with unchanged():
        result = cli_runner("db", "upgrade")
    assert result.exit_code == 0
    assert "already at" in result.stdout


def test_db_check_passes_when_models_and_migrations_agree(cli_runner) -> None:
    result = cli_runner("db", "check")
    assert result.exit_code == 0, result.output
    assert "agree" in result.stdout


def test_db_check_fails_when_a_model_has_no_migration(cli_runner) -> None:
    extra = Table("not_migrated_yet", Base.metadata, Column("id", Integer, primary_key=True))
    try:
        result = cli_runner("db", "check")
    finally:
        Base.metadata.remove(extra)
    assert result.exit_code == 1
    assert "disagree" in result.stderr
    assert "not_migrated_yet" in result.stderr
    assert "Traceback" not in result.output


def test_db_upgrade_builds_every_table_of_the_models(empty_database_url, cli_runner, other_engine) -> None:
    cli = cli_runner.with_database(empty_database_url)
    assert "no schema" in cli("db", "current").stdout
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "upgraded from nothing to" in result.stdout
    tables = set(inspect(other_engine(empty_database_url)).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert cli("db", "check").exit_code == 0


def test_db_check_on_a_database_without_schema_asks_for_an_upgrade(empty_database_url, cli_runner) -> None:
    result = cli_runner.with_database(empty_database_url)("db", "check")
    assert result.exit_code == 1
    assert "db upgrade" in result.stderr


@pytest.mark.parametrize("args", [("list",), ("enrol", "--centre", "X", "--name", "Y")])
def test_commands_on_a_database_without_schema_fail_with_one_line(empty_database_url, cli_process, args) -> None:
    done = cli_process(*args, database_url=empty_database_url)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["Error: the database has no schema: run `reconnect-pbx db upgrade`"]
    assert done.stdout == ""


@pytest.mark.parametrize(
    "args", [("centre", "list"), ("centre", "add", "X"), ("show", "1"), ("pin", "reset", "1"), ("messages", "list", "1")]
)
def test_every_command_refuses_a_database_without_schema(empty_database_url, cli_runner, args) -> None:
    result = cli_runner.with_database(empty_database_url)(*args)
    assert result.exit_code == 1
    assert "no schema" in result.stderr


def test_a_database_behind_the_code_is_refused(empty_database_url, cli_process, other_engine) -> None:
    engine = other_engine(empty_database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        connection.exec_driver_sql("INSERT INTO alembic_version VALUES ('0000old')")
    done = cli_process("list", database_url=empty_database_url)
    assert done.returncode == 1
    assert "at migration 0000old" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("args", [("list",), ("enrol", "--centre", "X", "--name", "Y"), ("db", "upgrade")])
def test_commands_on_an_unreachable_database_fail_with_one_line(cli_process, args) -> None:
    url = f"postgresql+psycopg2://postgres:secret@127.0.0.1:{_closed_port()}/reconnect"
    done = cli_process(*args, database_url=url, timeout=30)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: cannot reach the database")
    assert "secret" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ("centre", "add", "X"),
        ("numbers", "import", "--range", "0142685300", "0142685309", "--centre", "X"),
        ("pin", "reset", "1"),
        ("db", "current"),
        ("db", "check"),
    ],
)
def test_every_command_refuses_an_unreachable_database(cli_runner, args) -> None:
    result = cli_runner.with_database(f"postgresql+psycopg2://postgres@127.0.0.1:{_closed_port()}/reconnect")(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot reach the database")


def test_a_malformed_database_url_is_a_configuration_error(cli_process) -> None:
    done = cli_process("list", database_url="not a url")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: configuration:")


def test_a_bad_setting_is_a_one_line_configuration_error(cli_process) -> None:
    done = cli_process("list", env={"RECONNECT_PIN_LENGTH": "3"})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["Error: configuration: pin.length must be at least 4, got 3"]


def test_schema_check_names_the_difference(database_url) -> None:
    extra = Table("another_table", Base.metadata, Column("id", Integer, primary_key=True))
    try:
        with pytest.raises(schema.SchemaMismatch, match="another_table"):
            schema.check(database_url)
    finally:
        Base.metadata.remove(extra)
