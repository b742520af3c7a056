"""What a staff account may see and act on: its own centre's people and numbers; an admin, all.

This is the web application's single authorisation rule. Every person, number or centre a web
request names (in its URL or in a form field) is looked up through this module, which answers
NotFound for anything outside the account's reach, exactly as for something that does not exist:
no hint that another centre's person exists.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from reconnect_pbx import phone
from reconnect_pbx.models import (
    AuditEvent,
    Beneficiary,
    Centre,
    FormSubmission,
    Language,
    NumberState,
    PhoneNumber,
    StaffAccount,
    StaffRole,
)
from reconnect_pbx.services import numbers, people, selftest
from reconnect_pbx.services.errors import Conflict, NotFound

_DIGITS = re.compile(r"\D")
# Digits typed in a search box before they are read as (part of) a phone number.
_MIN_SEARCH_DIGITS = 4


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    details: dict[str, object]
    note: str | None


def is_admin(account: StaffAccount) -> bool:
    return account.role == StaffRole.ADMIN


def centres(session: Session, account: StaffAccount) -> list[Centre]:
    """The centres the account acts for."""
    query = select(Centre).where(selftest.staff_centres()).order_by(Centre.name)
    if not is_admin(account):
        query = query.where(Centre.id == account.centre_id)
    return list(session.scalars(query))


def centre(session: Session, account: StaffAccount, centre_id: int | str | None) -> Centre:
    """The centre ``centre_id`` if within reach; None or empty means the account's own centre."""
    if centre_id in (None, ""):
        centre_id = account.centre_id
    try:
        wanted = int(centre_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise NotFound("no such centre") from None
    if not is_admin(account) and wanted != account.centre_id:
        raise NotFound("no such centre")
    found = session.get(Centre, wanted)
    if found is None or found.name == selftest.SELFTEST_CENTRE:
        raise NotFound("no such centre")
    return found


def person(session: Session, account: StaffAccount, person_id: int | str, *, lock: bool = False) -> Beneficiary:
    """The person ``person_id`` if within reach, else NotFound (whether or not they exist)."""
    try:
        wanted = int(person_id)
    except (TypeError, ValueError):
        raise NotFound("no such person") from None
    if not 0 < wanted < 2**31:
        raise NotFound("no such person")
    found = session.get(Beneficiary, wanted, with_for_update=lock)
    if found is None or (not is_admin(account) and found.centre_id != account.centre_id):
        raise NotFound("no such person")
    if selftest.is_selftest_centre(session, found.centre_id):
        raise NotFound("no such person")  # the self-test's placeholder, no one staff look after
    return found


def free_number(session: Session, account: StaffAccount, text: str, centre_: Centre, region: str, now: datetime) -> str:
    """The E.164 form of ``text`` if it is a free number of ``centre_``'s pool. A number of another
    pool (or of none) is NotFound; one of this pool that is no longer free, a Conflict."""
    try:
        e164 = phone.normalise(text, region, None)
    except phone.InvalidNumber:
        raise NotFound("no such free number") from None
    found = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == e164))
    if found is None or found.centre_id != centre_.id:
        raise NotFound("no such free number")
    if numbers.effective_state(found, now) != NumberState.FREE:
        raise Conflict(f"number {phone.national_format(e164)} is no longer free")
    return e164


def free_numbers(session: Session, account: StaffAccount, now: datetime, centre_: Centre | None = None) -> list[numbers.NumberRow]:
    rows: list[numbers.NumberRow] = []
    for one in [centre_] if centre_ is not None else centres(session, account):
        rows.extend(numbers.list_numbers(session, now, state=NumberState.FREE, centre=one))
    return rows


def search_people(session: Session, account: StaffAccount, query: str = "", region: str = "FR") -> list[people.PersonRow]:
    """The account's people whose name holds ``query``, or whose number matches it in any form
    (``01 42 68 53 00``, ``+33 1 42...``, or a run of at least four of its digits)."""
    rows: list[people.PersonRow] = []
    for one in centres(session, account):
        rows.extend(people.list_people(session, centre=one))
    query = " ".join((query or "").split())
    if not query:
        return rows
    digits = _DIGITS.sub("", query)
    if len(digits) >= _MIN_SEARCH_DIGITS and not any(ch.isalpha() for ch in query):
        wanted = {digits}
        try:
            wanted.update(phone.digit_forms(phone.normalise(query, region, None)))
        except phone.InvalidNumber:
            pass
        return [
            row for row in rows
            if row.e164 and any(w in form for w in wanted for form in phone.digit_forms(row.e164))
        ]
    folded = query.casefold()
    return [row for row in rows if folded in row.display_name.casefold()]


def audit_trail(session: Session, account: StaffAccount, person_id: int) -> list[AuditRow]:
    target = person(session, account, person_id)
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.beneficiary_id == target.id).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    return [AuditRow(e.at, e.actor, e.action, dict(e.details or {}), e.note) for e in events]


# -- forms sent twice ---------------------------------------------------------------------------


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def claim_form_token(session: Session, account: StaffAccount, token: str) -> int | None:
    """Take ``token`` for this submission. None: first use, go on. Otherwise the form was already
    sent: the id of the person it enrolled (0 if unknown). A concurrent twin waits for the first
    transaction (unique key) and then sees it; if the first rolled back, the twin goes on."""
    token = (token or "")[:64]
    if not token:
        token = new_form_token()
    taken = session.execute(
        insert(FormSubmission)
        .values(token=token, staff_account_id=account.id)
        .on_conflict_do_nothing(index_elements=["token"])
        .returning(FormSubmission.token)
    ).first()
    if taken is not None:
        return None
    earlier = session.get(FormSubmission, token, populate_existing=True)
    if earlier is None or earlier.staff_account_id != account.id:
        return 0
    return earlier.beneficiary_id or 0


def record_form_result(session: Session, token: str, beneficiary_id: int) -> None:
    submission = session.get(FormSubmission, (token or "")[:64])
    if submission is not None:
        submission.beneficiary_id = beneficiary_id


def enrol(
    session: Session,
    account: StaffAccount,
    *,
    form_token: str,
    centre_id: int | str | None,
    display_name: str,
    language: Language,
    number: str | None,
    pin_length: int,
    region: str,
    actor: str,
    now: datetime,
) -> tuple[people.Enrolment | None, int]:
    """Enrol once per form token: (enrolment, id) the first time, (None, earlier id) after."""
    target = centre(session, account, centre_id)
    # The token first: a second copy of the form must find the first's result, not a taken number.
    earlier = claim_form_token(session, account, form_token)
    if earlier is not None:
        return None, earlier
    wanted = free_number(session, account, number, target, region, now) if number else None
    enrolment = people.enrol(
        session,
        centre=target,
        display_name=display_name,
        language=language,
        pin_length=pin_length,
        actor=actor,
        number=wanted,
        now=now,
    )
    record_form_result(session, form_token, enrolment.beneficiary_id)
    return enrolment, enrolment.beneficiary_id
