"""centre add / list."""

from __future__ import annotations

import json

from sqlalchemy import select

from reconnect_pbx.models import AuditEvent, Centre


def test_an_added_centre_is_listed_with_its_empty_pool(cli_runner, unique_name) -> None:
    name = unique_name("Accueil")
    result = cli_runner("centre", "add", name, "--city", "Lyon", "--json")
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    listed = {c["name"]: c for c in json.loads(cli_runner("centre", "list", "--json").stdout)}
    assert listed[name]["id"] == added["id"]
    assert listed[name]["city"] == "Lyon"
    assert (listed[name]["numbers"], listed[name]["free_numbers"], listed[name]["active_people"]) == (0, 0, 0)


def test_centre_list_prints_an_aligned_table(cli_runner, centre) -> None:
    lines = cli_runner("centre", "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "CITY", "NUMBERS", "FREE", "ACTIVE", "PEOPLE"]
    assert set(lines[1]) <= {"-", " "}
    assert any(centre in line for line in lines[2:])


def test_adding_a_centre_is_audited_with_the_operator(cli_runner, unique_name, db_session) -> None:
    name = unique_name("Audited")
    assert cli_runner.invoke("centre", "add", name, operator="alice").exit_code == 0
    centre_id = db_session.scalar(select(Centre.id).where(Centre.name == name))
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "centre.add", AuditEvent.details["centre_id"].as_integer() == centre_id))
    assert event.actor == "alice"


def test_a_centre_name_taken_in_any_case_is_refused(cli_runner, centre, unchanged) -> None:
    with unchanged():
        result = cli_runner("centre", "add", centre.upper())
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: centre '{centre}' already exists"


def test_an_empty_centre_name_is_refused(cli_runner, unchanged) -> None:
    with unchanged():
        result = cli_runner("centre", "add", "   ")
    assert result.exit_code == 2
    assert "must not be empty" in result.stderr
