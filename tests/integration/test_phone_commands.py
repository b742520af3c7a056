"""``phone set``, ``clear``, ``follow``, ``confirm``, ``show``: the person's current phone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from reconnect_pbx.models import AuditEvent, CurrentPhone

MOBILE = "06 12 34 56 78"
MOBILE_E164 = "+33612345678"


def _phone(db_session, person) -> CurrentPhone | None:
    db_session.expire_all()
    return db_session.get(CurrentPhone, person["id"])


def _actions(db_session, person) -> list[str]:
    return list(
        db_session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.beneficiary_id == person["id"], AuditEvent.action.like("phone.%"))
            .order_by(AuditEvent.id)
        )
    )


def test_setting_a_mobile_stores_it_unconfirmed_asks_for_a_confirmation_call_and_audits_it(
    cli_runner, enrolled, db_session
) -> None:
    person = enrolled()
    result = cli_runner("phone", "set", str(person["id"]), MOBILE)
    assert result.exit_code == 0, result.output
    assert "not confirmed yet" in result.stdout
    phone = _phone(db_session, person)
    assert (phone.e164, phone.category, phone.follow, phone.set_by) == (MOBILE_E164, "mobile", True, "pytest")
    assert phone.confirmed_at is None and phone.confirmation_requested_at is not None
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "phone.set", AuditEvent.beneficiary_id == person["id"]))
    # The audit log never holds the full number.
    assert event.details["number"] == "+33612******" and MOBILE_E164 not in str(event.details)


def test_a_landline_and_a_box_line_are_accepted(cli_runner, enrolled, db_session) -> None:
    person = enrolled()
    assert cli_runner("phone", "set", person["number"], "0142685300").exit_code == 0
    assert _phone(db_session, person).category == "geographic"
    assert cli_runner("phone", "set", str(person["id"]), "+33 9 72 12 34 56").exit_code == 0
    assert _phone(db_session, person).category == "non-geographic"


@pytest.mark.parametrize(
    "number, reason",
    [
        ("0899123456", "premium-rate"),
        ("0810123456", "shared-cost"),
        ("3949", "short"),
        ("0262123456", "overseas"),
        ("+32470123456", "international"),
        ("+447911123456", "international"),
        ("0800123456", "free (0800)"),
        ("3919", "emergency"),
        ("06123", "not a valid"),
        ("06 12 34 56 78; rm", "not a valid"),
    ],
)
def test_a_number_the_policy_refuses_is_refused_with_a_clear_message_and_nothing_written(
    cli_runner, enrolled, unchanged, number, reason
) -> None:
    person = enrolled()
    with unchanged():
        result = cli_runner("phone", "set", str(person["id"]), number)
    assert result.exit_code == 2
    assert reason in result.stderr and "Traceback" not in result.stderr


def test_a_number_of_the_service_itself_is_refused(cli_runner, enrolled, unchanged) -> None:
    person, other = enrolled(), enrolled()
    with unchanged():
        result = cli_runner("phone", "set", str(person["id"]), other["number"])
    assert result.exit_code == 2 and "is a number of this service" in result.stderr


def test_follow_off_and_on_clear_and_confirm_are_audited(cli_runner, enrolled, db_session) -> None:
    person = enrolled()
    ref = str(person["id"])
    assert cli_runner("phone", "set", ref, MOBILE).exit_code == 0
    assert cli_runner("phone", "follow", ref, "off").exit_code == 0
    assert _phone(db_session, person).follow is False
    assert "follow off" in cli_runner("phone", "show", ref).stdout
    assert cli_runner("phone", "follow", ref, "on").exit_code == 0
    assert _phone(db_session, person).follow is True
    assert cli_runner("phone", "alerts", ref, "off").exit_code == 0
    assert _phone(db_session, person).alerts is False
    assert "alerts off" in cli_runner("phone", "show", ref).stdout
    assert cli_runner("phone", "confirm", ref).exit_code == 0
    assert cli_runner("phone", "clear", ref).exit_code == 0
    assert _phone(db_session, person) is None
    assert "no current phone" in cli_runner("phone", "show", ref).stdout
    assert _actions(db_session, person) == [
        "phone.set", "phone.follow-off", "phone.follow-on", "phone.alerts-off", "phone.confirm-requested",
        "phone.cleared",
    ]  # fmt: skip


def test_follow_or_clear_without_a_phone_is_refused(cli_runner, enrolled) -> None:
    person = enrolled()
    for args in (("follow", str(person["id"]), "on"), ("clear", str(person["id"]))):
        result = cli_runner("phone", *args)
        assert result.exit_code == 2 and "no current phone" in result.stderr


def test_closing_a_person_forgets_their_current_phone(cli_runner, enrolled, db_session) -> None:
    person = enrolled()
    assert cli_runner("phone", "set", str(person["id"]), MOBILE).exit_code == 0
    assert cli_runner("close", str(person["id"])).exit_code == 0
    assert _phone(db_session, person) is None


def test_the_export_of_a_person_holds_their_current_phone(cli_runner, enrolled) -> None:
    import json

    person = enrolled()
    assert cli_runner("phone", "set", str(person["id"]), MOBILE).exit_code == 0
    result = cli_runner("export", str(person["id"]), "--out", "-")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)["current_phone"]
    assert (exported["number"], exported["category"], exported["follow"], exported["confirmed_at"]) == (
        MOBILE_E164, "mobile", True, None,
    )
