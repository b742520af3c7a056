"""Staff accounts of the web application: creation, one-time password links, passwords, logins.

Passwords are hashed with argon2id at argon2-cffi's default cost (RFC 9106's second
recommendation: 64 MiB, 3 passes), far above the PINs' cost: a password is worth an offline search,
a PIN is protected by the phone lockout instead (services/credentials.py).

Password rules follow NIST SP 800-63B: at least 12 characters, not a well-known password nor the
account's own address, no composition rules and no forced rotation.

Logins are throttled per typed address (whether or not such an account exists) and per client IP
address; an unknown address, a wrong password and a disabled account get the same answer, and an
unknown address still costs one hash, so that neither the answer nor its delay tells which.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reconnect_pbx.models import Centre, Language, StaffAccount, StaffLoginAttempt, StaffRole
from reconnect_pbx.services import audit
from reconnect_pbx.services.errors import Conflict, InvalidInput, NotFound

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
EMAIL_MAX_LENGTH = 90  # the audit actor column holds "web:" + the address
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Well-known passwords of 12 characters or more (the shorter ones fail on length already).
BLOCKLIST = frozenset(
    {
        "123456789012", "1234567890123", "12345678901234", "qwertyuiopas", "qwertyuiop123",
        "azertyuiop123", "azertyuiopqs", "motdepasse123", "motdepasse1234", "password1234",
        "password12345", "passwordpassword", "iloveyou1234", "111111111111", "000000000000",
        "aaaaaaaaaaaa", "abcdefghijkl", "abc123abc123", "bonjour12345", "soleil123456",
        "reconnect123", "reconnectpbx", "changeme1234", "welcome12345", "administrateur",
        "administrator", "letmein12345", "qwerty123456", "azerty123456", "football1234",
        "motdepasse!!", "password123!", "bienvenue123", "bienvenue1234",
    }
)

_HASHER = PasswordHasher()
# Verified against for unknown addresses, so that they cost the same time as a known one.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))

LOGIN_FAILED = "login.failed"


class PasswordRejected(InvalidInput):
    """The new password breaks a rule; the message says which."""


class LoginRefused(Exception):
    """Unknown address, wrong password, disabled account or no password yet: one answer for all."""


class LoginThrottled(Exception):
    """Too many failures lately for this address or from this client."""


@dataclass(frozen=True)
class NewAccount:
    account_id: int
    email: str
    centre: str
    role: StaffRole
    # The one-time link's token: printed once, only its hash is stored.
    token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class AccountRow:
    id: int
    email: str
    centre: str
    role: StaffRole
    disabled: bool
    password_set: bool
    language: Language
    last_login_at: datetime | None


@dataclass(frozen=True)
class LoginRules:
    failures_per_account: int = 5
    failures_per_address: int = 30
    window_minutes: int = 15


def actor_of(account: StaffAccount) -> str:
    """What the audit log records for an action done in the web application."""
    return f"web:{account.email}"


def add_account(
    session: Session,
    *,
    email: str,
    centre: Centre,
    role: StaffRole,
    actor: str,
    link_hours: int,
    language: Language = Language.FR,
    now: datetime | None = None,
) -> NewAccount:
    now = now or _utcnow()
    email = clean_email(email)
    if session.scalar(select(StaffAccount.id).where(StaffAccount.email == email)) is not None:
        raise Conflict(f"a staff account {email} already exists")
    account = StaffAccount(email=email, centre_id=centre.id, role=role, language=language, disabled=False)
    session.add(account)
    token, expires = _new_token(account, link_hours, now)
    session.flush()
    audit.record(session, actor, "staff.add", None, email=email, centre=centre.name, role=role)
    return NewAccount(account.id, email, centre.name, role, token, expires)


def new_password_link(session: Session, email: str, *, actor: str, link_hours: int, now: datetime | None = None) -> NewAccount:
    """A fresh one-time link for ``email`` (forgotten password); the old password stays valid until used."""
    now = now or _utcnow()
    account = find_account(session, email)
    token, expires = _new_token(account, link_hours, now)
    audit.record(session, actor, "staff.password_link", None, email=account.email)
    return NewAccount(account.id, account.email, account.centre.name, account.role, token, expires)


def find_account(session: Session, email: str) -> StaffAccount:
    account = session.scalar(select(StaffAccount).where(StaffAccount.email == (email or "").strip().lower()))
    if account is None:
        raise NotFound(f"no staff account {email}")
    return account


def list_accounts(session: Session, centre: Centre | None = None) -> list[AccountRow]:
    query = select(StaffAccount, Centre.name).join(Centre, StaffAccount.centre_id == Centre.id).order_by(StaffAccount.email)
    if centre is not None:
        query = query.where(StaffAccount.centre_id == centre.id)
    return [
        AccountRow(a.id, a.email, name, a.role, a.disabled, a.password_hash is not None, a.language, a.last_login_at)
        for a, name in session.execute(query)
    ]


def disable(session: Session, email: str, *, actor: str) -> StaffAccount:
    account = find_account(session, email)
    if account.disabled:
        raise Conflict(f"staff account {account.email} is already disabled")
    account.disabled = True
    account.password_token_hash = None
    account.password_token_expires_at = None
    audit.record(session, actor, "staff.disable", None, email=account.email)
    return account


def account_for_token(session: Session, token: str, now: datetime | None = None) -> StaffAccount | None:
    """The account whose unexpired one-time link carries ``token``, else None."""
    now = now or _utcnow()
    if not token or len(token) > 200:
        return None
    account = session.scalar(select(StaffAccount).where(StaffAccount.password_token_hash == _digest(token)))
    if account is None or account.disabled or account.password_token_expires_at is None:
        return None
    if account.password_token_expires_at <= now:
        return None
    return account


def set_password_with_token(session: Session, token: str, password: str, now: datetime | None = None) -> StaffAccount:
    now = now or _utcnow()
    account = account_for_token(session, token, now)
    if account is None:
        raise NotFound("this link is not valid any more")
    _set_password(account, password, now)
    account.password_token_hash = None
    account.password_token_expires_at = None
    audit.record(session, actor_of(account), "staff.password_set", None)
    return account


def change_password(session: Session, account: StaffAccount, current: str, new: str, now: datetime | None = None) -> None:
    now = now or _utcnow()
    if not account.password_hash or not _verify(account.password_hash, current):
        raise InvalidInput("the current password is wrong")
    _set_password(account, new, now)
    audit.record(session, actor_of(account), "staff.password_change", None)


def set_language(session: Session, account: StaffAccount, language: Language) -> None:
    account.language = language
    audit.record(session, actor_of(account), "staff.language", None, language=language)


def check_password_rules(password: str, email: str | None = None) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordRejected(f"the password must have at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordRejected(f"the password must have at most {PASSWORD_MAX_LENGTH} characters")
    folded = password.casefold()
    if folded in BLOCKLIST or len(set(folded)) < 4:
        raise PasswordRejected("this password is too well known: choose another one")
    if email and (folded == email.casefold() or folded == email.split("@")[0].casefold()):
        raise PasswordRejected("the password must not be your e-mail address")


def log_in(
    session: Session,
    email: str,
    password: str,
    *,
    address: str,
    rules: LoginRules,
    now: datetime | None = None,
) -> StaffAccount:
    """The account if ``password`` is right; LoginRefused or LoginThrottled otherwise.

    Every attempt is recorded (the caller commits even on failure)."""
    now = now or _utcnow()
    typed = (email or "").strip().lower()[:254]
    address = (address or "unknown")[:64]
    since = now - timedelta(minutes=rules.window_minutes)
    failures = select(func.count()).select_from(StaffLoginAttempt).where(
        StaffLoginAttempt.succeeded.is_(False), StaffLoginAttempt.at > since
    )
    by_account = session.scalar(failures.where(StaffLoginAttempt.email == typed)) or 0
    by_address = session.scalar(failures.where(StaffLoginAttempt.address == address)) or 0
    if by_account >= rules.failures_per_account or by_address >= rules.failures_per_address:
        session.add(StaffLoginAttempt(at=now, email=typed, address=address, succeeded=False))
        audit.record(session, "system", "login.throttled", None, email=typed, address=address)
        raise LoginThrottled()
    account = session.scalar(select(StaffAccount).where(StaffAccount.email == typed))
    stored = account.password_hash if account is not None and account.password_hash else _DUMMY_HASH
    matches = _verify(stored, password or "")
    ok = matches and account is not None and account.password_hash is not None and not account.disabled
    session.add(StaffLoginAttempt(at=now, email=typed, address=address, succeeded=ok))
    if not ok:
        audit.record(session, "system", LOGIN_FAILED, None, email=typed, address=address)
        raise LoginRefused()
    assert account is not None
    if _HASHER.check_needs_rehash(account.password_hash):
        account.password_hash = _HASHER.hash(password)
    account.last_login_at = now
    audit.record(session, actor_of(account), "login", None, address=address)
    return account


def session_key(account: StaffAccount) -> str:
    """Changes whenever the password changes: a session opened before a change stops working."""
    return hashlib.sha256((account.password_hash or "").encode()).hexdigest()[:16]


def clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput(f"'{email}' is not an e-mail address")
    if len(email) > EMAIL_MAX_LENGTH:
        raise InvalidInput(f"the e-mail address is longer than {EMAIL_MAX_LENGTH} characters")
    return email


def _set_password(account: StaffAccount, password: str, now: datetime) -> None:
    check_password_rules(password, account.email)
    account.password_hash = _HASHER.hash(password)
    account.password_changed_at = now


def _new_token(account: StaffAccount, link_hours: int, now: datetime) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    account.password_token_hash = _digest(token)
    account.password_token_expires_at = now + timedelta(hours=link_hours)
    return token, account.password_token_expires_at


def _digest(token: str) -> str:
    # The token has 256 random bits: a plain SHA-256 is enough, no slow hash needed.
    return hashlib.sha256(token.encode()).hexdigest()


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
