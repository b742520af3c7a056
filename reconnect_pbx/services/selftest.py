"""The test mailbox that `reconnect-pbx selftest` calls: a reserved number, never a person's.

It lives in a centre of its own (``SELFTEST_CENTRE``), which staff never see: `centre list`, the
people lists and searches, the web application's pages and the usage report all leave it out
(``staff_centres``), and the web answers 404 for it as for a centre that does not exist. Its
number is ``access.selftest_number`` and, like the access number, may never enter a pool nor be
given to a person (``numbers.reserved_numbers``). What a self-test leaves (the message, its audio,
the call record) is erased by the self-test itself once it has seen the message stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from reconnect_pbx.models import (
    AudioBlob,
    Beneficiary,
    BeneficiaryStatus,
    CallRecord,
    Centre,
    Language,
    Mailbox,
    Message,
    NumberAssignment,
    NumberState,
    PhoneNumber,
)
from reconnect_pbx.services.errors import Conflict

SELFTEST_CENTRE = "reconnect-pbx selftest"
SELFTEST_NAME = "reconnect-pbx selftest (no one)"


def staff_centres() -> ColumnElement[bool]:
    """The condition on ``Centre`` that leaves out the self-test's: no one staff look after."""
    return Centre.name != SELFTEST_CENTRE


def is_selftest_centre(session: Session, centre_id: int) -> bool:
    return session.scalar(select(Centre.name).where(Centre.id == centre_id)) == SELFTEST_CENTRE


@dataclass(frozen=True)
class TestMailbox:
    number: str
    beneficiary_id: int
    mailbox_id: int


@dataclass(frozen=True)
class StoredTestMessage:
    message_id: int
    duration_ms: int
    audio_bytes: int


def ensure_test_mailbox(session: Session, number: str, now: datetime) -> TestMailbox:
    """The test mailbox on ``number`` (E.164), made on first use; the same one afterwards."""
    centre = session.scalar(select(Centre).where(Centre.name == SELFTEST_CENTRE))
    if centre is None:
        centre = Centre(name=SELFTEST_CENTRE, city=None)
        session.add(centre)
        session.flush()
    phone_number = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == number))
    if phone_number is None:
        phone_number = PhoneNumber(e164=number, centre_id=centre.id, state=NumberState.ASSIGNED)
        session.add(phone_number)
        session.flush()
    elif phone_number.centre_id != centre.id:
        raise Conflict(f"the self-test number {number} is in a centre's pool: remove it there, or choose another")
    holder = session.scalar(
        select(NumberAssignment).where(
            NumberAssignment.phone_number_id == phone_number.id, NumberAssignment.ended_at.is_(None)
        )
    )
    if holder is not None:
        beneficiary = session.get(Beneficiary, holder.beneficiary_id)
        assert beneficiary is not None
    else:
        beneficiary = Beneficiary(
            display_name=SELFTEST_NAME, language=Language.FR, status=BeneficiaryStatus.ACTIVE, centre_id=centre.id
        )
        session.add(beneficiary)
        session.flush()
        session.add(NumberAssignment(phone_number_id=phone_number.id, beneficiary_id=beneficiary.id, started_at=now))
        phone_number.state = NumberState.ASSIGNED
    mailbox = session.scalar(select(Mailbox).where(Mailbox.beneficiary_id == beneficiary.id))
    if mailbox is None:
        mailbox = Mailbox(beneficiary_id=beneficiary.id, onboarded=True)
        session.add(mailbox)
        session.flush()
    return TestMailbox(number=number, beneficiary_id=beneficiary.id, mailbox_id=mailbox.id)


def stored_message(session: Session, mailbox: TestMailbox, channel_id: str) -> StoredTestMessage | None:
    """The message the test call on ``channel_id`` left, once stored."""
    row = session.execute(
        select(Message.id, Message.duration_ms, Message.audio_id).where(
            Message.mailbox_id == mailbox.mailbox_id, Message.source_channel_id == channel_id
        )
    ).first()
    if row is None:
        return None
    size = session.scalar(select(AudioBlob.size_bytes).where(AudioBlob.id == row.audio_id)) if row.audio_id else 0
    return StoredTestMessage(message_id=row.id, duration_ms=row.duration_ms, audio_bytes=size or 0)


def erase_test_calls(session: Session, mailbox: TestMailbox) -> int:
    """Erase every message of the test mailbox, their audio and the test calls' records."""
    audio_ids = [
        audio_id
        for audio_id in session.scalars(select(Message.audio_id).where(Message.mailbox_id == mailbox.mailbox_id))
        if audio_id is not None
    ]
    erased = session.execute(delete(Message).where(Message.mailbox_id == mailbox.mailbox_id)).rowcount
    if audio_ids:
        session.execute(delete(AudioBlob).where(AudioBlob.id.in_(audio_ids)))
    session.execute(delete(CallRecord).where(CallRecord.beneficiary_id == mailbox.beneficiary_id))
    return erased or 0
