"""Audit events: who did what to whom. Never a PIN, never a hash."""

from __future__ import annotations

import logging
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from reconnect_pbx.models import AuditEvent

log = logging.getLogger(__name__)

# Detail keys refused outright: a secret must not reach the audit log even by mistake.
_SECRET_KEYS = frozenset({"pin", "new_pin", "old_pin", "pin_hash", "password", "secret"})


def record(session: Session, actor: str, action: str, beneficiary_id: int | None = None, **details: Any) -> AuditEvent:
    """Add an audit event to the session's transaction (written with the change it describes)."""
    secret = _SECRET_KEYS.intersection(k.lower() for k in details)
    if secret:
        raise ValueError(f"audit details must not hold secrets: {', '.join(sorted(secret))}")
    event = AuditEvent(
        actor=actor,
        action=action,
        beneficiary_id=beneficiary_id,
        details={key: _jsonable(value) for key, value in details.items()},
    )
    session.add(event)
    log.info("audit %s by %s (beneficiary %s)", action, actor, beneficiary_id)
    return event


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
