"""Web application fixtures: accounts in two centres, the app under Flask's test client, and the
real app under gunicorn (``reconnect-pbx web``) on a free loopback port, driven by Debian's
Chromium through Selenium. One throwaway PostgreSQL database for the run (tests/conftest.py)."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

import pg

from reconnect_pbx.config import DatabaseSettings, Settings, WebSettings, load_settings
from reconnect_pbx.db import transaction
from reconnect_pbx.models import Centre, Language, StaffRole
from reconnect_pbx.services import centres, numbers, people, staff
from reconnect_pbx.web import create_app

PASSWORD = "une phrase assez longue"
SECRET_KEY = secrets.token_hex(32)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class World:
    """Two centres, each with a staff account, a pool and an enrolled person; one admin."""

    centre_a: str
    centre_b: str
    staff_a: str
    staff_b: str
    admin: str
    person_a: int
    person_b: int
    free_a: list[str]
    free_b: list[str]
    centre_a_id: int = 0


def web_settings(database_url: str, **web: Any) -> Settings:
    base = load_settings(environ={"RECONNECT_CONFIG": os.devnull})
    return dataclasses.replace(
        base,
        database=dataclasses.replace(base.database, url=database_url),
        pin=dataclasses.replace(base.pin, pepper_file=os.environ["RECONNECT_PIN_PEPPER_FILE"]),
        web=WebSettings(secret_key=SECRET_KEY, cookie_secure=False, **web),
    )


def make_account(session: Session, centre: Centre, role: StaffRole = StaffRole.STAFF, password: str = PASSWORD) -> str:
    email = f"staff-{secrets.token_hex(4)}@example.org"
    made = staff.add_account(session, email=email, centre=centre, role=role, actor="pytest", link_hours=1)
    staff.set_password_with_token(session, made.token, password)
    return email


@pytest.fixture(scope="session")
def make_world(session_factory: sessionmaker[Session]) -> Callable[[], World]:
    def make() -> World:
        tag = secrets.token_hex(3)
        now = datetime.now(timezone.utc)
        with transaction(session_factory) as session:
            made = {}
            for side in ("A", "B"):
                centre = centres.add_centre(session, f"Centre {side} {tag}", "Paris", actor="pytest")
                prefix = f"+339{secrets.randbelow(10**6):06d}"
                pool = [f"{prefix}{i:02d}" for i in range(6)]
                numbers.import_numbers(session, pool, centre=centre, trunk="trunk", actor="pytest", source="test")
                enrolment = people.enrol(session, centre=centre, display_name=f"Personne {side} {tag}", language=Language.FR, pin_length=6, actor="pytest", now=now)
                made[side] = (centre, make_account(session, centre), enrolment.beneficiary_id, [n for n in pool if n != enrolment.e164])
            admin = make_account(session, made["A"][0], StaffRole.ADMIN)
            return World(
                centre_a=made["A"][0].name, centre_b=made["B"][0].name,
                staff_a=made["A"][1], staff_b=made["B"][1], admin=admin,
                person_a=made["A"][2], person_b=made["B"][2],
                free_a=made["A"][3], free_b=made["B"][3], centre_a_id=made["A"][0].id,
            )

    return make


@pytest.fixture
def world(make_world: Callable[[], World]) -> World:
    """A world of its own, for tests that change it."""
    return make_world()


@pytest.fixture(scope="session")
def shared_world(make_world: Callable[[], World]) -> World:
    """One world for the tests that only look, or whose changes do not matter to the others."""
    return make_world()


@pytest.fixture
def new_person(session_factory: sessionmaker[Session], shared_world: World) -> Callable[[], int]:
    """``new_person()`` enrols one more person in the shared world's centre A (a number of its own)."""

    def make() -> int:
        with transaction(session_factory) as session:
            centre = session.get(Centre, shared_world.centre_a_id)
            prefix = f"+339{secrets.randbelow(10**6):06d}"
            numbers.import_numbers(session, [f"{prefix}00"], centre=centre, trunk="trunk", actor="pytest", source="test")
            return people.enrol(session, centre=centre, display_name="Nouvelle personne", language=Language.FR,
                                pin_length=6, actor="pytest", number=f"{prefix}00").beneficiary_id

    return make


# -- in-process, Flask's test client ------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.offset, timezone.utc)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(database_url: str, session_factory: sessionmaker[Session], clock: Clock):  # type: ignore[no-untyped-def]
    app = create_app(web_settings(database_url), session_factory=session_factory, clock=clock)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def login(app):  # type: ignore[no-untyped-def]
    """``login(email)`` -> a test client logged in as ``email`` (CSRF on, as in production)."""

    def make(email: str, password: str = PASSWORD, address: str = "192.0.2.1"):  # type: ignore[no-untyped-def]
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        response = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(client, "/login")})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


def csrf_of(client, path: str) -> str:  # type: ignore[no-untyped-def]
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="(?:[a-z]+-)?csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


# -- the real server and a real browser --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def web_role_url(database_url: str) -> Iterator[str]:
    """The run's database, logging in as a member of the web role (migration 0007), as in production."""
    with pg.member_login(database_url, DatabaseSettings().web_role) as url:
        yield url


@pytest.fixture(scope="session")
def live_server(web_role_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``reconnect-pbx web`` as its own process (gunicorn), on a free loopback port, with the web
    role's rights only: every browser test also proves they are enough."""
    port = _free_port()
    config = tmp_path_factory.mktemp("web") / "web.conf"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONNECT_")}
    env.update(
        RECONNECT_CONFIG=str(config),
        RECONNECT_DATABASE_URL=web_role_url,
        RECONNECT_WEB_SECRET_KEY=SECRET_KEY,
        RECONNECT_WEB_COOKIE_SECURE="false",
        # The suite's PIN pepper (tests/conftest.py): the PINs it hashes verify in the other processes.
        RECONNECT_PIN_PEPPER_FILE=os.environ["RECONNECT_PIN_PEPPER_FILE"],
    )
    log_path = tmp_path_factory.mktemp("web-log") / "web.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "reconnect-pbx"), "web", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        # Ready when it accepts a connection (a positive signal, no fixed sleep).
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"reconnect-pbx web did not start:\n{log_path.read_text()}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def download_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(download_dir: Path, live_server: str) -> Iterator[Any]:
    # After the server (live_server), so that it quits first: Chromium's idle pre-opened
    # connections would otherwise hold gunicorn's sync workers past their graceful stop.
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # A French browser, as at the centres: pages before login follow the browser's language.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1024,900", "--lang=fr-FR"):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(download_dir),
            "download.prompt_for_download": False,
            "plugins.always_open_pdf_externally": True,
            "intl.accept_languages": "fr-FR,fr",
        },
    )
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The browser, with fresh cookies; a 360-px-wide screenshot is kept when the test fails."""
    browser.delete_all_cookies()
    yield browser
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        browser.set_window_size(360, 800)
        browser.save_screenshot(str(ARTIFACTS / f"{request.node.name}.png"))
        browser.set_window_size(1024, 900)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def cli_centre(cli_runner: Any, unique_name: Callable[[str], str]) -> str:
    name = unique_name("Centre")
    assert cli_runner("centre", "add", name).exit_code == 0
    return name
