"""A generated PIN is printed once and found nowhere else: not in the database, the audit log or the logs."""

from __future__ import annotations

import json
import logging

from sqlalchemy import text


def _text_columns(connection) -> list[tuple[str, str, str]]:
    return connection.execute(
        text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'"
            " AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea') ORDER BY 1, 2"
        )
    ).all()


def _places_holding(engine, needle: str) -> list[str]:
    """Every text, JSON or binary column of every table that holds ``needle``."""
    found = []
    with engine.connect() as connection:
        for table, column, data_type in _text_columns(connection):
            where = (
                f"position(convert_to(:needle, 'UTF8') in \"{column}\") > 0"
                if data_type == "bytea"
                else f"position(:needle in \"{column}\"::text) > 0"
            )
            hits = connection.scalar(text(f'SELECT count(*) FROM "{table}" WHERE {where}'), {"needle": needle})
            if hits:
                found.append(f"{table}.{column}")
    return found


def test_no_generated_pin_is_stored_audited_or_logged(fresh_database_url, cli_runner, other_engine, cli_process, caplog) -> None:
    cli = cli_runner.with_database(fresh_database_url)
    assert cli("centre", "add", "Secrets").exit_code == 0
    assert cli("numbers", "import", "--range", "09 71 00 00 00", "09 71 00 00 02", "--centre", "Secrets").exit_code == 0

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # SQL statements and their parameters
    pins = []
    for name in ("Un", "Deux"):
        result = cli("--debug", "enrol", "--centre", "Secrets", "--name", name, "--json")
        assert result.exit_code == 0, result.output
        pins.append(json.loads(result.stdout)["pin"])
        assert pins[-1] not in result.stderr
    reset = cli("--debug", "pin", "reset", "09 71 00 00 00", "--json")
    pins.append(json.loads(reset.stdout)["pin"])

    # As its own process too, with every log line on stderr.
    done = cli_process("--debug", "enrol", "--centre", "Secrets", "--name", "Trois", "--json", database_url=fresh_database_url)
    assert done.returncode == 0, done.stderr
    pins.append(json.loads(done.stdout)["pin"])
    assert "INSERT INTO credentials" in done.stderr  # the logs did include the statements
    assert pins[-1] not in done.stderr

    logged = caplog.text  # before the scan below, which logs the PINs it looks for
    assert "INSERT INTO credentials" in logged
    engine = other_engine(fresh_database_url)
    for pin in pins:
        assert pin not in logged
        assert _places_holding(engine, pin) == [], pin
    # The scan itself works: it finds what is there.
    assert "audit_events.details" in _places_holding(engine, "Secrets")
