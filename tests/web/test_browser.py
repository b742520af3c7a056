"""The staff web application in a real headless Chromium (Selenium), against ``reconnect-pbx web``
under gunicorn and the real PostgreSQL: what a centre's staff member does, click by click."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import func, select

from reconnect_pbx import phone
from reconnect_pbx.models import AuditEvent, Beneficiary, BeneficiaryStatus, Credential

from .conftest import PASSWORD, World

pytestmark = pytest.mark.timeout(600)


def log_in(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    page.get(f"{base}/login")
    page.find_element(By.ID, "email").send_keys(email)
    page.find_element(By.ID, "password").send_keys(password)
    submit_and_wait(page, page.find_element(By.CSS_SELECTOR, "button[type=submit].primary"))


def submit_and_wait(page: Any, button: Any) -> None:
    """Click ``button`` and wait for the page it leads to (the old page's elements go stale)."""
    button.click()

    def left(_driver: Any) -> bool:
        try:
            button.is_enabled()
        except WebDriverException:  # stale, or no longer in any document
            return True
        return False

    WebDriverWait(page, 30).until(left)
    WebDriverWait(page, 30).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "main h1")))


def wait_for(page: Any, element_id: str) -> Any:
    return WebDriverWait(page, 30).until(expected_conditions.presence_of_element_located((By.ID, element_id)))


def click(page: Any, element_id: str) -> None:
    """Click and wait for the next page."""
    submit_and_wait(page, page.find_element(By.ID, element_id))


def downloaded(folder: Path, name: str) -> Path:
    deadline = time.monotonic() + 30
    target = folder / name
    while not target.exists() or target.stat().st_size == 0:
        assert time.monotonic() < deadline, f"{name} was not downloaded: {sorted(p.name for p in folder.iterdir())}"
        time.sleep(0.1)
    return target


def text_of(page: Any, element_id: str) -> str:
    return page.find_element(By.ID, element_id).text


def test_staff_enrol_a_person_and_print_their_cards(page, live_server, world: World, download_dir: Path, session_factory) -> None:  # type: ignore[no-untyped-def]
    # Measured, not asserted (no timing threshold): the figure is in docs/benchmarks.md.
    clicks = 0

    def click_on(element: Any, wait: bool = True) -> None:
        nonlocal clicks
        clicks += 1
        submit_and_wait(page, element) if wait else element.click()

    started = time.monotonic()
    page.get(f"{live_server}/login")
    page.find_element(By.ID, "email").send_keys(world.staff_a)
    page.find_element(By.ID, "password").send_keys(PASSWORD)
    click_on(page.find_element(By.CSS_SELECTOR, "button[type=submit].primary"))
    click_on(page.find_element(By.LINK_TEXT, "Inscrire"))
    page.find_element(By.ID, "display_name").send_keys("Camille D.")
    click_on(page.find_element(By.CSS_SELECTOR, "form[data-once] button[type=submit]"))
    pin = wait_for(page, "shown-pin").text
    number = text_of(page, "shown-number")
    click_on(page.find_element(By.ID, "cards-pdf"), wait=False)
    person_id = int(page.current_url.rstrip("/").rsplit("/", 1)[1])
    pdf = downloaded(download_dir, f"cartes-{person_id}.pdf")
    elapsed = time.monotonic() - started
    printed = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert number.replace(" ", "") in printed.replace(" ", "").replace("\u00a0", "")
    assert len(pin) == 6 and pin not in printed
    with session_factory() as db:
        person = db.get(Beneficiary, person_id)
        assert (person.display_name, person.status) == ("Camille D.", BeneficiaryStatus.ACTIVE)
    print(
        f"\nenrolment in the browser: {clicks} clicks and 3 fields typed (e-mail, password, name),"
        f" {elapsed:.1f} s from the login page to the cards PDF on disk (no human reading or typing time)"
    )
    # The PIN is shown once: the same page again no longer has it.
    page.refresh()
    assert not page.find_elements(By.ID, "shown-pin")


def test_a_pin_reset_shows_the_new_pin_once(page, live_server, world: World, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as db:
        old_hash = db.get(Credential, world.person_a).pin_hash
    log_in(page, live_server, world.staff_a)
    page.get(f"{live_server}/people/{world.person_a}")
    click(page, "reset-pin")
    assert len(wait_for(page, "shown-pin").text) == 6
    page.refresh()
    assert not page.find_elements(By.ID, "shown-pin")
    with session_factory() as db:
        assert db.get(Credential, world.person_a).pin_hash != old_hash


def test_suspend_resume_and_close_with_confirmation(page, live_server, world: World, session_factory) -> None:  # type: ignore[no-untyped-def]
    log_in(page, live_server, world.staff_a)
    page.get(f"{live_server}/people/{world.person_a}")
    click(page, "suspend")
    assert text_of(page, "status") == "suspendue"
    click(page, "resume")
    assert text_of(page, "status") == "active"
    click(page, "close")
    # Without the confirmation box ticked: refused, with the reason next to the box.
    click(page, "confirm-close")
    assert "Cochez la case" in page.find_element(By.CSS_SELECTOR, ".error").text
    page.find_element(By.ID, "confirm").click()
    click(page, "confirm-close")
    assert text_of(page, "status") == "fermée"
    with session_factory() as db:
        assert db.get(Beneficiary, world.person_a).status == BeneficiaryStatus.CLOSED


def test_another_centre_s_person_by_url_or_forged_field_answers_404_and_nothing_changes(page, live_server, world: World, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as db:
        people_before = db.scalar(select(func.count()).select_from(Beneficiary))
        other_centre = db.get(Beneficiary, world.person_b).centre_id
    log_in(page, live_server, world.staff_a)
    page.get(f"{live_server}/people/{world.person_b}")
    assert page.find_element(By.TAG_NAME, "h1").text == "Introuvable"
    # The enrol form with its hidden centre field edited to another centre's id.
    page.get(f"{live_server}/people/new")
    page.find_element(By.ID, "display_name").send_keys("Forged")
    page.execute_script(f"document.querySelector('input[name=centre]').value = '{other_centre}'")
    submit_and_wait(page, page.find_element(By.CSS_SELECTOR, "form[data-once] button[type=submit]"))
    assert page.find_element(By.TAG_NAME, "h1").text == "Introuvable"
    # And with a number of another centre's pool put into the number list.
    page.get(f"{live_server}/people/new")
    page.find_element(By.ID, "display_name").send_keys("Forged")
    page.execute_script(
        "var o = document.createElement('option'); o.value = arguments[0]; o.selected = true;"
        " document.getElementById('number').appendChild(o);",
        world.free_b[0],
    )
    submit_and_wait(page, page.find_element(By.CSS_SELECTOR, "form[data-once] button[type=submit]"))
    assert page.find_element(By.TAG_NAME, "h1").text == "Introuvable"
    with session_factory() as db:
        assert db.scalar(select(func.count()).select_from(Beneficiary)) == people_before
        assert db.get(Beneficiary, world.person_b).status == BeneficiaryStatus.ACTIVE


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(page, live_server, world: World, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as db:
        events_before = db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.beneficiary_id == world.person_a))
    log_in(page, live_server, world.staff_a)
    page.get(f"{live_server}/people/{world.person_a}")
    page.execute_script("document.querySelectorAll('input[name=csrf_token]').forEach(function (i) { i.remove(); })")
    click(page, "suspend")
    assert page.find_element(By.TAG_NAME, "h1").text == "Formulaire refusé"
    with session_factory() as db:
        assert db.get(Beneficiary, world.person_a).status == BeneficiaryStatus.ACTIVE
        assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.beneficiary_id == world.person_a)) == events_before


def test_logins_are_throttled_with_one_answer_for_unknown_and_wrong(page, live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    answers = set()
    for email in (world.staff_b, "nobody-here@example.org"):
        page.delete_all_cookies()
        log_in(page, live_server, email, "not the password at all")
        answers.add(page.find_element(By.CSS_SELECTOR, ".error").text)
    assert answers == {"Adresse e-mail ou mot de passe incorrect."}
    for _attempt in range(4):
        log_in(page, live_server, world.staff_b, "still not the password")
    # The fifth failure is behind: now even the right password is refused for a while.
    log_in(page, live_server, world.staff_b)
    assert "Trop d'essais" in page.find_element(By.CSS_SELECTOR, ".error").text
    assert page.current_url.endswith("/login")


def test_the_person_page_fits_a_360_pixel_phone(page, live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    log_in(page, live_server, world.staff_a)
    page.set_window_size(360, 800)
    try:
        for path in (f"/people/{world.person_a}", "/people", "/people/new", "/reports/usage"):
            page.get(live_server + path)
            overflow = page.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow} px wider than a 360-px phone"
        # Every form field has a label.
        page.get(live_server + "/people/new")
        for field in page.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), select"):
            assert page.find_elements(By.CSS_SELECTOR, f"label[for='{field.get_attribute('id')}']"), field.get_attribute("name")
    finally:
        page.set_window_size(1024, 900)


@pytest.mark.parametrize("aged", ["seen", "started"], ids=["idle 31 minutes", "logged in 11 hours ago"])
def test_an_expired_session_sends_the_browser_back_to_the_login_page(page, live_server, world: World, app, aged: str) -> None:  # type: ignore[no-untyped-def]
    """The session cookie as the server signed it, its clock moved back by someone holding the
    server's secret key (the test), as if the browser had stayed idle or logged in since morning."""
    log_in(page, live_server, world.staff_a)
    page.get(f"{live_server}/people")
    assert page.find_element(By.TAG_NAME, "h1").text == "Personnes"
    serializer = app.session_interface.get_signing_serializer(app)
    cookie = page.get_cookie("reconnect_session")
    session = serializer.loads(cookie["value"])
    session[aged] = int(time.time()) - (31 * 60 if aged == "seen" else 11 * 3600)
    page.delete_cookie("reconnect_session")
    page.add_cookie({**{k: cookie[k] for k in ("name", "path", "httpOnly", "sameSite") if k in cookie}, "value": serializer.dumps(session)})
    page.get(f"{live_server}/people/{world.person_a}")
    assert page.current_url.startswith(f"{live_server}/login")
    assert "Votre session a expiré" in page.find_element(By.TAG_NAME, "main").text
    # And the person's page is not reachable with that cookie any more.
    page.get(f"{live_server}/people/{world.person_a}")
    assert page.current_url.startswith(f"{live_server}/login")
