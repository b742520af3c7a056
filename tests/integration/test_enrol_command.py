"""enrol: what it creates, what it prints, what it refuses, and the quarantine."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from reconnect_pbx.models import (
    AuditEvent,
    Beneficiary,
    BeneficiaryStatus,
    Credential,
    Language,
    Mailbox,
    NumberAssignment,
    NumberState,
    PhoneNumber,
)
from reconnect_pbx.pin_policy import check_pin
from reconnect_pbx.services.credentials import verify_pin


def test_enrol_gives_a_number_a_mailbox_and_a_pin_that_verifies(cli_runner, centre, pool, db_session) -> None:
    [number] = pool(centre, 1)
    result = cli_runner.invoke("enrol", "--centre", centre, "--name", "Marie Dupont", "--language", "en", operator="alice")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    national = f"0{number[3]} {number[4:6]} {number[6:8]} {number[8:10]} {number[10:12]}"
    assert lines[1].split() == ["Number:", *national.split(), f"({number})"]
    pin = lines[2].split()[1]
    check_pin(pin, length=6, own_number=number)

    person_id = int(lines[0].split()[2].rstrip(":"))
    person = db_session.get(Beneficiary, person_id)
    assert (person.display_name, person.status, person.language) == ("Marie Dupont", BeneficiaryStatus.ACTIVE, Language.EN)
    credential = db_session.get(Credential, person_id)
    assert credential.pin_hash.startswith("$pepper1$argon2id$")
    assert verify_pin(credential.pin_hash, pin)
    assert not verify_pin(credential.pin_hash, "000000")
    assert db_session.scalar(select(Mailbox).where(Mailbox.beneficiary_id == person_id)) is not None
    assignment = db_session.scalar(select(NumberAssignment).where(NumberAssignment.beneficiary_id == person_id))
    assert assignment.ended_at is None
    phone_number = db_session.get(PhoneNumber, assignment.phone_number_id)
    assert (phone_number.e164, phone_number.state) == (number, NumberState.ASSIGNED)
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.beneficiary_id == person_id))
    assert (event.action, event.actor, event.details["number"]) == ("beneficiary.enrol", "alice", number)


def test_enrol_json_gives_both_number_forms_and_the_pin(cli_runner, centre, pool) -> None:
    [number] = pool(centre, 1)
    result = cli_runner("enrol", "--centre", centre, "--name", "Jean", "--json")
    assert result.exit_code == 0, result.output
    enrolled = json.loads(result.stdout)
    assert enrolled["number"] == number
    assert enrolled["national"].replace(" ", "") == "0" + number[3:]
    assert len(enrolled["pin"]) == 6
    assert enrolled["language"] == "fr"


def test_the_pin_length_follows_the_settings(cli_runner, centre, pool) -> None:
    pool(centre, 1)
    result = cli_runner("enrol", "--centre", centre, "--name", "Long", "--json", env={"RECONNECT_PIN_LENGTH": "8"})
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["pin"]) == 8


def test_enrol_takes_the_number_asked_for_in_any_form(cli_runner, centre, pool) -> None:
    numbers = pool(centre, 3)
    written = f"0{numbers[2][3]} {numbers[2][4:6]} {numbers[2][6:8]} {numbers[2][8:10]} {numbers[2][10:]}"
    result = cli_runner("enrol", "--centre", centre, "--name", "Chosen", "--number", written, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["number"] == numbers[2]


def test_a_number_of_another_centres_pool_is_refused(cli_runner, centre, pool, unique_name, unchanged) -> None:
    other = unique_name("Other")
    cli_runner("centre", "add", other)
    [theirs] = pool(other, 1)
    pool(centre, 1)
    with unchanged():
        result = cli_runner("enrol", "--centre", centre, "--name", "X", "--number", theirs)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: number {theirs} belongs to the pool of centre '{other}', not '{centre}'"


def test_an_assigned_number_is_refused(cli_runner, enrolled, centre, unchanged) -> None:
    taken = enrolled()["number"]
    with unchanged():
        result = cli_runner("enrol", "--centre", centre, "--name", "X", "--number", taken)
    assert result.exit_code == 2
    assert f"number {taken} is already assigned" in result.stderr


def test_a_number_in_no_pool_is_refused(cli_runner, centre, pool, number_block, unchanged) -> None:
    pool(centre, 1)
    stranger = f"{number_block()}00"
    with unchanged():
        result = cli_runner("enrol", "--centre", centre, "--name", "X", "--number", stranger)
    assert result.exit_code == 2
    assert f"number {stranger} is in no pool" in result.stderr


def test_a_malformed_number_is_refused(cli_runner, centre, unchanged) -> None:
    with unchanged():
        result = cli_runner("enrol", "--centre", centre, "--name", "X", "--number", "01 42")
    assert result.exit_code == 2
    assert "not a valid number" in result.stderr


def test_enrolling_into_an_empty_pool_is_refused(cli_runner, centre, unchanged) -> None:
    with unchanged():
        result = cli_runner("enrol", "--centre", centre, "--name", "X")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: no free number left in the pool of centre '{centre}' (see `numbers import`)"
    assert result.stdout == ""


def test_an_unknown_centre_is_refused(cli_runner, unchanged) -> None:
    with unchanged():
        result = cli_runner("enrol", "--centre", "Nowhere At All", "--name", "X")
    assert result.exit_code == 2
    assert "unknown centre 'Nowhere At All'" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--name", "X", "--language", "de"], "Invalid value for '--language'"),
        (["--name", "  "], "name must not be empty"),
        ([], "Missing option '--name'"),
    ],
)
def test_bad_options_are_refused(cli_runner, centre, pool, unchanged, options, message) -> None:
    pool(centre, 1)
    with unchanged():
        result = cli_runner("enrol", "--centre", centre, *options)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_closed_persons_number_is_quarantined_then_free_again(cli_runner, centre, pool, db_session) -> None:
    [number] = pool(centre, 1)
    first = json.loads(cli_runner("enrol", "--centre", centre, "--name", "First", "--json").stdout)
    closed = json.loads(cli_runner("close", str(first["id"]), "--json").stdout)
    until = datetime.fromisoformat(closed["quarantine_until"])
    assert timedelta(days=89, hours=23) < until - datetime.now(timezone.utc) <= timedelta(days=90)

    refused = cli_runner("enrol", "--centre", centre, "--name", "Second")
    assert refused.exit_code == 2
    assert "no free number" in refused.stderr
    asked = cli_runner("enrol", "--centre", centre, "--name", "Second", "--number", number)
    assert asked.exit_code == 2
    assert f"number {number} is in quarantine until" in asked.stderr

    db_session.execute(
        update(PhoneNumber).where(PhoneNumber.e164 == number).values(quarantine_until=datetime.now(timezone.utc) - timedelta(minutes=1))
    )
    db_session.commit()
    second = json.loads(cli_runner("enrol", "--centre", centre, "--name", "Second", "--json").stdout)
    assert second["number"] == number
    assert second["id"] != first["id"]


def test_fresh_numbers_are_given_before_numbers_out_of_quarantine(cli_runner, centre, pool, db_session) -> None:
    numbers = pool(centre, 2)
    first = json.loads(cli_runner("enrol", "--centre", centre, "--name", "First", "--number", numbers[0], "--json").stdout)
    cli_runner("close", str(first["id"]))
    db_session.execute(
        update(PhoneNumber).where(PhoneNumber.e164 == numbers[0]).values(quarantine_until=datetime.now(timezone.utc) - timedelta(days=1))
    )
    db_session.commit()
    second = json.loads(cli_runner("enrol", "--centre", centre, "--name", "Second", "--json").stdout)
    assert second["number"] == numbers[1]


def test_the_quarantine_length_follows_the_settings(cli_runner, enrolled) -> None:
    person = enrolled()
    result = cli_runner("close", str(person["id"]), "--json", env={"RECONNECT_NUMBERS_QUARANTINE_DAYS": "10"})
    until = datetime.fromisoformat(json.loads(result.stdout)["quarantine_until"])
    assert timedelta(days=9, hours=23) < until - datetime.now(timezone.utc) <= timedelta(days=10)


def test_the_access_number_is_never_given_to_a_person(cli_runner, centre, pool, unchanged) -> None:
    # A pool imported before the access number was configured holds it.
    access_number, other = pool(centre, 2)
    access = {"RECONNECT_ACCESS_ACCESS_NUMBER": access_number}
    with unchanged():
        chosen = cli_runner("enrol", "--centre", centre, "--name", "Chosen", "--number", access_number, env=access)
    assert chosen.exit_code == 2
    assert chosen.stderr.strip() == f"Error: number {access_number} is the access number, not a personal number"

    given = cli_runner("enrol", "--centre", centre, "--name", "Any", "--json", env=access)
    assert given.exit_code == 0, given.output
    assert json.loads(given.stdout)["number"] == other
    exhausted = cli_runner("enrol", "--centre", centre, "--name", "Next", env=access)
    assert exhausted.exit_code != 0
    assert "no free number left" in exhausted.stderr
