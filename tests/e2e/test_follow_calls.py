"""The number follows the person: a call to the personal number rings their current phone first.

Real calls both ways: the carrier simulator places the caller's call to the personal number, and
plays the person's mobile when our application calls it (answers, is busy, does not answer, presses
1). The test configuration rings the phone 5 s and waits 3 s for the 1 (``FOLLOW_TEST_SETTINGS``).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.models import AuditEvent, CallDirection, CallRecord, CurrentPhone, PendingAlert
from reconnect_pbx.services import current_phone
from reconnect_pbx.config import CallbackSettings

import access_helpers
from access_helpers import messages, new_caller
from deposit_helpers import Person, leave_message, media_names
from harness import AriApp, CarrierCall, place_call
from observer import PbxObserver
from test_metrics import scrape, value
from test_callback_calls import HEARD, PERSON_SPEAKS, FarEnd, calls_from_pbx, hears, is_call_from_pbx

person = access_helpers.person


def new_mobile() -> str:
    return f"+33612{secrets.randbelow(10**6):06d}"


def give_phone(
    session_factory: sessionmaker[Session], person: Person, *, confirmed: bool = True, follow: bool = True,
    alerts: bool = False,
) -> str:
    """The person's current phone, set as staff would (without the confirmation call); alerts off
    unless asked (a message stored would call the phone again)."""
    mobile = new_mobile()
    with session_factory() as session, session.begin():
        current_phone.set_phone(session, person.id, mobile, actor="e2e", rules=CallbackSettings(), now=datetime.now(UTC))
        session.execute(
            update(CurrentPhone)
            .where(CurrentPhone.beneficiary_id == person.id)
            .values(
                confirmation_requested_at=None,
                confirmed_at=datetime.now(UTC) if confirmed else None,
                follow=follow,
                alerts=alerts,
            )
        )
    return mobile


async def phone_rings(carrier: AriApp, mobile: str, since: int, timeout: float = 15) -> FarEnd:
    """The call our application placed to ``mobile``, as the carrier receives it."""
    start = await carrier.wait_event(
        "StasisStart", lambda e: is_call_from_pbx(e) and e["args"][1:] == [mobile], since=since, timeout=timeout
    )
    return FarEnd(carrier, start["channel"]["id"], start, carrier.events.index(start))


def follow_records(session_factory: sessionmaker[Session], person: Person, flow: str = "follow") -> list[CallRecord]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(CallRecord)
                .where(CallRecord.beneficiary_id == person.id, CallRecord.flow == flow,
                       CallRecord.direction == CallDirection.OUTBOUND)
                .order_by(CallRecord.id)
            )
        )


async def wait_follow_ended(session_factory: sessionmaker[Session], person: Person, flow: str = "follow") -> CallRecord:
    async with asyncio.timeout(20):
        while True:
            records = follow_records(session_factory, person, flow)
            if records and records[-1].ended_at is not None:
                return records[-1]
            await asyncio.sleep(0.1)


async def call_person(carrier: AriApp, person: Person, caller: str | None = None, *, withheld: bool = False) -> CarrierCall:
    return await place_call(carrier, person.national, caller or new_caller(), withheld=withheld)


async def until_greeting(observer: PbxObserver, caller: str) -> list[str]:
    observed = await observer.call_from(caller, timeout=15)
    async with asyncio.timeout(20):
        while "greeting-default-intro" not in media_names(observed.media):
            await asyncio.sleep(0.05)
    return media_names(observed.media)


async def press(far: FarEnd, digit: str) -> None:
    await far.carrier.post(f"/channels/{far.channel}/dtmf", dtmf=digit, duration=100)


async def pbx_channels(observer: PbxObserver) -> list[dict[str, Any]]:
    return await observer.client.list_channels()


# -- tests -------------------------------------------------------------------------------------


async def test_answered_and_1_connects_the_caller_and_the_person_and_stores_nothing(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person)
    caller = new_caller()
    since = carrier.mark()
    call = await call_person(carrier, person, caller)
    far = await phone_rings(carrier, mobile, since)
    # The phone shows the caller (E.164), the personal number comes in a Diversion header.
    assert await far.variable("CALLERID(num)") == "+33" + caller[1:]
    diversion = await far.variable("PJSIP_HEADER(read,Diversion)")
    assert person.number in diversion and "reason=follow-me" in diversion, diversion
    await far.answer()
    # The person hears who is calling (the caller's number) and for which service, then the key.
    leg = await observer.call_from("+33" + caller[1:])
    async with asyncio.timeout(10):
        while "follow-press-1" not in media_names(leg.media):
            await asyncio.sleep(0.05)
    heard = media_names(leg.media)
    assert heard[0] == "follow-call-from" and heard[-1] == "follow-press-1" and len(heard) > 2
    await press(far, "1")
    await call.wait_answered(timeout=15)
    await far.play()
    await call.play(PERSON_SPEAKS)
    caller_hears, person_hears = await asyncio.gather(hears(carrier, call.channel), hears(carrier, far.channel))
    assert caller_hears > HEARD, "the caller hears nothing of the person"
    assert person_hears > HEARD, "the person hears nothing of the caller"
    await far.hang_up()
    observed = await observer.call_from(caller)
    await asyncio.wait_for(observed.ended.wait(), 10)
    record = await wait_follow_ended(session_factory, person)
    assert (record.outcome, record.called_number, record.caller_number) == ("completed", mobile, person.number)
    assert record.billable_seconds >= 1
    assert messages(session_factory, person) == []
    # The caller heard nothing of ours: no greeting, no prompt.
    assert observed.media == []


async def test_a_followed_call_warns_the_person_then_is_cut_at_the_limit(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person)
    caller = new_caller()
    since = carrier.mark()
    call = await call_person(carrier, person, caller)
    far = await phone_rings(carrier, mobile, since)
    await far.answer()
    leg = await observer.call_from("+33" + caller[1:])
    async with asyncio.timeout(10):
        while "follow-press-1" not in media_names(leg.media):
            await asyncio.sleep(0.05)
    await press(far, "1")
    await call.wait_answered(timeout=15)
    # max_call_seconds 10, the warning 3 s before the cut (app_process.CALLBACK_TEST_LIMITS).
    await far.wait_gone(timeout=30)
    record = await wait_follow_ended(session_factory, person)
    assert record.outcome == "cut"
    heard = media_names(leg.media)
    assert heard[heard.index("follow-press-1") + 1:] == ["call-limit-warning"], heard
    # The caller heard nothing of ours, the warning neither.
    observed = await observer.call_from(caller)
    await asyncio.wait_for(observed.ended.wait(), 15)
    assert observed.media == []
    assert messages(session_factory, person) == []


async def test_answered_without_a_key_gives_the_caller_the_greeting_and_the_message_is_stored(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person)
    caller = new_caller()
    since = carrier.mark()
    call = await call_person(carrier, person, caller)
    far = await phone_rings(carrier, mobile, since)
    await far.answer()  # the mobile's own voicemail: it says nothing we understand
    await far.wait_gone(timeout=15)
    assert "greeting-default-intro" in await until_greeting(observer, caller)
    observed = await observer.call_from(caller)
    async with asyncio.timeout(20):
        while not observed.recordings:
            await asyncio.sleep(0.05)
    await call.say("sound:test/speech-4s")
    await call.hangup()
    await running_app.wait_call_done(observed.channel_id)
    assert len(messages(session_factory, person)) == 1
    record = await wait_follow_ended(session_factory, person)
    assert record.outcome == "not-taken" and record.answered_at is not None


async def test_a_busy_phone_sends_the_caller_to_the_greeting(running_app, carrier, observer, person, session_factory):
    mobile = give_phone(session_factory, person)
    caller = new_caller()
    since = carrier.mark()
    call = await call_person(carrier, person, caller)
    far = await phone_rings(carrier, mobile, since)
    await far.reject("busy")
    assert "greeting-default-intro" in await until_greeting(observer, caller)
    await call.hangup()
    assert (await wait_follow_ended(session_factory, person)).outcome == "busy"


async def test_an_unanswered_phone_rings_for_ring_seconds_then_the_greeting(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person)
    caller = new_caller()
    since = carrier.mark()
    call = await call_person(carrier, person, caller)
    far = await phone_rings(carrier, mobile, since)
    await far.ring()
    stopped = await far.wait_gone(timeout=15)
    assert 4 <= stopped - far.arrived <= 7  # follow.ring_seconds = 5
    assert "greeting-default-intro" in await until_greeting(observer, caller)
    await call.hangup()
    record = await wait_follow_ended(session_factory, person)
    assert (record.outcome, record.billable_seconds) == ("no-answer", 0)


async def test_an_unreachable_phone_sends_the_caller_to_the_greeting(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person)
    caller = new_caller()
    since = carrier.mark()
    call = await call_person(carrier, person, caller)
    far = await phone_rings(carrier, mobile, since)
    await far.reject("congestion")
    assert "greeting-default-intro" in await until_greeting(observer, caller)
    await call.hangup()
    assert (await wait_follow_ended(session_factory, person)).outcome == "failed"


async def test_a_caller_who_hangs_up_while_the_phone_rings_leaves_nothing(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person)
    caller = new_caller()
    since = carrier.mark()
    call = await call_person(carrier, person, caller)
    far = await phone_rings(carrier, mobile, since)
    await far.ring()
    observed = await observer.call_from(caller)
    await call.hangup()
    await far.wait_gone(timeout=10)
    await running_app.wait_call_done(observed.channel_id)
    record = await wait_follow_ended(session_factory, person)
    assert (record.outcome, record.billable_seconds) == ("cancelled", 0)
    assert messages(session_factory, person) == []
    left = [c["id"] for c in await pbx_channels(observer)]
    assert observed.channel_id not in left and record.channel_id not in left


async def test_a_withheld_caller_shows_the_personal_number_on_the_phone(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person)
    since = carrier.mark()
    call = await call_person(carrier, person, withheld=True)
    far = await phone_rings(carrier, mobile, since)
    assert await far.variable("CALLERID(num)") == person.number
    await far.answer()
    leg = await observer.call_from(person.number)
    async with asyncio.timeout(10):
        while "follow-press-1" not in media_names(leg.media):
            await asyncio.sleep(0.05)
    assert media_names(leg.media) == ["follow-caller-withheld", "follow-press-1"]
    await far.hang_up()  # not taken: the greeting
    await call.wait_answered(timeout=15)
    await call.hangup()
    assert (await wait_follow_ended(session_factory, person)).outcome == "not-taken"


async def test_follow_off_or_an_unconfirmed_phone_is_not_rung(running_app, carrier, observer, enrol, session_factory):
    for options in ({"follow": False}, {"confirmed": False}):
        someone = enrol()
        give_phone(session_factory, someone, **options)
        caller = new_caller()
        since = carrier.mark()
        call = await call_person(carrier, someone, caller)
        await until_greeting(observer, caller)
        await call.hangup()
        assert calls_from_pbx(carrier, since) == [], options
        assert follow_records(session_factory, someone) == []


# -- confirmation calls ------------------------------------------------------------------------


def set_phone_as_staff(session_factory: sessionmaker[Session], person: Person) -> str:
    mobile = new_mobile()
    with session_factory() as session, session.begin():
        current_phone.set_phone(session, person.id, mobile, actor="e2e", rules=CallbackSettings(), now=datetime.now(UTC))
    return mobile


def phone_of(session_factory: sessionmaker[Session], person: Person) -> CurrentPhone:
    with session_factory() as session:
        return session.get(CurrentPhone, person.id)


async def wait_confirmation_outcome(session_factory: sessionmaker[Session], person: Person) -> CurrentPhone:
    async with asyncio.timeout(30):
        while (phone := phone_of(session_factory, person)).confirmation_outcome is None:
            await asyncio.sleep(0.1)
    return phone


async def test_a_new_phone_is_called_and_confirmed_by_1_then_rung(
    running_app, carrier, observer, person, session_factory
):
    before = scrape(running_app)
    since = carrier.mark()
    mobile = set_phone_as_staff(session_factory, person)
    far = await phone_rings(carrier, mobile, since)
    # The confirmation call presents the personal number.
    assert await far.variable("CALLERID(num)") == person.number
    await far.answer()
    await press(far, "1")
    phone = await wait_confirmation_outcome(session_factory, person)
    assert (phone.confirmation_outcome, phone.e164) == ("confirmed", mobile) and phone.confirmed_at is not None
    await far.wait_gone(timeout=15)
    record = await wait_follow_ended(session_factory, person, "phone-confirm")
    assert record.outcome == "completed" and record.called_number == mobile
    # Counted: the change (from the audit log, whoever made it) and the confirmation.
    after = scrape(running_app)
    for name, labels in (("reconnect_phone_changes_total", {"action": "set"}),
                         ("reconnect_phone_confirmations_total", {"outcome": "confirmed"})):
        assert value(after, name, **labels) >= value(before, name, **labels) + 1, name
    # From now on the phone is rung.
    since = carrier.mark()
    call = await call_person(carrier, person)
    far = await phone_rings(carrier, mobile, since)
    await far.reject("busy")
    await call.wait_answered(timeout=15)
    await call.hangup()


async def test_a_confirmation_call_answered_without_1_leaves_the_phone_unconfirmed(
    running_app, carrier, observer, person, session_factory
):
    since = carrier.mark()
    mobile = set_phone_as_staff(session_factory, person)
    far = await phone_rings(carrier, mobile, since)
    await far.answer()
    await press(far, "2")
    phone = await wait_confirmation_outcome(session_factory, person)
    assert (phone.confirmation_outcome, phone.confirmed_at) == ("refused", None)
    assert (await wait_follow_ended(session_factory, person, "phone-confirm")).outcome == "not-taken"


async def test_an_unanswered_confirmation_call_leaves_the_phone_unconfirmed(
    running_app, carrier, observer, person, session_factory
):
    since = carrier.mark()
    mobile = set_phone_as_staff(session_factory, person)
    far = await phone_rings(carrier, mobile, since)
    await far.ring()
    phone = await wait_confirmation_outcome(session_factory, person)
    assert (phone.confirmation_outcome, phone.confirmed_at) == ("no-answer", None)


async def test_when_serve_dies_during_a_followed_call_asterisk_cuts_both_legs_and_the_record_is_closed(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person)
    caller = new_caller()
    since = carrier.mark()
    call = await call_person(carrier, person, caller)
    far = await phone_rings(carrier, mobile, since)
    await far.answer()
    await press(far, "1")
    await call.wait_answered(timeout=15)
    observed = await observer.call_from(caller)
    [record] = follow_records(session_factory, person)
    running_app.kill()
    # Nobody drives the call: the absolute timeouts set at the answer cut it (max_call_seconds 10
    # plus the grace), the phone first, then the caller.
    await far.wait_gone(timeout=30)
    await asyncio.wait_for(observed.ended.wait(), 15)
    live = {c["id"] for c in await pbx_channels(observer)}
    assert {record.channel_id, observed.channel_id} & live == set()
    running_app.start()
    record = await wait_follow_ended(session_factory, person)
    assert record.outcome == "interrupted" and record.answered_at is not None
    assert messages(session_factory, person) == []


# -- the phone menu (main menu, key 6) ---------------------------------------------------------


async def test_the_person_sets_their_phone_from_the_menu_and_a_confirmation_call_follows(
    running_app, carrier, observer, person, session_factory
):
    mobile = new_mobile()
    call = await access_helpers.log_in(carrier, observer, person)
    await call.press("6")
    assert await call.until("phone-menu") == ["phone-none", "phone-menu"]
    await call.press("1")
    await call.until("enter-phone-number")
    since = carrier.mark()
    await call.press("0" + mobile[3:] + "#")
    await call.until("phone-will-be-called")
    far = await phone_rings(carrier, mobile, since)
    await far.reject("busy")
    phone = await wait_confirmation_outcome(session_factory, person)
    assert (phone.e164, phone.confirmation_outcome, phone.confirmed_at, phone.set_by) == (mobile, "busy", None, "person")
    # Back in the phone menu, which now says the phone, unconfirmed; 2 turns follow off.
    await call.until("phone-menu")
    await call.press("2")
    await call.until("follow-is-off")
    assert phone_of(session_factory, person).follow is False
    await call.hang_up()


async def test_the_person_switches_alerts_with_4_in_the_phone_menu_which_its_help_says(
    running_app, carrier, observer, person, session_factory
):
    give_phone(session_factory, person, alerts=False)
    call = await access_helpers.log_in(carrier, observer, person)
    await call.press("6")
    await call.until("phone-menu")
    await call.press("*")
    assert (await call.until("phone-menu"))[-3:] == ["phone-help", "help", "phone-menu"]
    await call.press("4")
    await call.until("alerts-are-on")
    assert phone_of(session_factory, person).alerts is True
    await call.until("phone-menu")
    await call.press("4")
    await call.until("alerts-are-off")
    assert phone_of(session_factory, person).alerts is False
    with session_factory() as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.beneficiary_id == person.id, AuditEvent.action.like("phone.alerts-%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(e) for e in events] == [("phone.alerts-on", "person"), ("phone.alerts-off", "person")]
    await call.hang_up()


async def test_a_premium_number_typed_in_the_menu_is_refused_and_nothing_is_written(
    running_app, carrier, observer, person, session_factory
):
    call = await access_helpers.log_in(carrier, observer, person)
    await call.press("6")
    await call.until("phone-menu")
    await call.press("1")
    await call.until("enter-phone-number")
    await call.press("0899123456#")
    await call.until("destination-refused-premium")
    await call.until("phone-menu")
    assert phone_of(session_factory, person) is None
    await call.hang_up()


# -- new-message alerts ------------------------------------------------------------------------


def alert_states(session_factory: sessionmaker[Session], person: Person) -> list[tuple[str, int, int]]:
    with session_factory() as session:
        rows = session.scalars(select(PendingAlert).where(PendingAlert.beneficiary_id == person.id).order_by(PendingAlert.id))
        return [(a.state, a.attempts, a.messages) for a in rows]


async def wait_alert_state(session_factory, person: Person, state: str) -> list[tuple[str, int, int]]:
    async with asyncio.timeout(40):
        while not (states := alert_states(session_factory, person)) or states[-1][0] != state:
            await asyncio.sleep(0.2)
    return states


async def test_a_new_message_calls_the_phone_and_the_pin_is_asked_before_the_message(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person, follow=False, alerts=True)
    since = carrier.mark()
    await leave_message(carrier, observer, person.national, new_caller())
    far = await phone_rings(carrier, mobile, since, timeout=30)
    assert await far.variable("CALLERID(num)") == person.number
    await far.answer()
    leg = await observer.call_from(person.number, timeout=10)
    await press(far, "1")
    async with asyncio.timeout(15):
        while "enter-pin" not in media_names(leg.media):
            await asyncio.sleep(0.05)
    # Nothing of the message before the PIN.
    assert "audio" not in media_names(leg.media)
    assert media_names(leg.media)[0] == "alert-new-message"
    await far.carrier.post(f"/channels/{far.channel}/dtmf", dtmf=person.pin + "#", duration=100, between=100)
    async with asyncio.timeout(20):
        while "audio" not in media_names(leg.media):
            await asyncio.sleep(0.05)
    await far.hang_up()
    assert await wait_alert_state(session_factory, person, "answered") == [("answered", 1, 1)]
    assert (await wait_follow_ended(session_factory, person, "alert")).answered_at is not None


async def test_an_unanswered_alert_is_tried_again_then_given_up(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person, follow=False, alerts=True)
    since = carrier.mark()
    await leave_message(carrier, observer, person.national, new_caller())
    for attempt in (1, 2):  # follow.alert_retries = 1
        far = await phone_rings(carrier, mobile, since, timeout=30)
        since = far.since + 1
        await far.reject("busy")
    assert await wait_alert_state(session_factory, person, "failed") == [("failed", 2, 1)]
    assert [r.outcome for r in follow_records(session_factory, person, "alert")] == ["busy", "busy"]


async def test_an_alert_left_by_a_dead_process_is_placed_after_the_restart(
    running_app, carrier, observer, person, session_factory
):
    mobile = give_phone(session_factory, person, follow=False, alerts=True)
    running_app.kill()
    # What the dead process left: an alert it was calling for.
    with session_factory() as session, session.begin():
        session.add(PendingAlert(beneficiary_id=person.id, due_at=datetime.now(UTC), state="calling", attempts=1))
    since = carrier.mark()
    running_app.start()
    far = await phone_rings(carrier, mobile, since, timeout=30)
    await far.reject("busy")
    assert await wait_alert_state(session_factory, person, "failed") == [("failed", 2, 1)]


async def test_the_person_calls_back_from_an_alert_call_within_the_limits(
    running_app, carrier, observer, person, session_factory
):
    # The alert leg may last max_call_seconds from its answer: room for the login and a callback.
    with running_app.reconfigured(callback_max_call_seconds="40"):
        mobile = give_phone(session_factory, person, follow=False, alerts=True)
        caller = new_caller()
        since = carrier.mark()
        await leave_message(carrier, observer, person.national, caller)
        far = await phone_rings(carrier, mobile, since, timeout=30)
        await far.answer()
        leg = await observer.call_from(person.number, timeout=10)
        await press(far, "1")
        async with asyncio.timeout(15):
            while "enter-pin" not in media_names(leg.media):
                await asyncio.sleep(0.05)
        await far.carrier.post(f"/channels/{far.channel}/dtmf", dtmf=person.pin + "#", duration=100, between=100)
        async with asyncio.timeout(20):
            while "audio" not in media_names(leg.media):
                await asyncio.sleep(0.05)
        since = carrier.mark()
        await press(far, "2")  # call back the caller of this message
        back = await phone_rings(carrier, "+33" + caller[1:], since)
        assert await back.variable("CALLERID(num)") == person.number
        await back.answer()
        async with asyncio.timeout(15):
            while not (calls := follow_records(session_factory, person, "callback")) or calls[-1].answered_at is None:
                await asyncio.sleep(0.1)
        assert "call-already-in-progress" not in media_names(leg.media)
        # Both legs at once: the alert is still in progress beside the callback.
        alert_call = follow_records(session_factory, person, "alert")[-1]
        assert alert_call.ended_at is None and alert_call.answered_at is not None
        await back.hang_up()
        callback_call = await wait_follow_ended(session_factory, person, "callback")
        assert callback_call.outcome == "completed"
        async with asyncio.timeout(15):
            while "call-ended" not in media_names(leg.media):
                await asyncio.sleep(0.05)
        await far.hang_up()
        alert_call = await wait_follow_ended(session_factory, person, "alert")
        assert alert_call.outcome == "completed"
        assert alert_call.billable_seconds >= callback_call.billable_seconds
        assert await wait_alert_state(session_factory, person, "answered") == [("answered", 1, 1)]
