"""show, list, suspend, resume, close."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from reconnect_pbx.models import AuditEvent, Beneficiary, BeneficiaryStatus, Credential, NumberAssignment


def _national(e164: str) -> str:
    return f"0{e164[3]} {e164[4:6]} {e164[6:8]} {e164[8:10]} {e164[10:]}"


@pytest.mark.parametrize("form", ["id", "e164", "national", "spaced international", "0033"])
def test_show_finds_a_person_by_id_or_number_in_any_form(cli_runner, enrolled, form) -> None:
    person = enrolled(name="Awa Diallo")
    e164 = person["number"]
    ref = {
        "id": str(person["id"]),
        "e164": e164,
        "national": _national(e164),
        "spaced international": "+33 " + _national(e164)[1:],
        "0033": "0033" + e164[3:],
    }[form]
    result = cli_runner("show", ref, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["id"], shown["display_name"], shown["e164"]) == (person["id"], "Awa Diallo", e164)
    assert (shown["status"], shown["language"], shown["new_messages"], shown["saved_messages"]) == ("active", "fr", 0, 0)
    assert shown["lock_state"] == "not locked"


def test_show_prints_fields_a_person_can_read(cli_runner, enrolled, centre) -> None:
    person = enrolled()
    text = cli_runner("show", str(person["id"])).stdout
    fields = dict(line.split(":", 1) for line in text.splitlines())
    assert fields["Status"].strip() == "active"
    assert fields["Centre"].strip() == centre
    assert fields["Number"].strip() == f"{_national(person['number'])} ({person['number']})"
    assert fields["Messages"].strip() == "0 new, 0 saved"
    assert fields["Lock"].strip() == "not locked"
    assert fields["PIN"].strip() == "as handed over: to be changed at the next login"


def test_show_tells_the_lock_state(cli_runner, enrolled, db_session) -> None:
    person = enrolled()
    until = datetime.now(timezone.utc) + timedelta(minutes=30)
    db_session.execute(update(Credential).where(Credential.beneficiary_id == person["id"]).values(failed_attempts=5, locked_until=until))
    db_session.commit()
    shown = json.loads(cli_runner("show", str(person["id"]), "--json").stdout)
    assert shown["failed_attempts"] == 5
    assert shown["lock_state"].startswith("locked until")
    db_session.execute(update(Credential).where(Credential.beneficiary_id == person["id"]).values(login_suspended=True))
    db_session.commit()
    assert "login suspended" in cli_runner("show", str(person["id"])).stdout


@pytest.mark.parametrize(
    ("ref", "message"),
    [("987654", "no person with id 987654"), ("+33999999999", "nobody holds or held number +33999999999"), ("hello", "neither a person id")],
)
def test_show_of_nobody_is_refused(cli_runner, ref, message) -> None:
    result = cli_runner("show", ref)
    assert result.exit_code == 2
    assert message in result.stderr


def test_list_filters_by_centre_and_status(cli_runner, enrolled, centre) -> None:
    active, suspended = enrolled(name="Active One"), enrolled(name="Suspended One")
    cli_runner("suspend", str(suspended["id"]))
    everyone = json.loads(cli_runner("list", "--centre", centre, "--json").stdout)
    assert [p["id"] for p in everyone] == [active["id"], suspended["id"]]
    assert everyone[0]["e164"] == active["number"]
    only = json.loads(cli_runner("list", "--centre", centre, "--status", "suspended", "--json").stdout)
    assert [p["id"] for p in only] == [suspended["id"]]
    table = cli_runner("list", "--centre", centre).stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "STATUS", "CENTRE", "NUMBER", "LANGUAGE", "ENROLLED"]
    assert len(table) == 4


def test_list_of_an_unknown_centre_is_refused(cli_runner) -> None:
    result = cli_runner("list", "--centre", "Nowhere At All")
    assert result.exit_code == 2


def test_suspend_then_resume(cli_runner, enrolled, db_session) -> None:
    person = enrolled()
    result = cli_runner("suspend", person["number"])
    assert (result.exit_code, result.stdout.strip()) == (0, f"person {person['id']} is now suspended")
    assert db_session.get(Beneficiary, person["id"]).status == BeneficiaryStatus.SUSPENDED
    db_session.expire_all()
    assert cli_runner("resume", str(person["id"])).exit_code == 0
    assert db_session.get(Beneficiary, person["id"]).status == BeneficiaryStatus.ACTIVE
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.beneficiary_id == person["id"]).order_by(AuditEvent.id)
    ).all()
    assert actions == ["beneficiary.enrol", "beneficiary.suspend", "beneficiary.resume"]


def test_suspending_twice_and_resuming_an_active_person_are_refused(cli_runner, enrolled, unchanged) -> None:
    person = enrolled()
    with unchanged():
        resumed = cli_runner("resume", str(person["id"]))
    assert (resumed.exit_code, resumed.stderr.strip()) == (2, f"Error: person {person['id']} is not suspended")
    cli_runner("suspend", str(person["id"]))
    with unchanged():
        again = cli_runner("suspend", str(person["id"]))
    assert (again.exit_code, again.stderr.strip()) == (2, f"Error: person {person['id']} is already suspended")


def test_close_ends_the_assignment_and_quarantines_the_number(cli_runner, enrolled, db_session) -> None:
    person = enrolled()
    cli_runner("suspend", str(person["id"]))  # a suspended person can be closed too
    result = cli_runner.invoke("close", person["number"], operator="bob")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"person {person['id']} closed"
    assert "in quarantine until" in result.stdout
    closed = db_session.get(Beneficiary, person["id"])
    assert closed.status == BeneficiaryStatus.CLOSED and closed.closed_at is not None
    assignment = db_session.scalar(select(NumberAssignment).where(NumberAssignment.beneficiary_id == person["id"]))
    assert assignment.ended_at is not None
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.beneficiary_id == person["id"], AuditEvent.action == "beneficiary.close"))
    assert (event.actor, event.details["number"]) == ("bob", person["number"])
    shown = json.loads(cli_runner("show", person["number"], "--json").stdout)
    assert shown["status"] == "closed" and shown["number_ended_at"] is not None


@pytest.mark.parametrize("command", [["close"], ["suspend"], ["resume"], ["pin", "reset"]])
def test_a_closed_person_cannot_be_changed_again(cli_runner, enrolled, unchanged, command) -> None:
    person = enrolled()
    cli_runner("close", str(person["id"]))
    for ref in (str(person["id"]), person["number"]):
        with unchanged():
            result = cli_runner(*command, ref)
        assert result.exit_code == 2
        assert f"person {person['id']}: already closed on" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
