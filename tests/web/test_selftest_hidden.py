"""The self-test's reserved centre and placeholder person (services/selftest.py) never show up in
the web application, not even to an admin: not in the people list or its search, the enrolment
form's centres, the free numbers, the usage report; their pages answer 404 like nothing there."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from reconnect_pbx.db import transaction
from reconnect_pbx.phone import national_format
from reconnect_pbx.services import selftest


@pytest.fixture(scope="module")
def test_mailbox(session_factory) -> selftest.TestMailbox:  # type: ignore[no-untyped-def]
    with transaction(session_factory) as session:
        return selftest.ensure_test_mailbox(session, "+33970009998", datetime.now(timezone.utc))


@pytest.mark.parametrize(
    "path", ["/people", "/people?q=selftest", "/people?q=0970009998", "/people/new", "/numbers", "/reports/usage", "/reports/usage.csv"]
)
def test_an_admin_never_sees_the_selftest_centre_or_person(login, shared_world, test_mailbox, path) -> None:
    page = login(shared_world.admin).get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert shared_world.centre_a in text or path.startswith("/people?q=")
    assert selftest.SELFTEST_CENTRE not in text and selftest.SELFTEST_NAME not in text
    assert national_format(test_mailbox.number) not in text and test_mailbox.number not in text


def test_the_placeholder_persons_pages_answer_404_even_to_an_admin(login, shared_world, test_mailbox) -> None:
    client = login(shared_world.admin)
    for path in (f"/people/{test_mailbox.beneficiary_id}", f"/people/{test_mailbox.beneficiary_id}/audit"):
        assert client.get(path).status_code == 404
    assert client.get(f"/people/{shared_world.person_a}").status_code == 200
