"""Data protection: purging what may no longer be kept, and exporting what is held about a person.

What ``purge`` does, in this order (each step leaves out what an earlier one already covers):

1. Closed people whose erasure date has passed (``closed_at`` + ``retention.closed_erase_after_days``,
   by default the number's quarantine): their messages, greetings and credential are deleted with
   any audio; the beneficiary row stays, its name replaced by ``erased``; their call records lose
   the caller and called numbers; the audit events about them lose their note and any detail that
   names them. Number assignments are kept: they hold only ids and dates, and they are what proves
   who held a number when.
2. Messages received more than ``retention.message_retention_days`` ago are deleted, audio with them,
   whatever their state (new, saved or deleted).
3. Messages in state ``deleted`` lose their audio at once (the row stays for the person's list and
   for the monthly figures).
4. Call records that started more than ``retention.call_record_retention_days`` ago lose the caller
   and called numbers, whoever they are about (active people included); the rest of the row stays
   for the figures.
5. Audit events older than ``retention.audit_retention_days`` are deleted, whoever they are about
   (the ``privacy.purge`` events included).

Every step is idempotent: a second run finds nothing left to do. A dry run only counts. A real run
writes one ``privacy.purge`` audit event with the counts.

``export`` gathers everything held about one person, for a subject access request (GDPR art. 15):
profile, numbers and their assignment history, messages (metadata), greetings, call records,
audit events about them, and the state of their credential without the PIN hash. As a zip, it holds
``data.json`` plus ``audio/message-<id>.wav`` and ``audio/greeting-<kind>.wav``; as JSON it is
``data.json`` alone (each ``audio`` field then says ``null``).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from reconnect_pbx import phone
from reconnect_pbx.config import Settings
from reconnect_pbx.models import (
    AuditEvent,
    Beneficiary,
    BeneficiaryStatus,
    CallRecord,
    Credential,
    CurrentPhone,
    Greeting,
    Mailbox,
    Message,
    MessageState,
    NumberAssignment,
    PhoneNumber,
)
from reconnect_pbx.services import audit
from reconnect_pbx.storage import AudioStore

ERASED_NAME = "erased"
# Two purges at once would count the same rows twice: a real run holds this transaction-level lock.
_PURGE_LOCK_KEY = 0x5245_5055  # "REPU"
# Times in an export are given in the centres' time zone, with their UTC offset.
EXPORT_TIMEZONE = ZoneInfo("Europe/Paris")
EXPORT_FORMAT = "reconnect-pbx person export, version 1"
# Audit detail keys that may carry a person's identity; emptied when the person is erased.
_IDENTIFYING_DETAIL_KEYS = frozenset({"name", "display_name", "old_name", "new_name", "old_display_name", "new_display_name"})


# ---------------------------------------------------------------------------------------------
# Purge


@dataclass(frozen=True)
class RetentionPolicy:
    message_retention_days: int
    closed_erase_after_days: int
    call_record_retention_days: int = 365
    audit_retention_days: int = 365

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        retention = settings.retention
        erase_after = retention.closed_erase_after_days
        if erase_after < 0:
            erase_after = settings.numbers.quarantine_days
        return cls(
            retention.message_retention_days,
            erase_after,
            retention.call_record_retention_days,
            retention.audit_retention_days,
        )


@dataclass
class PurgeCounts:
    people_erased: int = 0
    person_messages_erased: int = 0
    greetings_erased: int = 0
    credentials_erased: int = 0
    call_records_scrubbed: int = 0
    messages_expired: int = 0
    deleted_message_audio_erased: int = 0
    audio_erased: int = 0
    call_records_expired: int = 0
    audit_events_expired: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Plan:
    people: list[int] = field(default_factory=list)
    person_messages: list[tuple[int, int | None]] = field(default_factory=list)
    greetings: list[tuple[int, int]] = field(default_factory=list)
    credentials: list[int] = field(default_factory=list)
    call_records: list[int] = field(default_factory=list)
    expired: list[tuple[int, int | None]] = field(default_factory=list)
    deleted_audio: list[tuple[int, int | None]] = field(default_factory=list)
    old_call_records: list[int] = field(default_factory=list)
    old_audit_events: list[int] = field(default_factory=list)

    def counts(self) -> PurgeCounts:
        audio = [a for _, a in self.person_messages + self.expired + self.deleted_audio if a is not None]
        audio += [a for _, a in self.greetings]
        return PurgeCounts(
            people_erased=len(self.people),
            person_messages_erased=len(self.person_messages),
            greetings_erased=len(self.greetings),
            credentials_erased=len(self.credentials),
            call_records_scrubbed=len(self.call_records),
            messages_expired=len(self.expired),
            deleted_message_audio_erased=len(self.deleted_audio),
            audio_erased=len(set(audio)),
            call_records_expired=len(self.old_call_records),
            audit_events_expired=len(self.old_audit_events),
        )


def purge(
    session: Session,
    store: AudioStore,
    policy: RetentionPolicy,
    now: datetime,
    *,
    actor: str,
    dry_run: bool = False,
) -> PurgeCounts:
    """Erase what the retention policy no longer allows to keep; with ``dry_run``, only count."""
    if not dry_run:
        session.execute(select(func.pg_advisory_xact_lock(_PURGE_LOCK_KEY)))
    plan = _plan(session, policy, now)
    counts = plan.counts()
    if dry_run:
        return counts
    _erase_people(session, plan.people)
    for message_id, audio_id in plan.person_messages + plan.expired:
        session.execute(delete(Message).where(Message.id == message_id))
        if audio_id is not None:
            store.delete(session, audio_id)
    for greeting_id, audio_id in plan.greetings:
        session.execute(delete(Greeting).where(Greeting.id == greeting_id))
        store.delete(session, audio_id)
    if plan.credentials:
        session.execute(delete(Credential).where(Credential.beneficiary_id.in_(plan.credentials)))
    if plan.call_records:
        session.execute(
            update(CallRecord)
            .where(CallRecord.id.in_(plan.call_records))
            .values(caller_number=None, called_number=None)
        )
    for message_id, audio_id in plan.deleted_audio:
        session.execute(update(Message).where(Message.id == message_id).values(audio_id=None))
        if audio_id is not None:
            store.delete(session, audio_id)
    if plan.old_call_records:
        session.execute(
            update(CallRecord)
            .where(CallRecord.id.in_(plan.old_call_records))
            .values(caller_number=None, called_number=None)
        )
    if plan.old_audit_events:
        session.execute(delete(AuditEvent).where(AuditEvent.id.in_(plan.old_audit_events)))
    audit.record(
        session,
        actor,
        "privacy.purge",
        message_retention_days=policy.message_retention_days,
        closed_erase_after_days=policy.closed_erase_after_days,
        call_record_retention_days=policy.call_record_retention_days,
        audit_retention_days=policy.audit_retention_days,
        **counts.as_dict(),
    )
    return counts


def _plan(session: Session, policy: RetentionPolicy, now: datetime) -> _Plan:
    plan = _Plan()
    erase_before = now - timedelta(days=policy.closed_erase_after_days)
    due = select(Beneficiary.id).where(
        Beneficiary.status == BeneficiaryStatus.CLOSED,
        Beneficiary.closed_at.is_not(None),
        Beneficiary.closed_at <= erase_before,
    )
    due_mailboxes = select(Mailbox.id).where(Mailbox.beneficiary_id.in_(due))

    plan.person_messages = _pairs(
        session.execute(select(Message.id, Message.audio_id).where(Message.mailbox_id.in_(due_mailboxes)))
    )
    plan.greetings = _pairs(
        session.execute(select(Greeting.id, Greeting.audio_id).where(Greeting.mailbox_id.in_(due_mailboxes)))
    )
    plan.credentials = list(session.scalars(select(Credential.beneficiary_id).where(Credential.beneficiary_id.in_(due))))
    plan.call_records = list(
        session.scalars(
            select(CallRecord.id).where(
                CallRecord.beneficiary_id.in_(due),
                or_(CallRecord.caller_number.is_not(None), CallRecord.called_number.is_not(None)),
            )
        )
    )
    # A person counts as erased by this run if anything of theirs was still there.
    with_data = {b for b in session.scalars(due.where(Beneficiary.display_name != ERASED_NAME))}
    with_data |= set(plan.credentials)
    with_data |= set(
        session.scalars(select(Mailbox.beneficiary_id).where(
            Mailbox.beneficiary_id.in_(due),
            or_(
                exists().where(Message.mailbox_id == Mailbox.id),
                exists().where(Greeting.mailbox_id == Mailbox.id),
            ),
        ))
    )
    if plan.call_records:
        with_data |= set(session.scalars(select(CallRecord.beneficiary_id).where(CallRecord.id.in_(plan.call_records))))
    plan.people = sorted(with_data)

    others = ~Message.mailbox_id.in_(due_mailboxes)
    cutoff = now - timedelta(days=policy.message_retention_days)
    plan.expired = _pairs(
        session.execute(select(Message.id, Message.audio_id).where(Message.received_at < cutoff, others))
    )
    plan.deleted_audio = _pairs(
        session.execute(
            select(Message.id, Message.audio_id).where(
                Message.state == MessageState.DELETED,
                Message.audio_id.is_not(None),
                Message.received_at >= cutoff,
                others,
            )
        )
    )
    records_cutoff = now - timedelta(days=policy.call_record_retention_days)
    already = set(plan.call_records)
    plan.old_call_records = [
        record_id
        for record_id in session.scalars(
            select(CallRecord.id).where(
                CallRecord.started_at < records_cutoff,
                or_(CallRecord.caller_number.is_not(None), CallRecord.called_number.is_not(None)),
            )
        )
        if record_id not in already
    ]
    audit_cutoff = now - timedelta(days=policy.audit_retention_days)
    plan.old_audit_events = list(session.scalars(select(AuditEvent.id).where(AuditEvent.at < audit_cutoff)))
    return plan


def _pairs(rows: Iterable[Any]) -> list[tuple[Any, Any]]:
    return [(first, second) for first, second in rows]


def _erase_people(session: Session, people: list[int]) -> None:
    if not people:
        return
    session.execute(update(Beneficiary).where(Beneficiary.id.in_(people)).values(display_name=ERASED_NAME))
    for event in session.scalars(select(AuditEvent).where(AuditEvent.beneficiary_id.in_(people))):
        details = dict(event.details or {})
        scrubbed = {k: (None if k.lower() in _IDENTIFYING_DETAIL_KEYS else v) for k, v in details.items()}
        if scrubbed != details or event.note is not None:
            event.details = scrubbed
            event.note = None


# ---------------------------------------------------------------------------------------------
# Export


@dataclass(frozen=True)
class PersonExport:
    data: dict[str, Any]
    # Zip member name -> bytes (empty when the export is JSON only).
    audio: dict[str, bytes]

    def to_json(self) -> bytes:
        return (json.dumps(self.data, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")

    def to_zip(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data.json", self.to_json())
            for name, data in sorted(self.audio.items()):
                # WAV hardly compresses; stored is faster and as small.
                archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_STORED)
        return buffer.getvalue()


def export_person(
    session: Session,
    store: AudioStore,
    beneficiary: Beneficiary,
    now: datetime,
    *,
    actor: str,
    with_audio: bool,
) -> PersonExport:
    """Everything held about ``beneficiary``; the export itself is audited (never the PIN hash)."""
    audio: dict[str, bytes] = {}

    def attach(name: str, audio_id: int | None) -> str | None:
        if audio_id is None or not with_audio:
            return None
        data = store.get(session, audio_id)
        if data is None:
            return None
        audio[name] = data
        return name

    person_id = beneficiary.id
    mailbox = session.scalar(select(Mailbox).where(Mailbox.beneficiary_id == person_id))
    credential = session.get(Credential, person_id)
    current_phone = session.get(CurrentPhone, person_id)
    assignments = session.execute(
        select(NumberAssignment, PhoneNumber.e164)
        .join(PhoneNumber, PhoneNumber.id == NumberAssignment.phone_number_id)
        .where(NumberAssignment.beneficiary_id == person_id)
        .order_by(NumberAssignment.started_at, NumberAssignment.id)
    ).all()
    messages = (
        list(session.scalars(select(Message).where(Message.mailbox_id == mailbox.id).order_by(Message.received_at, Message.id)))
        if mailbox
        else []
    )
    greetings = (
        list(session.scalars(select(Greeting).where(Greeting.mailbox_id == mailbox.id).order_by(Greeting.kind)))
        if mailbox
        else []
    )
    calls = list(
        session.scalars(
            select(CallRecord).where(CallRecord.beneficiary_id == person_id).order_by(CallRecord.started_at, CallRecord.id)
        )
    )
    events = list(
        session.scalars(select(AuditEvent).where(AuditEvent.beneficiary_id == person_id).order_by(AuditEvent.at, AuditEvent.id))
    )
    centre = beneficiary.centre

    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(now),
        "exported_by": actor,
        "person": {
            "id": person_id,
            "display_name": beneficiary.display_name,
            "language": _value(beneficiary.language),
            "status": _value(beneficiary.status),
            "centre": {"id": centre.id, "name": centre.name, "city": centre.city},
            "created_at": _iso(beneficiary.created_at),
            "updated_at": _iso(beneficiary.updated_at),
            "closed_at": _iso(beneficiary.closed_at),
        },
        # The PIN is never stored; its hash is deliberately left out.
        "credential": None
        if credential is None
        else {
            "pin_changed_at": _iso(credential.pin_changed_at),
            "failed_attempts": credential.failed_attempts,
            "locked_until": _iso(credential.locked_until),
            "login_suspended": credential.login_suspended,
        },
        "mailbox": None
        if mailbox is None
        else {"id": mailbox.id, "onboarded": mailbox.onboarded, "created_at": _iso(mailbox.created_at)},
        # The phone their number follows (issue 13).
        "current_phone": None
        if current_phone is None
        else {
            "number": current_phone.e164,
            "category": current_phone.category,
            "follow": current_phone.follow,
            "set_at": _iso(current_phone.set_at),
            "set_by": current_phone.set_by,
            "confirmed_at": _iso(current_phone.confirmed_at),
        },
        "numbers": [
            {
                "number": e164,
                "national": phone.national_format(e164),
                "started_at": _iso(assignment.started_at),
                "ended_at": _iso(assignment.ended_at),
            }
            for assignment, e164 in assignments
        ],
        "messages": [
            {
                "id": m.id,
                "caller_number": m.caller_number,
                "called_number": m.called_number,
                "received_at": _iso(m.received_at),
                "duration_ms": m.duration_ms,
                "state": _value(m.state),
                "heard_at": _iso(m.heard_at),
                "deleted_at": _iso(m.deleted_at),
                "audio": attach(f"audio/message-{m.id}.wav", m.audio_id),
            }
            for m in messages
        ],
        "greetings": [
            {
                "kind": _value(g.kind),
                "recorded_at": _iso(g.recorded_at),
                "audio": attach(f"audio/greeting-{_value(g.kind)}.wav", g.audio_id),
            }
            for g in greetings
        ],
        "call_records": [
            {
                "id": c.id,
                "direction": _value(c.direction),
                "flow": c.flow,
                "caller_number": c.caller_number,
                "called_number": c.called_number,
                "started_at": _iso(c.started_at),
                "answered_at": _iso(c.answered_at),
                "ended_at": _iso(c.ended_at),
                "billable_seconds": c.billable_seconds,
                "outcome": c.outcome,
                "policy_decision": c.policy_decision,
            }
            for c in calls
        ],
        "audit_events": [
            {"id": e.id, "at": _iso(e.at), "actor": e.actor, "action": e.action, "details": e.details, "note": e.note}
            for e in events
        ],
    }
    audit.record(
        session,
        actor,
        "beneficiary.export",
        beneficiary_id=person_id,
        with_audio=with_audio,
        messages=len(messages),
        audio_files=len(audio),
    )
    return PersonExport(data=data, audio=audio)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(EXPORT_TIMEZONE).isoformat() if value is not None else None


def _value(member: Any) -> Any:
    return getattr(member, "value", member)
