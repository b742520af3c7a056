"""WCAG 2.1 AA, checked by axe-core inside the real Chromium, on every page staff use, at a desktop
width and at a 360-px phone's; and an enrolment done with the keyboard alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from . import axe
from .conftest import PASSWORD, World
from .test_browser import downloaded, log_in, wait_for

pytestmark = pytest.mark.timeout(600)

# Every page a staff member reaches; {person} is a person of their centre.
PAGES = [
    "/people",
    "/people?q=zzzz-nobody",
    "/people/new",
    "/people/{person}",
    "/people/{person}/close",
    "/people/{person}/audit",
    "/numbers",
    "/reports/usage",
    "/account",
    "/people/999999999",
]


@pytest.fixture(scope="module")
def axe_source() -> str:
    return axe.axe_script()


@pytest.mark.parametrize("width", [1024, 360])
def test_every_page_passes_wcag_2_1_aa(page, live_server, shared_world: World, axe_source: str, width: int) -> None:  # type: ignore[no-untyped-def]
    found: dict[str, list[str]] = {}
    page.set_window_size(width, 900)
    try:
        page.get(f"{live_server}/login")
        found["/login"] = axe.violations(page, axe_source)
        # The login page with the error shown.
        log_in(page, live_server, shared_world.staff_a, "not the password, on purpose")
        found["/login (refused)"] = axe.violations(page, axe_source)
        log_in(page, live_server, shared_world.staff_a)
        for template in PAGES:
            path = template.format(person=shared_world.person_a)
            page.get(live_server + path)
            found[path] = axe.violations(page, axe_source)
        # The enrol form sent empty: the errors next to the fields.
        page.get(f"{live_server}/people/new")
        page.find_element(By.CSS_SELECTOR, "form[data-once] button[type=submit]").click()
        WebDriverWait(page, 30).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".error")))
        found["/people/new (refused)"] = axe.violations(page, axe_source)
    finally:
        page.set_window_size(1024, 900)
    assert {path: lines for path, lines in found.items() if lines} == {}


def _tab_to(page: Any, matches: Any, limit: int = 60) -> Any:
    """Press Tab until the focused element satisfies ``matches``; returns it."""
    for _ in range(limit):
        page.switch_to.active_element.send_keys(Keys.TAB)
        focused = page.switch_to.active_element
        if matches(focused):
            return focused
    raise AssertionError("never reached by the keyboard")


def _by_id(element_id: str) -> Any:
    return lambda element: element.get_attribute("id") == element_id


def test_a_person_is_enrolled_with_the_keyboard_alone(page, live_server, world: World, download_dir: Path) -> None:  # type: ignore[no-untyped-def]
    page.get(f"{live_server}/login")
    page.find_element(By.TAG_NAME, "body").click()  # focus the document, as after loading
    _tab_to(page, _by_id("email")).send_keys(world.staff_a)
    _tab_to(page, _by_id("password")).send_keys(PASSWORD + Keys.ENTER)
    WebDriverWait(page, 30).until(lambda p: not p.current_url.endswith("/login"))
    _tab_to(page, lambda e: e.tag_name == "a" and e.get_attribute("href").endswith("/people/new")).send_keys(Keys.ENTER)
    wait_for(page, "display_name")
    _tab_to(page, _by_id("display_name")).send_keys("Clavier Seul")
    _tab_to(page, lambda e: e.tag_name == "button" and e.get_attribute("type") == "submit").send_keys(Keys.ENTER)
    pin = wait_for(page, "shown-pin").text
    assert len(pin) == 6
    _tab_to(page, _by_id("cards-pdf")).send_keys(Keys.ENTER)
    person_id = int(page.current_url.rstrip("/").rsplit("/", 1)[1])
    assert downloaded(download_dir, f"cartes-{person_id}.pdf").stat().st_size > 0
