"""The self-test's reserved centre and placeholder person (services/selftest.py) are no one staff
look after: the operators' lists leave them out (the web's pages: tests/web/test_selftest_hidden.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from reconnect_pbx.db import transaction
from reconnect_pbx.models import Centre, StaffAccount, StaffRole
from reconnect_pbx.services import scope, selftest, staff


@pytest.fixture
def test_mailbox(session_factory, number_block) -> selftest.TestMailbox:
    with transaction(session_factory) as session:
        return selftest.ensure_test_mailbox(session, number_block() + "98", datetime.now(timezone.utc))


def test_centre_list_leaves_out_the_selftest_centre(cli_runner, centre, test_mailbox) -> None:
    listed = [row["name"] for row in json.loads(cli_runner("centre", "list", "--json").stdout)]
    assert centre in listed
    assert selftest.SELFTEST_CENTRE not in listed


def test_people_list_leaves_out_the_selftest_placeholder(cli_runner, enrolled, test_mailbox) -> None:
    person = enrolled()
    ids = [row["id"] for row in json.loads(cli_runner("list", "--json").stdout)]
    assert person["id"] in ids
    assert test_mailbox.beneficiary_id not in ids


def test_an_admin_searching_people_never_finds_the_selftest_placeholder(session_factory, centre, enrolled, test_mailbox) -> None:
    enrolled()
    with transaction(session_factory) as session:
        home = session.scalars(select(Centre).where(Centre.name == centre)).one()
        made = staff.add_account(session, email=f"admin-{test_mailbox.mailbox_id}@example.org", centre=home, role=StaffRole.ADMIN, actor="pytest", link_hours=1)
        admin = session.get(StaffAccount, made.account_id)
        everyone = scope.search_people(session, admin)
        by_name = scope.search_people(session, admin, "selftest")
        by_number = scope.search_people(session, admin, test_mailbox.number)
        assert everyone and test_mailbox.beneficiary_id not in [row.id for row in everyone]
        assert by_name == [] and by_number == []
        assert selftest.SELFTEST_CENTRE not in [c.name for c in scope.centres(session, admin)]
