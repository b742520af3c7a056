"""Pools of personal numbers: import, listing, taking a free one, quarantine."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reconnect_pbx import phone
from reconnect_pbx.models import Centre, NumberAssignment, NumberState, PhoneNumber
from reconnect_pbx.services import audit, local_date
from reconnect_pbx.services.errors import Conflict, InvalidInput, NotFound, PoolExhausted

# A typo in a range (one digit too many on LAST) must not create millions of numbers.
MAX_RANGE_SIZE = 10_000
# How many offending numbers an error message names before "and N more".
_NAMED_IN_ERRORS = 5
# Trunk names are Asterisk endpoint names.
_TRUNK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class NumberRow:
    e164: str
    centre: str
    trunk: str
    state: NumberState
    quarantine_until: datetime | None
    beneficiary_id: int | None

    @property
    def national(self) -> str:
        return phone.national_format(self.e164)


def access_did(configured: str, region: str) -> str:
    """The access number as the dialplan passes DIDs (E.164 for a French number); "" if none."""
    raw = configured.strip()
    if not raw:
        return ""
    try:
        return phone.normalise(raw, region)
    except phone.InvalidNumber:
        # An internal DID that is not a public number: compared as configured.
        return re.sub(r"[\s.()/-]", "", raw)


def reserved_numbers(access_number: str, region: str, selftest_number: str = "") -> frozenset[str]:
    """Numbers that are never a person's: the access number (its callers reach the PIN menu) and
    the self-test's mailbox (``services.selftest``)."""
    dids = {access_did(access_number, region), access_did(selftest_number, region)}
    return frozenset(did for did in dids if did)


def free_condition(now: datetime) -> ColumnElement[bool]:
    """Numbers that may be given out: free, or quarantined until a moment already past."""
    return (PhoneNumber.state == NumberState.FREE) | (
        (PhoneNumber.state == NumberState.QUARANTINED) & (PhoneNumber.quarantine_until <= now)
    )


def effective_state(number: PhoneNumber, now: datetime) -> NumberState:
    if number.state == NumberState.QUARANTINED and number.quarantine_until is not None and number.quarantine_until <= now:
        return NumberState.FREE
    return number.state


def parse_lines(lines: Iterable[str], region: str, allowed_regions: Iterable[str]) -> list[str]:
    """Normalise one number a line; blank lines and ``#`` comments are skipped. All or nothing."""
    numbers: list[str] = []
    errors: list[str] = []
    for line_number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            numbers.append(phone.normalise(text, region, allowed_regions))
        except phone.InvalidNumber as exc:
            errors.append(f"line {line_number}: {exc}")
    if errors:
        raise phone.InvalidNumber(_name_some(errors, sep="; "))
    if not numbers:
        raise InvalidInput("no numbers to import")
    return numbers


def expand_range(first: str, last: str, region: str, allowed_regions: Iterable[str]) -> list[str]:
    """Every number from ``first`` to ``last`` inclusive (same length, at most MAX_RANGE_SIZE)."""
    allowed_regions = tuple(allowed_regions)
    low = phone.normalise(first, region, allowed_regions)
    high = phone.normalise(last, region, allowed_regions)
    if len(low) != len(high):
        raise InvalidInput(f"range ends {low} and {high} do not have the same length")
    if int(high[1:]) < int(low[1:]):
        raise InvalidInput(f"range end {high} comes before its start {low}")
    size = int(high[1:]) - int(low[1:]) + 1
    if size > MAX_RANGE_SIZE:
        raise InvalidInput(f"range {low}..{high} holds {size} numbers, more than {MAX_RANGE_SIZE}: a typo?")
    numbers = []
    for value in range(int(low[1:]), int(high[1:]) + 1):
        candidate = f"+{value}"
        # Every number must be valid: a range may straddle the end of a numbering block.
        numbers.append(phone.normalise(candidate, region, allowed_regions))
    return numbers


def import_numbers(
    session: Session,
    numbers: list[str],
    *,
    centre: Centre,
    trunk: str,
    actor: str,
    source: str,
    reserved: frozenset[str] = frozenset(),
) -> int:
    """Add E.164 ``numbers`` to ``centre``'s pool; refuses the whole import on any duplicate.

    ``reserved`` (see ``reserved_numbers``) may not enter a pool: a person given the access
    number would never receive a message.
    """
    if not _TRUNK_NAME.match(trunk or ""):
        raise InvalidInput(f"trunk name '{trunk}' must be 1-64 letters, digits, '_', '.' or '-'")
    if not numbers:
        raise InvalidInput("no numbers to import")
    clashing = sorted(reserved.intersection(numbers))
    if clashing:
        raise Conflict(
            f"{_name_some(clashing)} is the access number, not a personal number; nothing imported "
            "(leave it out of the file or range)"
        )
    repeated = sorted(n for n, count in Counter(numbers).items() if count > 1)
    if repeated:
        raise Conflict(f"numbers given twice in the import: {_name_some(repeated)}")
    existing = session.execute(
        select(PhoneNumber.e164, Centre.name)
        .join(Centre, PhoneNumber.centre_id == Centre.id)
        .where(PhoneNumber.e164.in_(numbers))
        .order_by(PhoneNumber.e164)
    ).all()
    if existing:
        named = [f"{e164} (centre {centre_name})" for e164, centre_name in existing]
        raise Conflict(f"numbers already imported, nothing imported: {_name_some(named)}")
    try:
        session.execute(
            insert(PhoneNumber),
            [{"e164": n, "centre_id": centre.id, "trunk": trunk, "state": NumberState.FREE} for n in numbers],
        )
    except IntegrityError:
        # Another import added some of these numbers since the check above.
        raise Conflict("some of these numbers were imported meanwhile by someone else; nothing imported") from None
    audit.record(
        session,
        actor,
        "numbers.import",
        centre_id=centre.id,
        centre=centre.name,
        trunk=trunk,
        count=len(numbers),
        first=min(numbers),
        last=max(numbers),
        source=source,
    )
    return len(numbers)


def list_numbers(
    session: Session, now: datetime, *, state: NumberState | None = None, centre: Centre | None = None
) -> list[NumberRow]:
    query = (
        select(PhoneNumber, Centre.name, NumberAssignment.beneficiary_id)
        .join(Centre, PhoneNumber.centre_id == Centre.id)
        .outerjoin(
            NumberAssignment,
            (NumberAssignment.phone_number_id == PhoneNumber.id) & NumberAssignment.ended_at.is_(None),
        )
        .order_by(PhoneNumber.e164)
    )
    if centre is not None:
        query = query.where(PhoneNumber.centre_id == centre.id)
    if state == NumberState.FREE:
        query = query.where(free_condition(now))
    elif state == NumberState.QUARANTINED:
        query = query.where(PhoneNumber.state == NumberState.QUARANTINED, PhoneNumber.quarantine_until > now)
    elif state is not None:
        query = query.where(PhoneNumber.state == state)
    rows = []
    for number, centre_name, beneficiary_id in session.execute(query):
        current = effective_state(number, now)
        rows.append(
            NumberRow(
                e164=number.e164,
                centre=centre_name,
                trunk=number.trunk,
                state=current,
                quarantine_until=number.quarantine_until if current == NumberState.QUARANTINED else None,
                beneficiary_id=beneficiary_id,
            )
        )
    return rows


def take_free_number(
    session: Session, centre: Centre, now: datetime, *, reserved: frozenset[str] = frozenset()
) -> PhoneNumber:
    """Lock and return a free number of the pool; concurrent callers never get the same one.

    SKIP LOCKED: a number another transaction is taking is passed over instead of waited for, so
    simultaneous enrolments each get a different number without blocking each other. ``reserved``
    numbers (imported before the rule existed) are passed over.
    """
    number = session.scalar(
        select(PhoneNumber)
        .where(PhoneNumber.centre_id == centre.id, free_condition(now), PhoneNumber.e164.not_in(reserved))
        # Never-used numbers first, then the longest out of quarantine: old contacts fade first.
        .order_by(
            PhoneNumber.state == NumberState.QUARANTINED,
            PhoneNumber.quarantine_until.nulls_first(),
            PhoneNumber.id,
        )
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if number is None:
        raise PoolExhausted(f"no free number left in the pool of centre '{centre.name}' (see `numbers import`)")
    return number


def claim_number(
    session: Session, centre: Centre, e164: str, now: datetime, *, reserved: frozenset[str] = frozenset()
) -> PhoneNumber:
    """Lock and return the number ``e164``, which must be free and in ``centre``'s pool."""
    if e164 in reserved:
        raise Conflict(f"number {e164} is the access number, not a personal number")
    number = session.scalar(
        select(PhoneNumber).where(PhoneNumber.e164 == e164).with_for_update().execution_options(populate_existing=True)
    )
    if number is None:
        raise NotFound(f"number {e164} is in no pool (see `numbers import`)")
    if number.centre_id != centre.id:
        raise Conflict(f"number {e164} belongs to the pool of centre '{number.centre.name}', not '{centre.name}'")
    current = effective_state(number, now)
    if current == NumberState.ASSIGNED:
        raise Conflict(f"number {e164} is already assigned")
    if current == NumberState.QUARANTINED:
        until = local_date(number.quarantine_until) if number.quarantine_until else "?"
        raise Conflict(f"number {e164} is in quarantine until {until}")
    return number


def reserved_in_use(session: Session, reserved: frozenset[str]) -> list[tuple[str, int]]:
    """(number, person id) of reserved numbers that are assigned to someone: a configuration error."""
    if not reserved:
        return []
    rows = session.execute(
        select(PhoneNumber.e164, NumberAssignment.beneficiary_id)
        .join(NumberAssignment, NumberAssignment.phone_number_id == PhoneNumber.id)
        .where(PhoneNumber.e164.in_(reserved), NumberAssignment.ended_at.is_(None))
        .order_by(PhoneNumber.e164)
    ).all()
    return [(e164, beneficiary_id) for e164, beneficiary_id in rows]


def quarantine(number: PhoneNumber, until: datetime) -> None:
    number.state = NumberState.QUARANTINED
    number.quarantine_until = until


def assign(number: PhoneNumber) -> None:
    number.state = NumberState.ASSIGNED
    number.quarantine_until = None


def _name_some(items: list[str], sep: str = ", ") -> str:
    named = sep.join(items[:_NAMED_IN_ERRORS])
    if len(items) > _NAMED_IN_ERRORS:
        named += f" and {len(items) - _NAMED_IN_ERRORS} more"
    return named
