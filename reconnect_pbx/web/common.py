"""What the blueprints share: the request's transaction, the clock, the settings, the account."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flask import current_app
from flask_login import current_user
from sqlalchemy.orm import Session

from reconnect_pbx.config import Settings
from reconnect_pbx.db import transaction as db_transaction
from reconnect_pbx.models import StaffAccount

# The languages of the pages: French first, English second (per account, or the browser's).
LANGUAGES = ("fr", "en")


@contextmanager
def transaction() -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises (nothing written)."""
    with db_transaction(current_app.extensions["reconnect_sessions"]) as session:
        yield session


def settings() -> Settings:
    return current_app.config["RECONNECT_SETTINGS"]


def now() -> datetime:
    return current_app.config["RECONNECT_CLOCK"]()


def account(session: Session) -> StaffAccount:
    """The logged-in account, loaded in ``session`` (for the services' scope and audit)."""
    found = session.get(StaffAccount, current_user.account_id)
    assert found is not None  # the user loader checked it moments ago
    return found


def actor() -> str:
    return f"web:{current_user.email}"


def local(value: Any) -> str:
    """A date and time for a page, in the centres' time zone."""
    from reconnect_pbx.services.reports import REPORT_TIMEZONE

    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(REPORT_TIMEZONE).strftime("%d/%m/%Y %H:%M")
    return str(value)
