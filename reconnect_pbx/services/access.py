"""A person's own side of the service: PIN login with its lockout, messages, greetings, language.

No transport here: the access flow (``flows/access.py``) calls these in a worker thread, each call
in one transaction of its own.

PIN guessing is capped across calls and caller IDs (app_voicemail only counts within one call),
after NIST SP 800-63B (rate limiting, 5.2.2): growing delays rather than an early lock-out, since
anyone who knows the number printed on the cards could otherwise lock its owner out.

- Every wrong PIN adds one to ``credentials.failed_attempts``; a right one sets it back to 0, and
  the login tells the person how many failures there were since their last login
  (``Account.failures_since_last_login``: the flow says it before the menu).
- From ``lock_after_failures`` consecutive failures (5), each failure locks the mailbox for a delay
  that doubles: 1, 2, 4 ... minutes, at most ``lock_max_minutes`` (60). A guesser gets about one
  try an hour, and the person can still log in between two tries.
- At ``alert_after_failures`` (20) staff are alerted (audit event ``pin.alert``; the flow logs a
  warning and counts ``reconnect_login_alerts_total``); nothing changes for the person.
- At ``suspend_after_failures`` (100, some four days of hourly guesses), PIN login is suspended
  until staff run ``pin reset``.
  Each lock and each suspension is an audit event (``pin.locked``, ``pin.suspended``: the usage
  report counts them); the result says so, and the call flow logs a warning with its channel id.
- A brake for the whole service (``login_brake``): failed logins are also kept, with the calling
  number, in ``login_failures``; past ``brake_failures_per_caller`` failures from one calling
  number, or ``brake_failures_service`` from everybody, within ``brake_window_minutes``, a login
  gets ``BRAKED`` without any PIN being checked ("try again later"). The state is in PostgreSQL,
  so it holds across processes. Withheld callers share one count.
- While locked or suspended, the PIN is not checked at all, so an attempt then is not counted and
  teaches a guesser nothing: the answer is ``LOCKED``/``SUSPENDED`` whatever was typed. Telling
  the person (rather than "incorrect") keeps them from believing they forgot their PIN and burning
  attempts towards the suspension. It reveals only that this number has a mailbox (which calling
  the number already shows) and that it is locked; never anything about the PIN. (Saying "locked"
  only after a right PIN, and "incorrect" after a wrong one, would hand a guesser an oracle: they
  would learn the PIN during the lock and just wait for it to end.)
- An unknown personal number gets ``REFUSED``, exactly as a wrong PIN, after a verify against a
  dummy hash of the same cost: same answer, same time.
- A person suspended by staff (``people.suspend``) gets ``SUSPENDED`` the same way, PIN unchecked.

The count is read and written under a row lock on the credential (``SELECT ... FOR UPDATE``), in
the same transaction as the verify: concurrent calls guessing at one mailbox are counted one by one.
The PIN never leaves this module's arguments: not in a log line, not in an audit event.
"""

from __future__ import annotations

import enum
import functools
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from reconnect_pbx import phone, pin_policy
from reconnect_pbx.config import AccessSettings
from reconnect_pbx.models import (
    Beneficiary,
    BeneficiaryStatus,
    Credential,
    Greeting,
    GreetingKind,
    Language,
    LoginFailure,
    Mailbox,
    Message,
    MessageState,
    NumberAssignment,
    PhoneNumber,
)
from reconnect_pbx.services import audit, credentials, voicemail
from reconnect_pbx.storage import AudioStore

log = logging.getLogger(__name__)

# Audit actor for what people do over the phone and for what calls raise.
SYSTEM_ACTOR = "system"
PHONE_ACTOR = "phone"


def _utcnow() -> datetime:
    return datetime.now(UTC)


# -- finding the mailbox from what was typed -----------------------------------------------------


def find_mailbox_by_typed_number(
    session: Session, typed: str, *, digits: int, region: str, at: datetime | None = None
) -> voicemail.MailboxTarget | None:
    """The mailbox whose personal number the caller typed at the access number, or None.

    ``digits`` is ``access.personal_number_digits``: when it covers the whole national number (10 in
    France) the caller types it in full (0142685300); with fewer, they type its last ``digits``
    digits, which must then match exactly one number assigned now (an ambiguous ending finds
    nothing: the configuration should use enough digits for the pool).
    """
    at = at or _utcnow()
    if not re.fullmatch(r"[0-9]+", typed or ""):
        return None
    try:
        e164 = phone.normalise(typed, region)
    except phone.InvalidNumber:
        e164 = None
    if e164 is not None and len(typed) >= digits:
        return voicemail.find_mailbox_for_number(session, e164, at)
    if len(typed) != digits:
        return None
    candidates = list(
        session.scalars(
            select(PhoneNumber.e164)
            .join(NumberAssignment, NumberAssignment.phone_number_id == PhoneNumber.id)
            .where(
                PhoneNumber.e164.like(f"%{typed}"),
                NumberAssignment.started_at <= at,
                NumberAssignment.ended_at.is_(None),
            )
            .limit(2)
        )
    )
    if len(candidates) != 1:
        if candidates:
            log.warning("the last %d digits typed match several numbers: raise access.personal_number_digits", digits)
        return None
    return voicemail.find_mailbox_for_number(session, candidates[0], at)


# -- login ---------------------------------------------------------------------------------------


class LoginOutcome(str, enum.Enum):
    ACCEPTED = "accepted"
    # A wrong PIN, or an unknown number: the caller hears the same thing.
    REFUSED = "refused"
    LOCKED = "locked"
    SUSPENDED = "suspended"
    # Too many failed logins from this calling number or from everybody lately: nothing checked.
    BRAKED = "braked"


@dataclass(frozen=True)
class Account:
    """The logged-in person, as the menus need them."""

    beneficiary_id: int
    mailbox_id: int
    number: str
    language: Language
    onboarded: bool
    # The PIN is the one staff handed over (enrol, pin reset): a new one before the menus.
    must_change_pin: bool = False
    # Failed PIN logins since the previous successful one: the person is told.
    failures_since_last_login: int = 0


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    account: Account | None = None
    # The mailbox the attempt was about; None for an unknown number.
    mailbox_id: int | None = None
    # Consecutive failures after this attempt (0 for an unknown number or a right PIN).
    failures: int = 0
    # Set when this attempt started a lock (minutes) or the suspension.
    locked_minutes: int | None = None
    suspended_now: bool = False
    # Set when this attempt reached ``alert_after_failures``: staff are to be warned.
    alert_now: bool = False
    # For BRAKED: "caller" or "service", the count that tripped it, and its limit.
    brake: Brake | None = None


@dataclass(frozen=True)
class LockPolicy:
    lock_after_failures: int = 5
    lock_max_minutes: int = 60
    suspend_after_failures: int = 100
    alert_after_failures: int = 20

    @classmethod
    def from_settings(cls, settings: AccessSettings) -> LockPolicy:
        return cls(
            settings.lock_after_failures,
            settings.lock_max_minutes,
            settings.suspend_after_failures,
            settings.alert_after_failures,
        )


def lock_minutes(failures: int, policy: LockPolicy) -> int | None:
    """How long ``failures`` consecutive failures lock the mailbox: None below the threshold,
    then 1, 2, 4 ... minutes, capped at ``lock_max_minutes``."""
    if failures < policy.lock_after_failures:
        return None
    steps = failures - policy.lock_after_failures
    # 2**steps grows fast: stop doubling once past the cap.
    if steps >= policy.lock_max_minutes.bit_length():
        return policy.lock_max_minutes
    return min(2**steps, policy.lock_max_minutes)


@functools.cache
def _dummy_hash() -> str:
    # A hash of a random PIN, with the same parameters as real ones: verifying against it takes as
    # long as a real verify, so an unknown number answers in the same time as a wrong PIN.
    return credentials.hash_pin(secrets.token_hex(8))


def attempt_login(
    session: Session,
    beneficiary_id: int | None,
    pin: str,
    policy: LockPolicy,
    *,
    now: datetime | None = None,
) -> LoginResult:
    """Check ``pin`` for the person ``beneficiary_id`` (None: the number typed is unknown) and
    update the failure count, under a row lock on the credential. A right PIN hashed with old
    argon2 parameters is rehashed."""
    now = now or _utcnow()
    if beneficiary_id is None:
        credentials.verify_pin(_dummy_hash(), pin)
        return LoginResult(LoginOutcome.REFUSED)
    credential = session.scalar(
        select(Credential).where(Credential.beneficiary_id == beneficiary_id).with_for_update()
    )
    person = session.get(Beneficiary, beneficiary_id)
    mailbox = session.scalar(select(Mailbox).where(Mailbox.beneficiary_id == beneficiary_id))
    if credential is None or person is None or mailbox is None or person.status == BeneficiaryStatus.CLOSED:
        credentials.verify_pin(_dummy_hash(), pin)
        return LoginResult(LoginOutcome.REFUSED)
    if credential.login_suspended or person.status == BeneficiaryStatus.SUSPENDED:
        credentials.verify_pin(_dummy_hash(), pin)
        return LoginResult(LoginOutcome.SUSPENDED, mailbox_id=mailbox.id, failures=credential.failed_attempts)
    if credential.locked_until is not None and credential.locked_until > now:
        credentials.verify_pin(_dummy_hash(), pin)
        return LoginResult(LoginOutcome.LOCKED, mailbox_id=mailbox.id, failures=credential.failed_attempts)

    if credentials.verify_pin(credential.pin_hash, pin):
        failures_before = credential.failed_attempts or 0
        credential.failed_attempts = 0
        credential.locked_until = None
        if credentials.needs_rehash(credential.pin_hash):
            credential.pin_hash = credentials.hash_pin(pin)
        account = Account(
            beneficiary_id=person.id,
            mailbox_id=mailbox.id,
            number=_current_number(session, person.id) or "",
            language=Language(person.language),
            onboarded=mailbox.onboarded,
            must_change_pin=bool(credential.pin_must_change),
            failures_since_last_login=failures_before,
        )
        return LoginResult(LoginOutcome.ACCEPTED, account=account, mailbox_id=mailbox.id)

    credential.failed_attempts = (credential.failed_attempts or 0) + 1
    failures = credential.failed_attempts
    if failures >= policy.suspend_after_failures:
        credential.login_suspended = True
        credential.locked_until = None
        audit.record(session, SYSTEM_ACTOR, "pin.suspended", person.id, failures=failures)
        return LoginResult(LoginOutcome.REFUSED, mailbox_id=mailbox.id, failures=failures, suspended_now=True)
    alert_now = failures == policy.alert_after_failures
    if alert_now:
        audit.record(session, SYSTEM_ACTOR, "pin.alert", person.id, failures=failures)
    minutes = lock_minutes(failures, policy)
    if minutes is not None:
        credential.locked_until = now + timedelta(minutes=minutes)
        audit.record(session, SYSTEM_ACTOR, "pin.locked", person.id, failures=failures, minutes=minutes)
    return LoginResult(
        LoginOutcome.REFUSED, mailbox_id=mailbox.id, failures=failures, locked_minutes=minutes, alert_now=alert_now
    )


def log_in_with_number(
    session: Session,
    typed_number: str,
    pin: str,
    policy: LockPolicy,
    digits: int,
    region: str,
    now: datetime | None = None,
) -> LoginResult:
    """A login at the access number: the mailbox of the number typed (see
    ``find_mailbox_by_typed_number``), then ``attempt_login``; in one transaction."""
    now = now or _utcnow()
    target = find_mailbox_by_typed_number(session, typed_number, digits=digits, region=region, at=now)
    return attempt_login(session, target.beneficiary_id if target else None, pin, policy, now=now)


# -- the brake on guessing, for the whole service ------------------------------------------------


@dataclass(frozen=True)
class BrakePolicy:
    window_minutes: int = 10
    failures_per_caller: int = 10
    failures_service: int = 100

    @classmethod
    def from_settings(cls, settings: AccessSettings) -> BrakePolicy:
        return cls(settings.brake_window_minutes, settings.brake_failures_per_caller, settings.brake_failures_service)


@dataclass(frozen=True)
class Brake:
    # "caller" (this calling number) or "service" (everybody).
    scope: str
    failures: int
    limit: int


def _caller_key(caller_number: str | None) -> str | None:
    caller_number = (caller_number or "").strip()
    return caller_number[:32] or None


def login_brake(
    session: Session, caller_number: str | None, policy: BrakePolicy, *, now: datetime | None = None
) -> Brake | None:
    """The brake, when the failed logins of the last ``window_minutes`` reached a limit: from this
    calling number (withheld callers count as one), or from everybody; else None. Failures older
    than the window are deleted on the way: calling numbers are kept no longer than needed."""
    now = now or _utcnow()
    _forget_old_failures(session, policy, now)
    recent = select(func.count()).select_from(LoginFailure).where(
        LoginFailure.at > now - timedelta(minutes=policy.window_minutes), LoginFailure.at <= now
    )
    key = _caller_key(caller_number)
    same_caller = LoginFailure.caller_number.is_(None) if key is None else LoginFailure.caller_number == key
    from_caller = session.scalar(recent.where(same_caller)) or 0
    if from_caller >= policy.failures_per_caller:
        return Brake("caller", from_caller, policy.failures_per_caller)
    from_everybody = session.scalar(recent) or 0
    if from_everybody >= policy.failures_service:
        return Brake("service", from_everybody, policy.failures_service)
    return None


def record_login_failure(
    session: Session, caller_number: str | None, policy: BrakePolicy, *, now: datetime | None = None
) -> None:
    """Count a refused login for the brake, and forget the ones older than the window."""
    now = now or _utcnow()
    session.add(LoginFailure(at=now, caller_number=_caller_key(caller_number)))
    _forget_old_failures(session, policy, now)


def _forget_old_failures(session: Session, policy: BrakePolicy, now: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - timedelta(minutes=policy.window_minutes)))


def log_in(
    session: Session,
    pin: str,
    policy: LockPolicy,
    brake: BrakePolicy,
    *,
    caller_number: str | None,
    beneficiary_id: int | None = None,
    typed_number: str | None = None,
    digits: int = 10,
    region: str = "FR",
    now: datetime | None = None,
) -> LoginResult:
    """A login from a call, in one transaction: first the brake (``BRAKED``: no PIN checked,
    nothing counted), then the mailbox of the number typed at the access number
    (``log_in_with_number``) or of ``beneficiary_id`` (``*`` in the greeting); a refusal is kept
    for the brake."""
    now = now or _utcnow()
    braked = login_brake(session, caller_number, brake, now=now)
    if braked is not None:
        return LoginResult(LoginOutcome.BRAKED, brake=braked)
    if typed_number is not None:
        result = log_in_with_number(session, typed_number, pin, policy, digits, region, now)
    else:
        result = attempt_login(session, beneficiary_id, pin, policy, now=now)
    if result.outcome == LoginOutcome.REFUSED:
        record_login_failure(session, caller_number, brake, now=now)
    return result


def _current_number(session: Session, beneficiary_id: int) -> str | None:
    return session.scalar(
        select(PhoneNumber.e164)
        .join(NumberAssignment, NumberAssignment.phone_number_id == PhoneNumber.id)
        .where(NumberAssignment.beneficiary_id == beneficiary_id, NumberAssignment.ended_at.is_(None))
    )


# -- what a logged-in person changes -------------------------------------------------------------


def check_new_pin(account: Account, new_pin: str, *, pin_length: int) -> None:
    """Raises ``pin_policy.WeakPin`` (with its reason code) if ``new_pin`` may not be chosen."""
    pin_policy.check_pin(new_pin, length=pin_length, own_number=account.number or None)


def change_pin(session: Session, account: Account, new_pin: str, *, pin_length: int, now: datetime | None = None) -> None:
    """Set a new PIN chosen on the phone (checked again). Raises ``pin_policy.WeakPin``."""
    check_new_pin(account, new_pin, pin_length=pin_length)
    credential = session.scalar(
        select(Credential).where(Credential.beneficiary_id == account.beneficiary_id).with_for_update()
    )
    if credential is None:
        credential = Credential(beneficiary_id=account.beneficiary_id)
        session.add(credential)
    credential.pin_hash = credentials.hash_pin(new_pin)
    credential.failed_attempts = 0
    credential.locked_until = None
    credential.pin_changed_at = now or _utcnow()
    credential.pin_must_change = False
    audit.record(session, PHONE_ACTOR, "pin.change", account.beneficiary_id)


def set_language(session: Session, beneficiary_id: int, language: Language) -> None:
    session.execute(update(Beneficiary).where(Beneficiary.id == beneficiary_id).values(language=language))


def complete_onboarding(session: Session, mailbox_id: int) -> None:
    session.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(onboarded=True))


# -- greetings -----------------------------------------------------------------------------------


def greeting_audio(session: Session, mailbox_id: int, kind: GreetingKind) -> int | None:
    return session.scalar(select(Greeting.audio_id).where(Greeting.mailbox_id == mailbox_id, Greeting.kind == kind))


def save_greeting(session: Session, store: AudioStore, mailbox_id: int, kind: GreetingKind, audio: bytes) -> int:
    """Store a personal greeting or a name, replacing (and erasing) the previous one."""
    audio_id = store.put(session, audio)
    greeting = session.scalar(
        select(Greeting).where(Greeting.mailbox_id == mailbox_id, Greeting.kind == kind).with_for_update()
    )
    if greeting is None:
        session.add(Greeting(mailbox_id=mailbox_id, kind=kind, audio_id=audio_id))
        session.flush()
        return audio_id
    old_audio = greeting.audio_id
    greeting.audio_id = audio_id
    greeting.recorded_at = func.now()
    session.flush()
    store.delete(session, old_audio)
    return audio_id


def delete_greeting(session: Session, store: AudioStore, mailbox_id: int, kind: GreetingKind) -> bool:
    """Delete a greeting and its audio; False if there was none."""
    greeting = session.scalar(select(Greeting).where(Greeting.mailbox_id == mailbox_id, Greeting.kind == kind))
    if greeting is None:
        return False
    audio_id = greeting.audio_id
    session.delete(greeting)
    session.flush()
    store.delete(session, audio_id)
    return True


# -- messages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageInfo:
    id: int
    received_at: datetime
    caller_number: str | None
    state: MessageState
    audio_id: int | None


@dataclass(frozen=True)
class MessageCounts:
    new: int
    saved: int


def message_counts(session: Session, mailbox_id: int) -> MessageCounts:
    counts = dict(
        session.execute(
            select(Message.state, func.count())
            .where(Message.mailbox_id == mailbox_id, Message.state != MessageState.DELETED)
            .group_by(Message.state)
        ).all()
    )
    return MessageCounts(new=counts.get(MessageState.NEW, 0), saved=counts.get(MessageState.SAVED, 0))


def messages_to_hear(session: Session, mailbox_id: int) -> list[MessageInfo]:
    """New messages first, then saved ones, the oldest first in each."""
    rows = session.scalars(
        select(Message)
        .where(
            Message.mailbox_id == mailbox_id,
            Message.state.in_([MessageState.NEW, MessageState.SAVED]),
            Message.audio_id.is_not(None),
        )
        .order_by((Message.state == MessageState.NEW).desc(), Message.received_at, Message.id)
    )
    return [MessageInfo(m.id, m.received_at, m.caller_number, m.state, m.audio_id) for m in rows]


def _message(session: Session, mailbox_id: int, message_id: int) -> Message | None:
    return session.scalar(
        select(Message).where(Message.id == message_id, Message.mailbox_id == mailbox_id).with_for_update()
    )


def mark_heard(session: Session, mailbox_id: int, message_id: int, now: datetime | None = None) -> None:
    """Heard to the end: a new message becomes saved; a deleted one stays deleted."""
    message = _message(session, mailbox_id, message_id)
    if message is None or message.state == MessageState.DELETED:
        return
    message.state = MessageState.SAVED
    if message.heard_at is None:
        message.heard_at = now or _utcnow()


def mark_saved(session: Session, mailbox_id: int, message_id: int) -> None:
    message = _message(session, mailbox_id, message_id)
    if message is not None and message.state != MessageState.DELETED:
        message.state = MessageState.SAVED


def mark_deleted(session: Session, mailbox_id: int, message_id: int, now: datetime | None = None) -> MessageState | None:
    """Delete (restorable until the call ends); returns the state to restore, None if not found."""
    message = _message(session, mailbox_id, message_id)
    if message is None or message.state == MessageState.DELETED:
        return None
    previous = message.state
    message.state = MessageState.DELETED
    message.deleted_at = now or _utcnow()
    return previous


def restore(session: Session, mailbox_id: int, message_id: int, state: MessageState) -> bool:
    """Undo a delete of this call; False if the audio is already gone."""
    message = _message(session, mailbox_id, message_id)
    if message is None or message.state != MessageState.DELETED or message.audio_id is None:
        return False
    message.state = state
    message.deleted_at = None
    return True


def erase_deleted(session: Session, store: AudioStore, mailbox_id: int, message_ids: list[int]) -> int:
    """End of call: messages still deleted lose their audio for good (the row stays, as ``purge``
    leaves it). Returns how many were erased."""
    if not message_ids:
        return 0
    rows = session.execute(
        select(Message.id, Message.audio_id)
        .where(
            Message.mailbox_id == mailbox_id,
            Message.id.in_(message_ids),
            Message.state == MessageState.DELETED,
            Message.audio_id.is_not(None),
        )
        .with_for_update()
    ).all()
    for message_id, audio_id in rows:
        session.execute(update(Message).where(Message.id == message_id).values(audio_id=None))
        store.delete(session, audio_id)
    return len(rows)
