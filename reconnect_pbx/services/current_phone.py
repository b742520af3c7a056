"""The person's current phone: the one French mobile or landline their number follows.

Domain only: no ARI. Staff set it (``phone set``), or the person from the PIN menu; either way it
goes through the destination policy of outgoing calls (``destination_policy.decide``, as a number
called back) and only French mobiles and landlines pass: premium, shared-cost, short, overseas,
international, free and invalid numbers are refused (``PhoneRefused``, nothing written), and so
are the service's own numbers (a call would loop back to us).

A phone is rung only once it is confirmed: setting it asks ``serve`` for a confirmation call
(``confirmation_requested_at``); ``serve`` claims the request (``claim_confirmation``), calls, and
writes how it ended (``record_confirmation``). A confirmation counts only for the number it called:
a phone changed meanwhile stays unconfirmed.

Every change is an audit event ``phone.set``, ``phone.cleared``, ``phone.follow-on``,
``phone.follow-off``, ``phone.alerts-on``, ``phone.alerts-off``, ``phone.confirmed`` or
``phone.confirm-requested`` (with the masked number);
``serve`` counts them in a metric from the audit log, and the caller of these functions logs a
warning: changing where calls go is the classic voicemail-fraud step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reconnect_pbx.config import CallbackSettings
from reconnect_pbx.models import AuditEvent, Beneficiary, BeneficiaryStatus, CurrentPhone, NumberAssignment, PhoneNumber
from reconnect_pbx.services import audit
from reconnect_pbx.services.destination_policy import OVERSEAS_REGIONS, Category, Decision, decide, masked
from reconnect_pbx.services.errors import Conflict, InvalidInput, NotFound

AUDIT_PREFIX = "phone."
SET_ACTION = "phone.set"
CLEARED_ACTION = "phone.cleared"
FOLLOW_ON_ACTION = "phone.follow-on"
FOLLOW_OFF_ACTION = "phone.follow-off"
ALERTS_ON_ACTION = "phone.alerts-on"
ALERTS_OFF_ACTION = "phone.alerts-off"
CONFIRMED_ACTION = "phone.confirmed"
CONFIRM_REQUESTED_ACTION = "phone.confirm-requested"
SYSTEM_ACTOR = "system"
# The actor of a change the person made themselves, from the PIN menu.
PERSON_ACTOR = "person"

# What a current phone may be: French mobiles and landlines (09: VoIP "box" lines).
PHONE_CATEGORIES = frozenset({Category.MOBILE, Category.GEOGRAPHIC, Category.NON_GEOGRAPHIC})
# Separators people write numbers with; anything else reaches the policy as typed (and is refused).
_SEPARATORS = re.compile(r"[\s.\-/()]")

# How a confirmation call ended.
CONFIRMED = "confirmed"
REFUSED = "refused"

_REFUSAL_REASONS: dict[Category, str] = {
    Category.PREMIUM: "premium-rate numbers are refused",
    Category.SHARED_COST: "special (shared-cost) numbers are refused",
    Category.SHORT: "short numbers are refused",
    Category.EMERGENCY: "emergency and social numbers are refused",
    Category.OVERSEAS: "overseas numbers are refused (French mobiles and landlines only)",
    Category.INTERNATIONAL: "international numbers are refused (French mobiles and landlines only)",
    Category.FREE: "free (0800) numbers are refused: a person's phone is a mobile or a landline",
    Category.WITHHELD: "no number given",
    Category.INVALID: "not a valid French phone number",
}


class PhoneRefused(InvalidInput):
    """The destination policy refuses this number as a current phone; ``decision`` says why."""

    def __init__(self, decision: Decision, message: str) -> None:
        super().__init__(message)
        self.decision = decision


@dataclass(frozen=True)
class PhoneToRing:
    beneficiary_id: int
    e164: str


@dataclass(frozen=True)
class PhoneState:
    """What the phone menu says of a person's current phone."""

    e164: str
    confirmed: bool
    follow: bool
    alerts: bool


@dataclass(frozen=True)
class ConfirmationRequest:
    beneficiary_id: int
    e164: str
    # The person's personal number (presented to the phone) and language.
    own_number: str | None
    language: str


def check_number(number: str, *, rules: CallbackSettings) -> Decision:
    """The policy's decision for ``number`` as a current phone; raises ``PhoneRefused``."""
    typed = _SEPARATORS.sub("", number or "")
    decision = decide(typed, is_callback=True, rules=rules)
    french = decision.e164 is not None and decision.e164.startswith("+33")
    if decision.category == Category.MOBILE and french:
        # A person's own mobile: allowed whatever allow_mobile_callbacks says (its validity is
        # checked before the category is given).
        decision = Decision(True, Category.MOBILE, decision.e164)
    if decision.allowed and decision.category in PHONE_CATEGORIES and french:
        return decision
    # Refused, or allowed for a callback but not a person's phone (0800, abroad when configured).
    category = decision.category
    if decision.e164 and not french:
        # Abroad, whatever its kind (a mobile there is refused as abroad, not as a mobile).
        region = phonenumbers.region_code_for_number(phonenumbers.parse(decision.e164))
        category = Category.OVERSEAS if region in OVERSEAS_REGIONS else Category.INTERNATIONAL
    reason = _REFUSAL_REASONS.get(category, f"{category.value} numbers are refused")
    raise PhoneRefused(Decision(False, category, decision.e164), f"{masked(decision.e164)}: {reason}")


def set_phone(
    session: Session, beneficiary_id: int, number: str, *, actor: str, rules: CallbackSettings, now: datetime
) -> CurrentPhone:
    """Set (or replace) the person's current phone, unconfirmed, and ask for a confirmation call."""
    decision = check_number(number, rules=rules)
    if session.scalar(select(PhoneNumber.id).where(PhoneNumber.e164 == decision.e164)) is not None:
        raise PhoneRefused(
            Decision(False, Category.INVALID, decision.e164), f"{masked(decision.e164)} is a number of this service"
        )
    _active_person(session, beneficiary_id)
    phone = session.get(CurrentPhone, beneficiary_id, with_for_update=True)
    previous = phone.e164 if phone else None
    if phone is None:
        phone = CurrentPhone(beneficiary_id=beneficiary_id, follow=True)
        session.add(phone)
    phone.e164 = decision.e164
    phone.category = decision.category.value
    phone.set_at = now
    phone.set_by = actor
    phone.confirmed_at = None
    phone.confirmation_requested_at = now
    phone.confirmation_outcome = None
    audit.record(
        session, actor, SET_ACTION, beneficiary_id,
        number=masked(decision.e164), category=decision.category.value, previous=masked(previous),
    )  # fmt: skip
    session.flush()
    return phone


def clear_phone(session: Session, beneficiary_id: int, *, actor: str) -> None:
    phone = session.get(CurrentPhone, beneficiary_id, with_for_update=True)
    if phone is None:
        raise Conflict(f"person {beneficiary_id} has no current phone")
    audit.record(session, actor, CLEARED_ACTION, beneficiary_id, previous=masked(phone.e164))
    session.delete(phone)
    session.flush()


def set_follow(session: Session, beneficiary_id: int, on: bool, *, actor: str) -> CurrentPhone:
    phone = _phone(session, beneficiary_id)
    phone.follow = on
    audit.record(session, actor, FOLLOW_ON_ACTION if on else FOLLOW_OFF_ACTION, beneficiary_id, number=masked(phone.e164))
    return phone


def set_alerts(session: Session, beneficiary_id: int, on: bool, *, actor: str) -> CurrentPhone:
    """New-message alerts to the current phone on or off (services/alerts.py)."""
    phone = _phone(session, beneficiary_id)
    phone.alerts = on
    audit.record(session, actor, ALERTS_ON_ACTION if on else ALERTS_OFF_ACTION, beneficiary_id, number=masked(phone.e164))
    return phone


def request_confirmation(session: Session, beneficiary_id: int, *, actor: str, now: datetime) -> CurrentPhone:
    """Ask for another confirmation call (the first one was not answered)."""
    phone = _phone(session, beneficiary_id)
    if phone.confirmed_at is not None:
        raise Conflict(f"the current phone of person {beneficiary_id} is already confirmed")
    phone.confirmation_requested_at = now
    audit.record(session, actor, CONFIRM_REQUESTED_ACTION, beneficiary_id, number=masked(phone.e164))
    return phone


def get_phone(session: Session, beneficiary_id: int) -> CurrentPhone | None:
    return session.get(CurrentPhone, beneficiary_id)


def phone_state(session: Session, beneficiary_id: int) -> PhoneState | None:
    phone = session.get(CurrentPhone, beneficiary_id)
    if phone is None:
        return None
    return PhoneState(phone.e164, phone.confirmed_at is not None, phone.follow, phone.alerts)


def phone_to_ring(session: Session, beneficiary_id: int) -> PhoneToRing | None:
    """The phone a call to the person's number rings first: confirmed, with follow on; else None."""
    phone = session.get(CurrentPhone, beneficiary_id)
    if phone is None or not phone.follow or phone.confirmed_at is None:
        return None
    return PhoneToRing(beneficiary_id, phone.e164)


def claim_confirmation(session: Session) -> ConfirmationRequest | None:
    """The oldest confirmation call wanted, taken off the queue (one process gets each)."""
    phone = session.scalar(
        select(CurrentPhone)
        .where(CurrentPhone.confirmation_requested_at.is_not(None))
        .order_by(CurrentPhone.confirmation_requested_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if phone is None:
        return None
    phone.confirmation_requested_at = None
    person = session.get(Beneficiary, phone.beneficiary_id)
    own_number = session.scalar(
        select(PhoneNumber.e164)
        .join(NumberAssignment, NumberAssignment.phone_number_id == PhoneNumber.id)
        .where(NumberAssignment.beneficiary_id == phone.beneficiary_id, NumberAssignment.ended_at.is_(None))
    )
    return ConfirmationRequest(phone.beneficiary_id, phone.e164, own_number, person.language.value)


def record_confirmation(session: Session, request: ConfirmationRequest, outcome: str, *, now: datetime) -> bool:
    """Write how the confirmation call ended; True when the phone is now confirmed. The answer
    counts only if the person's phone is still the number that was called."""
    phone = session.get(CurrentPhone, request.beneficiary_id, with_for_update=True)
    if phone is None or phone.e164 != request.e164:
        return False
    phone.confirmation_outcome = outcome
    if outcome != CONFIRMED:
        return False
    phone.confirmed_at = now
    audit.record(session, SYSTEM_ACTOR, CONFIRMED_ACTION, request.beneficiary_id, number=masked(phone.e164))
    return True


def _phone(session: Session, beneficiary_id: int) -> CurrentPhone:
    phone = session.get(CurrentPhone, beneficiary_id, with_for_update=True)
    if phone is None:
        raise NotFound(f"person {beneficiary_id} has no current phone")
    return phone


def _active_person(session: Session, beneficiary_id: int) -> Beneficiary:
    person = session.get(Beneficiary, beneficiary_id)
    if person is None:
        raise NotFound(f"no person with id {beneficiary_id}")
    if person.status == BeneficiaryStatus.CLOSED:
        raise Conflict(f"person {beneficiary_id} is closed")
    return person


def changes_after(session: Session, after_id: int | None) -> list[tuple[int, str]]:
    """The ``phone.*`` audit events after ``after_id`` (id, action), oldest first; with None, only
    the latest one (where counting starts)."""
    query = select(AuditEvent.id, AuditEvent.action).where(AuditEvent.action.like(f"{AUDIT_PREFIX}%"))
    if after_id is None:
        latest = session.execute(query.order_by(AuditEvent.id.desc()).limit(1)).first()
        return [(latest[0], "")] if latest else [(0, "")]
    return [(row[0], row[1]) for row in session.execute(query.where(AuditEvent.id > after_id).order_by(AuditEvent.id))]
