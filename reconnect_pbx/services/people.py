"""The people a centre enrols: enrolment, suspension, closing, PIN reset, what staff may see."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reconnect_pbx import phone, pin_policy
from reconnect_pbx.models import (
    Beneficiary,
    BeneficiaryStatus,
    Centre,
    Credential,
    CurrentPhone,
    Language,
    Mailbox,
    Message,
    MessageState,
    NumberAssignment,
    PhoneNumber,
)
from reconnect_pbx.services import audit, credentials, local_date, numbers
from reconnect_pbx.services.errors import Conflict, InvalidInput, NotFound
from reconnect_pbx.services.selftest import staff_centres

NAME_MAX_LENGTH = 200
# Person ids are short; anything longer, or starting with 0 or +, is read as a phone number.
_PERSON_ID = re.compile(r"^#?([1-9][0-9]{0,7})$")


@dataclass(frozen=True)
class Enrolment:
    beneficiary_id: int
    display_name: str
    centre: str
    e164: str
    # Shown once to staff, never stored or logged: kept out of repr so a stray log line can't leak it.
    pin: str = field(repr=False)


@dataclass(frozen=True)
class PinReset:
    beneficiary_id: int
    e164: str | None
    pin: str = field(repr=False)


@dataclass(frozen=True)
class Closure:
    beneficiary_id: int
    # The number put into quarantine, and until when (None if the person held no number).
    e164: str | None
    quarantine_until: datetime | None


@dataclass(frozen=True)
class PersonRow:
    id: int
    display_name: str
    status: BeneficiaryStatus
    centre: str
    e164: str | None
    language: Language
    created_at: datetime


@dataclass(frozen=True)
class PersonDetails:
    id: int
    display_name: str
    status: BeneficiaryStatus
    language: Language
    centre: str
    # The number held now, or the last one held by a closed person (then number_ended_at is set).
    e164: str | None
    number_since: datetime | None
    number_ended_at: datetime | None
    new_messages: int
    saved_messages: int
    failed_attempts: int
    locked_until: datetime | None
    login_suspended: bool
    created_at: datetime
    closed_at: datetime | None
    # The PIN is still the one staff handed over: to be changed at the next login.
    pin_must_change: bool = False

    @property
    def lock_state(self) -> str:
        if self.login_suspended:
            return "login suspended (too many wrong PINs): `pin reset` lifts it"
        if self.locked_until is not None:
            return f"locked until {self.locked_until.isoformat(timespec='minutes')}"
        return "not locked"


@dataclass(frozen=True)
class MessageRow:
    id: int
    received_at: datetime
    caller_number: str | None
    duration_seconds: float
    state: MessageState


def enrol(
    session: Session,
    *,
    centre: Centre,
    display_name: str,
    language: Language,
    pin_length: int,
    actor: str,
    number: str | None = None,
    reserved: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> Enrolment:
    """Give a person a number from ``centre``'s pool (``number`` if given), a mailbox and a PIN.

    ``reserved`` numbers (``numbers.reserved_numbers``: the access number) are never given.
    """
    now = now or _utcnow()
    display_name = _clean_name(display_name)
    if number is None:
        phone_number = numbers.take_free_number(session, centre, now, reserved=reserved)
    else:
        phone_number = numbers.claim_number(session, centre, number, now, reserved=reserved)
    pin = pin_policy.generate_pin(pin_length, own_number=phone_number.e164)

    person = Beneficiary(display_name=display_name, language=language, status=BeneficiaryStatus.ACTIVE, centre_id=centre.id)
    session.add(person)
    session.flush()
    session.add(Credential(beneficiary_id=person.id, pin_hash=credentials.hash_pin(pin), pin_changed_at=now))
    session.add(Mailbox(beneficiary_id=person.id))
    session.add(NumberAssignment(phone_number_id=phone_number.id, beneficiary_id=person.id, started_at=now))
    numbers.assign(phone_number)
    session.flush()
    audit.record(
        session,
        actor,
        "beneficiary.enrol",
        person.id,
        centre=centre.name,
        number=phone_number.e164,
        language=language,
        number_chosen=number is not None,
    )
    return Enrolment(person.id, display_name, centre.name, phone_number.e164, pin)


def find_person(session: Session, ref: str, region: str, *, lock: bool = False) -> Beneficiary:
    """The person whose id is ``ref``, or who holds (or last held) the number ``ref`` in any form."""
    ref = (ref or "").strip()
    id_match = _PERSON_ID.match(ref)
    if id_match:
        person = session.get(Beneficiary, int(id_match.group(1)), with_for_update=lock)
        if person is None:
            raise NotFound(f"no person with id {id_match.group(1)}")
        return person
    try:
        e164 = phone.normalise(ref, region, None)
    except phone.InvalidNumber:
        raise InvalidInput(f"'{ref}' is neither a person id nor a valid phone number") from None
    holder_id = session.scalar(
        select(NumberAssignment.beneficiary_id)
        .join(PhoneNumber, NumberAssignment.phone_number_id == PhoneNumber.id)
        .where(PhoneNumber.e164 == e164)
        # The current holder, else the most recent one.
        .order_by(NumberAssignment.ended_at.desc().nulls_first(), NumberAssignment.id.desc())
        .limit(1)
    )
    if holder_id is None:
        raise NotFound(f"nobody holds or held number {e164}")
    return session.get(Beneficiary, holder_id, with_for_update=lock)  # type: ignore[return-value]


def details(session: Session, person: Beneficiary, now: datetime | None = None) -> PersonDetails:
    now = now or _utcnow()
    assignment = _latest_assignment(session, person)
    counts = dict(
        session.execute(
            select(Message.state, func.count())
            .join(Mailbox, Message.mailbox_id == Mailbox.id)
            .where(Mailbox.beneficiary_id == person.id)
            .group_by(Message.state)
        ).all()
    )
    credential = person.credential
    locked_until = credential.locked_until if credential else None
    return PersonDetails(
        id=person.id,
        display_name=person.display_name,
        status=person.status,
        language=person.language,
        centre=person.centre.name,
        e164=assignment.phone_number.e164 if assignment else None,
        number_since=assignment.started_at if assignment else None,
        number_ended_at=assignment.ended_at if assignment else None,
        new_messages=counts.get(MessageState.NEW, 0),
        saved_messages=counts.get(MessageState.SAVED, 0),
        failed_attempts=credential.failed_attempts if credential else 0,
        locked_until=locked_until if locked_until is not None and locked_until > now else None,
        login_suspended=bool(credential and credential.login_suspended),
        created_at=person.created_at,
        closed_at=person.closed_at,
        pin_must_change=bool(credential and credential.pin_must_change),
    )


def list_people(
    session: Session, *, centre: Centre | None = None, status: BeneficiaryStatus | None = None
) -> list[PersonRow]:
    query = (
        select(Beneficiary, Centre.name, PhoneNumber.e164)
        .join(Centre, Beneficiary.centre_id == Centre.id)
        .outerjoin(
            NumberAssignment,
            (NumberAssignment.beneficiary_id == Beneficiary.id) & NumberAssignment.ended_at.is_(None),
        )
        .outerjoin(PhoneNumber, NumberAssignment.phone_number_id == PhoneNumber.id)
        .where(staff_centres())  # the self-test's placeholder person is no one's
        .order_by(Beneficiary.id)
    )
    if centre is not None:
        query = query.where(Beneficiary.centre_id == centre.id)
    if status is not None:
        query = query.where(Beneficiary.status == status)
    return [
        PersonRow(p.id, p.display_name, p.status, centre_name, e164, p.language, p.created_at)
        for p, centre_name, e164 in session.execute(query)
    ]


def suspend(session: Session, person: Beneficiary, *, actor: str) -> None:
    """Suspended: the number keeps taking messages but the person cannot log in or call back."""
    _refuse_if_closed(person, "suspend")
    if person.status == BeneficiaryStatus.SUSPENDED:
        raise Conflict(f"person {person.id} is already suspended")
    person.status = BeneficiaryStatus.SUSPENDED
    audit.record(session, actor, "beneficiary.suspend", person.id)


def resume(session: Session, person: Beneficiary, *, actor: str) -> None:
    _refuse_if_closed(person, "resume")
    if person.status != BeneficiaryStatus.SUSPENDED:
        raise Conflict(f"person {person.id} is not suspended")
    person.status = BeneficiaryStatus.ACTIVE
    audit.record(session, actor, "beneficiary.resume", person.id)


def close(session: Session, person: Beneficiary, *, actor: str, quarantine_days: int, now: datetime | None = None) -> Closure:
    """End the person's assignment and put the number into quarantine.

    The quarantine keeps the number from being given to someone else while old contacts may
    still call it, so they never reach a stranger.
    """
    now = now or _utcnow()
    _refuse_if_closed(person, "close")
    person.status = BeneficiaryStatus.CLOSED
    person.closed_at = now
    assignment = session.scalar(
        select(NumberAssignment)
        .where(NumberAssignment.beneficiary_id == person.id, NumberAssignment.ended_at.is_(None))
        .with_for_update()
    )
    until = None
    e164 = None
    if assignment is not None:
        assignment.ended_at = now
        number = session.get(PhoneNumber, assignment.phone_number_id, with_for_update=True)
        assert number is not None
        until = now + timedelta(days=quarantine_days)
        numbers.quarantine(number, until)
        e164 = number.e164
    audit.record(session, actor, "beneficiary.close", person.id, number=e164, quarantine_until=until)
    # Calls no longer follow a closed person anywhere: their current phone is forgotten.
    current = session.get(CurrentPhone, person.id, with_for_update=True)
    if current is not None:
        session.delete(current)
    return Closure(person.id, e164, until)


def reset_pin(session: Session, person: Beneficiary, *, actor: str, pin_length: int, now: datetime | None = None) -> PinReset:
    """A new random PIN, to be changed at the next login; clears the failure count, the lock and
    the login suspension."""
    now = now or _utcnow()
    _refuse_if_closed(person, "reset the PIN of")
    assignment = _latest_assignment(session, person)
    e164 = assignment.phone_number.e164 if assignment and assignment.ended_at is None else None
    pin = pin_policy.generate_pin(pin_length, own_number=e164)
    credential = session.get(Credential, person.id, with_for_update=True)
    if credential is None:
        credential = Credential(beneficiary_id=person.id)
        session.add(credential)
    was = {
        "failed_attempts": credential.failed_attempts or 0,
        "was_locked": credential.locked_until is not None and credential.locked_until > now,
        "was_login_suspended": bool(credential.login_suspended),
    }
    credential.pin_hash = credentials.hash_pin(pin)
    credential.failed_attempts = 0
    credential.locked_until = None
    credential.login_suspended = False
    credential.pin_changed_at = now
    # Staff know this PIN: the person must choose their own at the next login.
    credential.pin_must_change = True
    audit.record(session, actor, "pin.reset", person.id, **was)
    return PinReset(person.id, e164, pin)


def messages_of(session: Session, person: Beneficiary, *, include_deleted: bool = False) -> list[MessageRow]:
    query = (
        select(Message)
        .join(Mailbox, Message.mailbox_id == Mailbox.id)
        .where(Mailbox.beneficiary_id == person.id)
        .order_by(Message.received_at.desc(), Message.id.desc())
    )
    if not include_deleted:
        query = query.where(Message.state != MessageState.DELETED)
    return [
        MessageRow(m.id, m.received_at, m.caller_number, m.duration_ms / 1000, m.state)
        for m in session.scalars(query)
    ]


def _latest_assignment(session: Session, person: Beneficiary) -> NumberAssignment | None:
    return session.scalar(
        select(NumberAssignment)
        .where(NumberAssignment.beneficiary_id == person.id)
        .order_by(NumberAssignment.ended_at.desc().nulls_first(), NumberAssignment.id.desc())
        .limit(1)
    )


def _refuse_if_closed(person: Beneficiary, verb: str) -> None:
    if person.status == BeneficiaryStatus.CLOSED:
        closed = f" on {local_date(person.closed_at)}" if person.closed_at else ""
        raise Conflict(f"cannot {verb} person {person.id}: already closed{closed}")


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("the person's name must not be empty")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(f"the person's name is longer than {NAME_MAX_LENGTH} characters")
    return name


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
