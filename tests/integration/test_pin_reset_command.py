"""pin reset: a new PIN shown once, the guessing counters cleared."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from reconnect_pbx.models import AuditEvent, Credential
from reconnect_pbx.pin_policy import check_pin
from reconnect_pbx.services.credentials import verify_pin


def test_pin_reset_gives_a_new_pin_and_clears_failures_lock_and_suspension(cli_runner, enrolled, db_session) -> None:
    person = enrolled()
    db_session.execute(
        update(Credential)
        .where(Credential.beneficiary_id == person["id"])
        .values(failed_attempts=21, locked_until=datetime.now(timezone.utc) + timedelta(hours=1), login_suspended=True)
    )
    db_session.commit()

    result = cli_runner.invoke("pin", "reset", person["number"], operator="carol")
    assert result.exit_code == 0, result.output
    new_pin = result.stdout.split(":")[1].split()[0]
    check_pin(new_pin, length=6, own_number=person["number"])

    db_session.expire_all()
    credential = db_session.get(Credential, person["id"])
    assert verify_pin(credential.pin_hash, new_pin)
    assert not verify_pin(credential.pin_hash, person["pin"]) or new_pin == person["pin"]
    assert (credential.failed_attempts, credential.locked_until, credential.login_suspended) == (0, None, False)
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.beneficiary_id == person["id"], AuditEvent.action == "pin.reset"))
    assert event.actor == "carol"
    assert event.details == {"failed_attempts": 21, "was_locked": True, "was_login_suspended": True}
    assert json.loads(cli_runner("show", str(person["id"]), "--json").stdout)["lock_state"] == "not locked"


def test_pin_reset_json(cli_runner, enrolled) -> None:
    person = enrolled()
    reset = json.loads(cli_runner("pin", "reset", str(person["id"]), "--json").stdout)
    assert reset["id"] == person["id"] and reset["number"] == person["number"] and len(reset["pin"]) == 6


def test_pin_reset_of_nobody_is_refused(cli_runner, unchanged) -> None:
    with unchanged():
        result = cli_runner("pin", "reset", "9999999")
    assert result.exit_code == 2
    assert "no person with id 9999999" in result.stderr
