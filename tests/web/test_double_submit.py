"""Two copies of one enrolment form arriving at the same moment (a double click reaching two
gunicorn workers): the second waits for the first on the form token's unique key, then finds its
result and enrols nobody."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from sqlalchemy import func, select, text

from reconnect_pbx.db import transaction
from reconnect_pbx.models import Beneficiary, StaffAccount
from reconnect_pbx.services import scope


def _enrol(session, account_id: int, token: str):  # type: ignore[no-untyped-def]
    account = session.get(StaffAccount, account_id)
    return scope.enrol(
        session, account, form_token=token, centre_id=None, display_name="Twin", language="fr",
        number=None, pin_length=6, region="FR", actor="pytest", now=datetime.now(timezone.utc),
    )


def test_two_simultaneous_copies_of_an_enrolment_form_enrol_once(make_world, session_factory, db_engine) -> None:  # type: ignore[no-untyped-def]
    world = make_world()
    token = scope.new_form_token()
    with session_factory() as db:
        account_id = db.scalar(select(StaffAccount.id).where(StaffAccount.email == world.staff_a))
        before = db.scalar(select(func.count()).select_from(Beneficiary))
    second: list[object] = []

    first_session = session_factory()
    first_session.begin()
    first, person_id = _enrol(first_session, account_id, token)
    assert first is not None

    def twin() -> None:
        with transaction(session_factory) as session:
            second.append(_enrol(session, account_id, token))

    thread = threading.Thread(target=twin)
    thread.start()
    # A positive signal that the twin is waiting on the first's row lock, not a fixed sleep.
    deadline = time.monotonic() + 30
    with db_engine.connect() as probe:
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        while not probe.scalar(waiting):
            assert time.monotonic() < deadline and thread.is_alive(), "the second copy never waited for the first"
            time.sleep(0.05)
    first_session.commit()
    first_session.close()
    thread.join(timeout=30)
    assert second == [(None, person_id)]
    with session_factory() as db:
        assert db.scalar(select(func.count()).select_from(Beneficiary)) == before + 1
