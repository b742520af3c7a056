"""Voicemail domain services: whose mailbox a call reaches, and storing what callers leave.

No transport here: the call flows call these (in a worker thread) with a session of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from ..models import (
    Beneficiary,
    BeneficiaryStatus,
    Greeting,
    GreetingKind,
    Language,
    Mailbox,
    Message,
    MessageState,
    NumberAssignment,
    PhoneNumber,
)
from ..config import FollowSettings
from ..storage import AudioStore
from . import alerts


@dataclass(frozen=True)
class MailboxTarget:
    """What a call to a personal number needs to know about the person who holds it."""

    beneficiary_id: int
    mailbox_id: int
    number: str
    language: Language
    status: BeneficiaryStatus
    personal_greeting_audio_id: int | None
    name_audio_id: int | None
    # Messages that count against the capacity (new and saved).
    message_count: int


def _greeting_audio(kind: GreetingKind):
    return (
        select(Greeting.audio_id)
        .where(Greeting.mailbox_id == Mailbox.id, Greeting.kind == kind)
        .scalar_subquery()
    )


# Every call starts with this one statement (greetings and the message count as subqueries: each
# round trip is time the caller waits before the greeting). Built once: building it for each call
# cost more CPU than running it.
_MAILBOX_FOR_NUMBER = (
    select(
        Beneficiary.id,
        Beneficiary.language,
        Beneficiary.status,
        Mailbox.id,
        PhoneNumber.e164,
        _greeting_audio(GreetingKind.PERSONAL),
        _greeting_audio(GreetingKind.NAME),
        select(func.count())
        .select_from(Message)
        .where(Message.mailbox_id == Mailbox.id, Message.state != MessageState.DELETED)
        .scalar_subquery(),
    )
    .join(NumberAssignment, NumberAssignment.phone_number_id == PhoneNumber.id)
    .join(Beneficiary, Beneficiary.id == NumberAssignment.beneficiary_id)
    .join(Mailbox, Mailbox.beneficiary_id == Beneficiary.id)
    .where(
        PhoneNumber.e164 == bindparam("number"),
        NumberAssignment.started_at <= bindparam("at"),
        (NumberAssignment.ended_at.is_(None)) | (NumberAssignment.ended_at > bindparam("at")),
    )
)


def find_mailbox_for_number(session: Session, number: str, at: datetime) -> MailboxTarget | None:
    """The mailbox of whoever held ``number`` at ``at``; None for an unknown, free or quarantined
    number, or a closed person (their number is in quarantine: old contacts must not reach them)."""
    row = session.execute(_MAILBOX_FOR_NUMBER, {"number": number, "at": at}).first()
    if row is None:
        return None
    beneficiary_id, language, status, mailbox_id, e164, personal, name, message_count = row
    if status == BeneficiaryStatus.CLOSED:
        return None
    return MailboxTarget(
        beneficiary_id=beneficiary_id,
        mailbox_id=mailbox_id,
        number=e164,
        language=language,
        status=status,
        personal_greeting_audio_id=personal,
        name_audio_id=name,
        message_count=message_count or 0,
    )


def count_kept_messages(session: Session, mailbox_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.mailbox_id == mailbox_id, Message.state != MessageState.DELETED)
    ) or 0


@dataclass(frozen=True)
class NewMessage:
    mailbox_id: int
    caller_number: str | None
    called_number: str
    received_at: datetime
    duration_ms: int
    # The channel that left it: storing the same message twice (a retry after a crash) is a no-op.
    source_channel_id: str


# Built once, as _MAILBOX_FOR_NUMBER: every deposit runs it. Written out because SQLAlchemy
# (2.0.58) does not cache the compiled form of PostgreSQL's INSERT ... ON CONFLICT: compiling it
# again on every call cost 0.2 ms of CPU (docs/benchmarks.md).
_INSERT_MESSAGE = text(
    "INSERT INTO messages (mailbox_id, caller_number, called_number, received_at, duration_ms, state,"
    " audio_id, source_channel_id)"
    " VALUES (:mailbox_id, :caller_number, :called_number, :received_at, :duration_ms, :state,"
    " :audio_id, :source_channel_id)"
    " ON CONFLICT (source_channel_id) DO NOTHING RETURNING id"
).bindparams(bindparam("state", type_=Message.__table__.c.state.type))


def store_message(
    session: Session, store: AudioStore, message: NewMessage, audio: bytes, *, alert_rules: FollowSettings | None = None
) -> int | None:
    """Store a message and its audio. Returns its id, or None if it was already stored. With
    ``alert_rules``, the person's new-message alert is opened or coalesced (services/alerts.py)."""
    audio_id = store.put(session, audio)
    inserted = session.execute(
        _INSERT_MESSAGE,
        {
            "mailbox_id": message.mailbox_id,
            "caller_number": message.caller_number,
            "called_number": message.called_number,
            "received_at": message.received_at,
            "duration_ms": message.duration_ms,
            "state": MessageState.NEW,
            "audio_id": audio_id,
            "source_channel_id": message.source_channel_id,
        },
    ).scalar()
    if inserted is None:
        # Stored before (a retry after a crash; rare): that one stays. Not asked first, since
        # every call would pay for the question.
        store.delete(session, audio_id)
    elif alert_rules is not None:
        alerts.message_stored(session, message.mailbox_id, rules=alert_rules, now=datetime.now(timezone.utc))
    return inserted
