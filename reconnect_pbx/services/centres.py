"""Centres: the associations that enrol people and hold pools of numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reconnect_pbx.models import Beneficiary, BeneficiaryStatus, Centre, PhoneNumber
from reconnect_pbx.services import audit
from reconnect_pbx.services.errors import Conflict, InvalidInput, NotFound
from reconnect_pbx.services.numbers import free_condition
from reconnect_pbx.services.selftest import staff_centres

NAME_MAX_LENGTH = 200


@dataclass(frozen=True)
class CentreSummary:
    id: int
    name: str
    city: str | None
    numbers: int
    free_numbers: int
    active_people: int
    created_at: datetime


def add_centre(session: Session, name: str, city: str | None = None, *, actor: str) -> Centre:
    name = _clean(name, "centre name")
    city = _clean(city, "city") if city is not None and city.strip() else None
    # Case-insensitive: "Paris 11" and "paris 11" would be the same centre to staff.
    existing = session.scalar(select(Centre).where(func.lower(Centre.name) == name.lower()))
    if existing is not None:
        raise Conflict(f"centre '{existing.name}' already exists")
    centre = Centre(name=name, city=city)
    session.add(centre)
    session.flush()
    audit.record(session, actor, "centre.add", centre_id=centre.id, name=name, city=city)
    return centre


def find_centre(session: Session, ref: str) -> Centre:
    """The centre named ``ref`` (any case), or whose id is ``ref``."""
    ref = (ref or "").strip()
    centre = session.scalar(select(Centre).where(func.lower(Centre.name) == ref.lower()))
    if centre is None and ref.isascii() and ref.isdigit():
        centre = session.get(Centre, int(ref))
    if centre is None:
        raise NotFound(f"unknown centre '{ref}' (see `centre list`)")
    return centre


def list_centres(session: Session, now: datetime) -> list[CentreSummary]:
    numbers = (
        select(func.count()).where(PhoneNumber.centre_id == Centre.id).correlate(Centre).scalar_subquery()
    )
    free = (
        select(func.count())
        .where(PhoneNumber.centre_id == Centre.id, free_condition(now))
        .correlate(Centre)
        .scalar_subquery()
    )
    active = (
        select(func.count())
        .where(Beneficiary.centre_id == Centre.id, Beneficiary.status == BeneficiaryStatus.ACTIVE)
        .correlate(Centre)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Centre.id, Centre.name, Centre.city, numbers, free, active, Centre.created_at)
        .where(staff_centres())
        .order_by(Centre.name)
    )
    return [CentreSummary(*row) for row in rows]


def _clean(value: str, what: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > NAME_MAX_LENGTH:
        raise InvalidInput(f"{what} is longer than {NAME_MAX_LENGTH} characters")
    return value
