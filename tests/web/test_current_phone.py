"""The person's current phone on their page, in a real headless Chromium: set (through the
destination policy, then a confirmation call asked of ``serve``), follow and alerts switched,
cleared; every change audited under the staff account. The number is shown masked."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import select

from reconnect_pbx.models import AuditEvent, CurrentPhone

from .conftest import World
from .test_browser import click, log_in, text_of

pytestmark = pytest.mark.timeout(600)


def set_number(page: Any, number: str) -> None:
    field = page.find_element(By.ID, "phone")
    field.clear()
    field.send_keys(number)
    click(page, "phone-set")


def flash_text(page: Any) -> str:
    return " ".join(e.text for e in page.find_elements(By.CSS_SELECTOR, ".flash"))


def test_staff_set_switch_and_clear_the_current_phone(page, live_server, world: World, session_factory) -> None:  # type: ignore[no-untyped-def]
    log_in(page, live_server, world.staff_a)
    page.get(f"{live_server}/people/{world.person_a}")
    assert "Aucun" in text_of(page, "phone-number")
    # The destination policy of outgoing calls: a premium number is refused and nothing written.
    set_number(page, "0899123456")
    assert "surtaxés" in flash_text(page)
    with session_factory() as db:
        assert db.get(CurrentPhone, world.person_a) is None
    set_number(page, "06 12 34 56 78")
    assert text_of(page, "phone-number") == "+33612******"
    assert "5678" not in page.page_source
    assert text_of(page, "phone-confirmed").startswith("pas encore")
    with session_factory() as db:
        phone = db.get(CurrentPhone, world.person_a)
        # Unconfirmed, and a confirmation call asked of serve.
        assert (phone.e164, phone.confirmed_at, phone.follow, phone.alerts) == ("+33612345678", None, True, True)
        assert phone.confirmation_requested_at is not None
    click(page, "phone-follow-switch")
    assert text_of(page, "phone-follow") == "non"
    click(page, "phone-alerts-switch")
    assert text_of(page, "phone-alerts") == "non"
    click(page, "phone-clear")
    assert "Aucun" in text_of(page, "phone-number")
    with session_factory() as db:
        assert db.get(CurrentPhone, world.person_a) is None
        events = db.execute(
            select(AuditEvent.action, AuditEvent.actor).where(
                AuditEvent.beneficiary_id == world.person_a, AuditEvent.action.like("phone.%")
            ).order_by(AuditEvent.id)
        ).all()
    actor = f"web:{world.staff_a}"
    assert [tuple(e) for e in events] == [
        ("phone.set", actor), ("phone.follow-off", actor), ("phone.alerts-off", actor), ("phone.cleared", actor),
    ]


def test_the_usage_report_shows_the_follow_and_alert_columns(page, live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    log_in(page, live_server, world.staff_a)
    page.get(f"{live_server}/reports/usage")
    headers = [th.text for th in page.find_elements(By.CSS_SELECTOR, "thead th")]
    assert headers[-5:] == ["Appels suivis", "Pris sur le téléphone", "Vers le répondeur", "Alertes envoyées", "Alertes écoutées"]
    cells = page.find_elements(By.CSS_SELECTOR, "tbody tr")[0].find_elements(By.TAG_NAME, "td")
    assert [c.text for c in cells[-5:]] == ["0", "0", "0", "0", "0"]
