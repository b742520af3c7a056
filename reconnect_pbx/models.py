"""The state of the service in PostgreSQL (SQLAlchemy 2 typed models).

Alembic migrations in ``migrations/`` must match these models: ``reconnect-pbx db check`` fails when
they disagree. Enumerations are stored as short strings with CHECK constraints (no PostgreSQL ENUM
types: adding a value stays a one-line migration).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _str_enum(enum_type: type[enum.Enum], name: str) -> Enum:
    return Enum(
        enum_type,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Language(str, enum.Enum):
    FR = "fr"
    EN = "en"


class BeneficiaryStatus(str, enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class NumberState(str, enum.Enum):
    FREE = "free"
    ASSIGNED = "assigned"
    QUARANTINED = "quarantined"


class MessageState(str, enum.Enum):
    NEW = "new"
    SAVED = "saved"
    DELETED = "deleted"


class GreetingKind(str, enum.Enum):
    # The personal greeting replaces the default one; the name is said inside the default one.
    PERSONAL = "personal"
    NAME = "name"


class CallDirection(str, enum.Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Centre(Base):
    __tablename__ = "centres"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    city: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()


class Beneficiary(Base):
    """A person enrolled by a centre. Never deleted while data about them is kept."""

    __tablename__ = "beneficiaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    language: Mapped[Language] = mapped_column(_str_enum(Language, "language"), default=Language.FR)
    status: Mapped[BeneficiaryStatus] = mapped_column(
        _str_enum(BeneficiaryStatus, "beneficiary_status"), default=BeneficiaryStatus.ACTIVE
    )
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), index=True)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    centre: Mapped[Centre] = relationship()
    credential: Mapped[Credential | None] = relationship(back_populates="beneficiary")
    mailbox: Mapped[Mailbox | None] = relationship(back_populates="beneficiary")


class Credential(Base):
    """The PIN and the guessing counters, which hold across calls and caller IDs."""

    __tablename__ = "credentials"

    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"), primary_key=True)
    # argon2id hash; the PIN itself is never stored.
    pin_hash: Mapped[str] = mapped_column(String(200))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set after too many failures: only `pin reset` by staff lifts it.
    login_suspended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    pin_changed_at: Mapped[datetime] = _now()
    # True while the PIN is one that staff handed over (`enrol`, `pin reset`): the next login
    # must choose a new one before reaching the menus. Cleared when the person changes it. A new
    # credential is always one staff handed over, hence the default.
    pin_must_change: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("false"))

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="credential")


class PhoneNumber(Base):
    __tablename__ = "phone_numbers"
    __table_args__ = (
        CheckConstraint("e164 ~ '^\\+[1-9][0-9]{6,14}$'", name="e164_format"),
        CheckConstraint(
            "(state = 'quarantined') = (quarantine_until IS NOT NULL)", name="quarantine_end"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(16), unique=True)
    trunk: Mapped[str] = mapped_column(String(64), default="trunk")
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), index=True)
    state: Mapped[NumberState] = mapped_column(_str_enum(NumberState, "number_state"), default=NumberState.FREE)
    quarantine_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()

    centre: Mapped[Centre] = relationship()


class NumberAssignment(Base):
    """Who held which number, from when to when.

    A message is attributed to the person who held the called number at the time of the call, even
    when it is stored later (fallback spool), so the history is never rewritten: an assignment is
    only ever closed by setting ``ended_at``.
    """

    __tablename__ = "number_assignments"
    __table_args__ = (
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ordered"),
        # At most one open assignment per number and per person.
        Index(
            "uq_number_assignments_open_number",
            "phone_number_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index(
            "uq_number_assignments_open_beneficiary",
            "beneficiary_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_number_id: Mapped[int] = mapped_column(ForeignKey("phone_numbers.id"), index=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    started_at: Mapped[datetime] = _now()
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    phone_number: Mapped[PhoneNumber] = relationship()
    beneficiary: Mapped[Beneficiary] = relationship()


class AudioBlob(Base):
    """Stored audio (8 kHz 16-bit mono WAV), behind the storage interface in ``storage.py``."""

    __tablename__ = "audio_blobs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64), default="audio/wav")
    # Stored uncompressed (migration 0002): compression never shrinks audio, it only costs CPU.
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class Mailbox(Base):
    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"), unique=True)
    # False until the person has gone through the guided first login.
    onboarded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = _now()

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="mailbox")


class Greeting(Base):
    __tablename__ = "greetings"
    __table_args__ = (Index("uq_greetings_mailbox_kind", "mailbox_id", "kind", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"))
    kind: Mapped[GreetingKind] = mapped_column(_str_enum(GreetingKind, "greeting_kind"))
    audio_id: Mapped[int] = mapped_column(ForeignKey("audio_blobs.id"))
    recorded_at: Mapped[datetime] = _now()


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("duration_ms >= 0", name="duration_positive"),
        Index("ix_messages_mailbox_state", "mailbox_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"))
    # E.164 when the caller presented a number; NULL when withheld or absent.
    caller_number: Mapped[str | None] = mapped_column(String(32))
    called_number: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int] = mapped_column(Integer)
    state: Mapped[MessageState] = mapped_column(_str_enum(MessageState, "message_state"), default=MessageState.NEW)
    # NULL once a deleted message's audio is erased.
    audio_id: Mapped[int | None] = mapped_column(ForeignKey("audio_blobs.id", ondelete="SET NULL"))
    heard_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Asterisk's channel id: makes storing a message idempotent after a crash.
    source_channel_id: Mapped[str | None] = mapped_column(String(128), unique=True)

    @property
    def caller_withheld(self) -> bool:
        return self.caller_number is None


class CallRecord(Base):
    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    direction: Mapped[CallDirection] = mapped_column(_str_enum(CallDirection, "call_direction"))
    flow: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(128), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(32))
    called_number: Mapped[str | None] = mapped_column(String(32))
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    started_at: Mapped[datetime] = _now()
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    billable_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    outcome: Mapped[str | None] = mapped_column(String(32))
    # For outbound calls: what the destination policy decided and why.
    policy_decision: Mapped[str | None] = mapped_column(String(64))


class AuditEvent(Base):
    """Operator actions and security events. Never holds a PIN."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = _now()
    # The operator (--operator or the Unix user), or "system" for events raised by calls.
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    note: Mapped[str | None] = mapped_column(Text)


class LoginFailure(Base):
    """A refused PIN login (wrong PIN or unknown number), kept for the brake on guessing.

    Read to count failures per calling number and for the whole service within
    ``access.brake_window_minutes`` (``services/access.py``); rows older than that window are
    deleted as new ones are written, so the calling numbers are not kept any longer.
    """

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    # As the caller ID arrived (not normalised); NULL when withheld: all withheld callers share one count.
    caller_number: Mapped[str | None] = mapped_column(String(32), index=True)


class StaffRole(str, enum.Enum):
    # A centre's staff see and act on their centre only; an admin, on every centre.
    STAFF = "staff"
    ADMIN = "admin"


class StaffAccount(Base):
    """A login to the web application (``reconnect-pbx web``), made by an operator with `staff add`."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Kept in lower case: the login compares lower-cased addresses.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), index=True)
    role: Mapped[StaffRole] = mapped_column(_str_enum(StaffRole, "staff_role"), default=StaffRole.STAFF)
    # argon2id; NULL until the person sets a password through their one-time link.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 of the one-time password link's token (the token itself is only ever printed once).
    password_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    language: Mapped[Language] = mapped_column(_str_enum(Language, "language"), default=Language.FR)
    created_at: Mapped[datetime] = _now()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    centre: Mapped[Centre] = relationship()


class StaffLoginAttempt(Base):
    """Failed and successful web logins, for throttling per account and per client address.

    ``email`` is what was typed (lower-cased), whether or not such an account exists, so that an
    unknown address is throttled exactly like a known one."""

    __tablename__ = "staff_login_attempts"
    __table_args__ = (
        Index("ix_staff_login_attempts_email_at", "email", "at"),
        Index("ix_staff_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = _now()
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)


class FormSubmission(Base):
    """A web form's one-time token, so that a form sent twice (double click, reload) acts once."""

    __tablename__ = "form_submissions"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    # What the first submission made (the enrolled person), to send the second one there.
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id"))
    created_at: Mapped[datetime] = _now()


class CurrentPhone(Base):
    """The phone a person has now (one French mobile or landline), which their number follows.

    Set by staff (``phone set``) or by the person (PIN menu), and rung only once a call to it was
    answered with 1 ("this phone is yours"): ``confirmed_at``. Changing where calls go is the
    classic voicemail-fraud step, so every change is audited (``phone.*`` actions)."""

    __tablename__ = "current_phones"
    __table_args__ = (CheckConstraint("e164 ~ '^\\+33[1-79][0-9]{8}$'", name="french_e164"),)

    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"), primary_key=True)
    e164: Mapped[str] = mapped_column(String(16))
    # What the destination policy said it is: "mobile", "geographic" or "non-geographic".
    category: Mapped[str] = mapped_column(String(16))
    # Calls to the personal number ring this phone first (the person's switch).
    follow: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    set_at: Mapped[datetime] = _now()
    set_by: Mapped[str] = mapped_column(String(100))
    # NULL until a confirmation call to this very number was answered with 1.
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A confirmation call is wanted (serve places it, then clears this).
    confirmation_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How the last confirmation call ended: confirmed, refused, no-answer, busy, failed, not-allowed.
    confirmation_outcome: Mapped[str | None] = mapped_column(String(32))
    # A call to this phone when a message arrives (services/alerts.py).
    alerts: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class PendingAlert(Base):
    """A new-message alert call to a person's current phone (issue 13), kept in PostgreSQL so that
    it survives a restart of ``serve``. At most one open (pending or calling) alert per person:
    the messages that arrive meanwhile are coalesced into it (``messages``)."""

    __tablename__ = "pending_alerts"
    __table_args__ = (
        Index(
            "uq_pending_alerts_open_beneficiary",
            "beneficiary_id",
            unique=True,
            postgresql_where=text("state IN ('pending', 'calling')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    created_at: Mapped[datetime] = _now()
    # Not placed before (the coalescing window, quiet hours, the retry delay).
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # pending, calling, answered (1 pressed), failed (retries used up), dropped (no phone any more).
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    messages: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
