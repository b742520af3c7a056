"""Refused destinations: the person hears why, the attempt is recorded, and nothing is dialled.

"Nothing is dialled" is checked twice: the carrier simulator receives no call from the pbx, and the
pbx creates no channel at all after the person typed the number (an observer subscribed to every
channel counts ``ChannelCreated``).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from reconnect_pbx.models import AuditEvent

import access_helpers
from access_helpers import LAST_MESSAGE_MENU, MAIN_MENU, log_in, store
from observer import PbxObserver
from test_callback_calls import LANDLINE, calls_from_pbx, outbound_records

# An enrolled, onboarded person who knows their PIN (the access tests' fixture).
person = access_helpers.person


def created_channels(observer: PbxObserver) -> list[dict[str, Any]]:
    """Every channel the pbx created since the observer started watching for them."""
    created = getattr(observer, "callback_created_channels", None)
    if created is None:
        created = observer.callback_created_channels = []
        observer.client.events.on("ChannelCreated", lambda event: created.append(event.data))
    return created


@pytest.mark.parametrize(
    ("typed", "prompt", "decision"),
    [
        ("0899123456", "destination-refused-premium", "refused:premium"),
        ("0820123456", "destination-refused-premium", "refused:premium"),
        ("0810123456", "destination-refused-special", "refused:shared-cost"),
        ("3949", "destination-refused-short", "refused:short"),
        ("118712", "destination-refused-short", "refused:short"),
        ("1016", "destination-refused-short", "refused:short"),
        ("00442079460000", "destination-refused-international", "refused:international"),
        ("0262201234", "destination-refused-overseas", "refused:overseas"),
        ("0612345678", "destination-refused-mobile", "refused:mobile"),
        ("0142", "destination-refused-invalid", "refused:invalid"),
        ("112", "emergency-dial-directly", "refused:emergency"),
        ("115", "emergency-dial-directly", "refused:emergency"),
    ],
)
async def test_a_refused_number_is_explained_and_never_dialled(
    running_app, carrier, observer, person, session_factory, typed, prompt, decision
):
    created = created_channels(observer)
    call = await log_in(carrier, observer, person)
    since, channels_before = carrier.mark(), len(created)
    await call.press("2")
    await call.until("enter-number-to-call")
    await call.press(typed + "#")
    assert await call.until(MAIN_MENU[-1]) == [prompt, *MAIN_MENU]
    # The flow is back in its menu, past any dialling: the observer, which receives the pbx's events
    # in order, would already have seen a channel it created; and without one, no call reached the
    # carrier.
    assert calls_from_pbx(carrier, since) == []
    assert created[channels_before:] == []
    records = outbound_records(session_factory, person)
    assert [(r.outcome, r.policy_decision, r.billable_seconds) for r in records] == [("refused", decision, 0)]
    assert records[0].caller_number == person.number
    await call.hang_up()


async def test_a_caller_number_carrying_a_dial_string_is_refused_as_withheld(
    running_app, carrier, observer, person, session_factory
):
    # Not E.164, so no number at all: refused as a withheld caller (it never counts towards the
    # suspension), and nothing of it reaches a dial string.
    injected = "0142685300&PJSIP/08991234@trunk"  # the message column holds 32 characters
    store(session_factory, person, caller=injected)
    created = created_channels(observer)
    call = await log_in(carrier, observer, person)
    since, channels_before = carrier.mark(), len(created)
    await call.press("1")
    await call.until("message")
    await call.press("2")
    played = await call.until(LAST_MESSAGE_MENU[-1])
    assert played[-3:] == ["destination-refused-withheld", *LAST_MESSAGE_MENU]
    # The flow is back in its menu, past any dialling: the observer, which receives the pbx's events
    # in order, would already have seen a channel it created; and without one, no call reached the
    # carrier.
    assert calls_from_pbx(carrier, since) == []
    assert created[channels_before:] == []
    [record] = outbound_records(session_factory, person)
    assert (record.outcome, record.policy_decision, record.called_number) == ("refused", "refused:withheld", None)
    await call.hang_up()


async def call_back_is_refused_as_withheld(call, carrier, since, session_factory, person):  # type: ignore[no-untyped-def]
    """'2' on the message: refused as withheld, nothing dialled, one refused record; then hang up."""
    await call.press("2")
    played = await call.until(LAST_MESSAGE_MENU[-1])
    assert played[-3:] == ["destination-refused-withheld", *LAST_MESSAGE_MENU]
    assert calls_from_pbx(carrier, since) == []
    assert [(r.outcome, r.policy_decision) for r in outbound_records(session_factory, person)] == [
        ("refused", "refused:withheld")
    ]
    await call.hang_up()


async def test_a_withheld_caller_cannot_be_called_back(running_app, carrier, observer, person, session_factory):
    store(session_factory, person, caller=None)
    since = carrier.mark()
    call = await log_in(carrier, observer, person)
    await call.press("1")
    await call.until("unknown-caller")
    await call_back_is_refused_as_withheld(call, carrier, since, session_factory, person)


@pytest.mark.parametrize("stored", ["anonymous", "01 42 68 53 00"])
async def test_a_stored_caller_that_is_not_e164_is_said_and_treated_as_withheld(
    running_app, carrier, observer, person, session_factory, stored
):
    # Written by an older version or imported: the envelope used to fail ("technical problem").
    store(session_factory, person, caller=stored)
    since = carrier.mark()
    call = await log_in(carrier, observer, person)
    await call.press("1")
    played = await call.until("unknown-caller")
    assert "technical-problem" not in played
    await call_back_is_refused_as_withheld(call, carrier, since, session_factory, person)


@pytest.mark.serve_errors(
    r"ERROR reconnect_pbx\.services\.outbound: ALERT outgoing calls of beneficiary \d+ suspended",
    reason="the alert to staff that this test causes is an ERROR line by design",
)
async def test_repeated_refused_numbers_suspend_outgoing_calls_with_an_alert(
    running_app, carrier, observer, person, session_factory
):
    # callback.refusals_before_suspension = 4 in the test configuration.
    since = carrier.mark()
    call = await log_in(carrier, observer, person)
    for attempt in range(4):
        await call.press("2")
        await call.until("enter-number-to-call")
        await call.press("0899123456#")
        played = await call.until(MAIN_MENU[-1])
        expected = ["destination-refused-premium", *(["outbound-suspended"] if attempt == 3 else []), *MAIN_MENU]
        assert played == expected
    # Even a landline is refused now, and nothing reaches the carrier.
    await call.press("2")
    await call.until("enter-number-to-call")
    await call.press(LANDLINE + "#")
    assert await call.until(MAIN_MENU[-1]) == ["outbound-suspended", *MAIN_MENU]
    assert calls_from_pbx(carrier, since) == []
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.beneficiary_id == person.id)).all()
    suspended = [e for e in events if e.action == "outbound.suspended"]
    assert [(e.actor, e.details["refused_destinations"]) for e in suspended] == [("system", 4)]
    assert f"ALERT outgoing calls of beneficiary {person.id} suspended" in running_app.log_text()
    assert [r.outcome for r in outbound_records(session_factory, person)] == ["refused"] * 4
    await call.hang_up()
