"""Safeguards of the mailbox login (issue 14): the PIN staff hand over must be changed, a stranger
cannot lock a person out (growing locks, staff alerted at 20 failures, suspension only at 100),
the person hears how many wrong PINs were typed since their last login, and a brake on guessing
for the whole service answers "try again later" without checking anything.

Real calls from the carrier simulator, real DTMF, our real application on the pbx.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, select, update

from reconnect_pbx.models import AuditEvent, Credential, LoginFailure
from reconnect_pbx.pin_policy import generate_pin
from reconnect_pbx.services.credentials import verify_pin

import access_helpers
from access_helpers import MAIN_MENU, TYPED, credential, dial_access, log_in, star_in_greeting, wrong_pin

# Fixtures shared by the access tests.
person = access_helpers.person
no_pin_in_log = access_helpers.no_pin_in_log

pytestmark = pytest.mark.usefixtures("no_pin_in_log")


def audit_actions(session_factory, person) -> list[str]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.beneficiary_id == person.id, AuditEvent.action.like("pin.%"))
                .order_by(AuditEvent.id)
            )
        )


def set_failures(session_factory, person, failures: int) -> None:
    with session_factory() as session, session.begin():
        session.execute(update(Credential).where(Credential.beneficiary_id == person.id).values(failed_attempts=failures))


def metric(app, name: str, **labels: str) -> float:
    port = app.env["RECONNECT_METRICS_LISTEN_PORT"]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


async def choose_new_pin(call, new_pin: str) -> None:
    await call.until("enter-new-pin")
    await call.press(new_pin + "#")
    await call.until("reenter-new-pin")
    await call.press(new_pin + "#")


# -- the PIN handed over must be changed (item 6) -------------------------------------------------


async def test_after_a_pin_reset_the_menus_stay_closed_until_the_person_chooses_a_new_pin(
    running_app, carrier, observer, person, session_factory, cli_runner
):
    reset = cli_runner("pin", "reset", str(person.id), "--json")
    assert reset.exit_code == 0, reset.output
    given = json.loads(reset.stdout)["pin"]
    new_pin = generate_pin(6, own_number=person.number)
    TYPED.update({given, new_pin})

    # The PIN staff gave opens no menu: the call ends when no new PIN is chosen (* cancels).
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(given + "#")
    assert await call.until("enter-new-pin") == ["pin-change-required", "enter-new-pin"]
    await call.press("*")
    assert await call.until("goodbye") == ["entry-cancelled", "goodbye"]
    await call.wait_ended()
    assert "main-menu" not in call.names
    assert credential(session_factory, person).pin_must_change

    # Next login: still required; once chosen, the menu opens and the new PIN is the one.
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(given + "#")
    await call.until("pin-change-required")
    await choose_new_pin(call, new_pin)
    assert await call.until(MAIN_MENU[-1]) == ["pin-changed", "no-messages", *MAIN_MENU]
    await call.hang_up()
    after = credential(session_factory, person)
    assert not after.pin_must_change and verify_pin(after.pin_hash, new_pin)

    # And the login after that goes straight to the menu.
    call = await log_in(carrier, observer, person, pin=new_pin)
    assert "pin-change-required" not in call.names
    await call.hang_up()


# -- a stranger cannot lock the person out (item 4) ----------------------------------------------


async def test_twenty_failures_alert_staff_and_lock_for_an_hour_without_suspending_the_login(
    running_app, carrier, observer, person, session_factory
):
    set_failures(session_factory, person, 19)
    alerts_before = metric(running_app, "reconnect_login_alerts_total")

    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(wrong_pin(person.pin) + "#")
    assert await call.until("goodbye") == ["login-incorrect", "login-locked", "goodbye"]
    await call.wait_ended()

    after = credential(session_factory, person)
    assert not after.login_suspended and after.failed_attempts == 20
    assert timedelta(minutes=59) < after.locked_until - datetime.now(UTC) <= timedelta(hours=1)
    assert audit_actions(session_factory, person) == ["pin.alert", "pin.locked"]
    assert f"mailbox {person.mailbox_id}: 20 consecutive PIN failures: someone may be guessing" in running_app.log_text()
    assert metric(running_app, "reconnect_login_alerts_total") == alerts_before + 1


async def test_the_person_hears_how_many_wrong_pins_were_typed_since_their_last_login(
    running_app, carrier, observer, person, session_factory
):
    set_failures(session_factory, person, 3)
    call = await star_in_greeting(carrier, observer, person)
    await call.until("enter-pin")
    await call.press(person.pin + "#")
    assert await call.until(MAIN_MENU[-1]) == [
        "failed-logins-since", "number-3", "failed-logins-advice", "no-messages", *MAIN_MENU,
    ]
    await call.hang_up()

    # Told once: the next login says nothing.
    call = await log_in(carrier, observer, person)
    assert "failed-logins-since" not in call.names
    await call.hang_up()


# -- the brake on guessing (item 5) --------------------------------------------------------------


async def test_a_calling_number_past_its_failed_logins_hears_try_again_later_and_nothing_is_checked(
    running_app, carrier, observer, person, session_factory
):
    call = await dial_access(carrier, observer)
    await call.until("enter-personal-number")
    await call.press(person.national + "#")
    await call.until("enter-pin")
    await call.press(wrong_pin(person.pin) + "#")
    await call.until("login-incorrect")
    await call.hang_up()
    with session_factory() as session:
        # The calling number as the app saw it.
        caller = session.scalars(select(LoginFailure.caller_number).order_by(LoginFailure.id.desc())).first()
    assert caller and caller.endswith(call.caller[1:])
    braked_before = metric(running_app, "reconnect_login_braked_total", scope="caller")
    try:
        # Nine more failures from that number in the last minutes (the default limit is ten).
        with session_factory() as session, session.begin():
            session.add_all(LoginFailure(caller_number=caller, at=datetime.now(UTC)) for _ in range(9))

        again = await dial_access(carrier, observer, caller=call.caller)
        assert await again.until("goodbye") == ["login-try-later", "goodbye"]
        await again.wait_ended()
        assert credential(session_factory, person).failed_attempts == 1
        assert "login brake (this calling number): 10 failed logins" in running_app.log_text()
        assert metric(running_app, "reconnect_login_braked_total", scope="caller") == braked_before + 1

        # Another calling number is not braked.
        other = await log_in(carrier, observer, person, via="access")
        await other.hang_up()
    finally:
        with session_factory() as session, session.begin():
            session.execute(delete(LoginFailure).where(LoginFailure.caller_number == caller))


async def test_past_the_service_wide_rate_every_caller_hears_try_again_later(
    running_app, carrier, observer, person, session_factory
):
    marker = "e2e-brake-"
    try:
        with session_factory() as session, session.begin():
            session.add_all(
                LoginFailure(caller_number=f"{marker}{i}", at=datetime.now(UTC) - timedelta(minutes=1))
                for i in range(100)
            )
        call = await star_in_greeting(carrier, observer, person)
        await call.until("enter-pin")
        await call.press(person.pin + "#")
        assert await call.until("goodbye") == ["login-try-later", "goodbye"]
        await call.wait_ended()
        assert "login brake (whole service)" in running_app.log_text()
        assert metric(running_app, "reconnect_login_braked_total", scope="service") >= 1
    finally:
        with session_factory() as session, session.begin():
            session.execute(delete(LoginFailure).where(LoginFailure.caller_number.like(f"{marker}%")))
    # Once the failures are gone, the same person logs in.
    call = await log_in(carrier, observer, person)
    await call.hang_up()
