"""Migration 0004 on a database with people in it: whoever still holds the PIN staff handed over
(no `pin.change` since their last enrolment or `pin reset`) must change it at the next login."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from reconnect_pbx.db import make_engine
from reconnect_pbx.services import schema


def test_people_still_holding_the_pin_staff_gave_must_change_it_after_the_upgrade(empty_database_url) -> None:
    command.upgrade(schema.alembic_config(empty_database_url), "0002")
    engine = make_engine(empty_database_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO centres (id, name) VALUES (1, 'C')"))
            for person in (1, 2, 3, 4):
                connection.execute(
                    text("INSERT INTO beneficiaries (id, display_name, language, status, centre_id) VALUES (:id, 'P', 'fr', 'active', 1)"),
                    {"id": person},
                )
                connection.execute(text("INSERT INTO credentials (beneficiary_id, pin_hash) VALUES (:id, 'x')"), {"id": person})
            events = [
                (1, "beneficiary.enrol", "2026-01-01"),  # never changed it
                (2, "beneficiary.enrol", "2026-01-01"), (2, "pin.change", "2026-01-02"),  # changed it
                (3, "beneficiary.enrol", "2026-01-01"), (3, "pin.change", "2026-01-02"), (3, "pin.reset", "2026-01-03"),
                # 4: no event left at all (purged): on the safe side, must change.
            ]
            for person, action, at in events:
                connection.execute(
                    text("INSERT INTO audit_events (actor, action, beneficiary_id, at) VALUES ('t', :a, :p, :at)"),
                    {"a": action, "p": person, "at": at},
                )

        schema.upgrade(empty_database_url)

        with engine.connect() as connection:
            must = dict(connection.execute(text("SELECT beneficiary_id, pin_must_change FROM credentials")).all())
        assert must == {1: True, 2: False, 3: True, 4: True}
    finally:
        engine.dispose()
