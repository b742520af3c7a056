"""Staff accounts: the operator's commands, the one-time password link, password rules, session
timeouts, throttling per client address, and a form sent twice enrolling once."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import func, select

from reconnect_pbx.models import Beneficiary, FormSubmission, StaffAccount

from .conftest import PASSWORD, csrf_of


def _link_path(output: str) -> str:
    match = re.search(r"https?://[^/\s]+(/password/set\?t=[A-Za-z0-9_-]+)", output)
    assert match, output
    return match.group(1)


def test_an_operator_adds_an_account_whose_owner_sets_a_password_through_a_one_time_link(app, cli_runner, cli_centre, session_factory) -> None:  # type: ignore[no-untyped-def]
    result = cli_runner("staff", "add", "Nouvelle.Personne@Example.org", "--centre", cli_centre)
    assert result.exit_code == 0, result.output
    path = _link_path(result.output)
    with session_factory() as db:
        account = db.scalar(select(StaffAccount).where(StaffAccount.email == "nouvelle.personne@example.org"))
        # Only the hash of the link's token is stored, and no password yet.
        assert account.password_hash is None and path.rsplit("=", 1)[1] not in (account.password_token_hash or "")
    client = app.test_client()
    csrf = csrf_of(client, path)
    form = {"csrf_token": csrf, "token": path.rsplit("=", 1)[1]}
    short = client.post("/password/set", data={**form, "password": "court", "confirm": "court"})
    assert "12 caractères" in short.get_data(as_text=True)
    known = client.post("/password/set", data={**form, "password": "motdepasse123", "confirm": "motdepasse123"})
    assert "trop courant" in known.get_data(as_text=True)
    assert client.post("/password/set", data={**form, "password": PASSWORD, "confirm": PASSWORD}).status_code == 302
    # The link served once.
    assert client.get(path).status_code == 404
    listed = json.loads(cli_runner("staff", "list", "--json").stdout)
    assert {"email": "nouvelle.personne@example.org", "password_set": True, "disabled": False}.items() <= next(
        row for row in listed if row["email"] == "nouvelle.personne@example.org"
    ).items()


def test_a_password_link_expires(app, cli_runner, cli_centre, clock) -> None:  # type: ignore[no-untyped-def]
    result = cli_runner("staff", "add", "expiring@example.org", "--centre", cli_centre)
    path = _link_path(result.output)
    clock.offset = 73 * 3600
    assert app.test_client().get(path).status_code == 404


def test_a_disabled_account_is_logged_out_and_cannot_log_in(app, login, cli_runner, shared_world, make_world) -> None:  # type: ignore[no-untyped-def]
    world = make_world()
    client = login(world.staff_a)
    assert client.get("/people").status_code == 200
    assert cli_runner("staff", "disable", world.staff_a).exit_code == 0
    assert client.get("/people").status_code == 302
    fresh = app.test_client()
    page = fresh.post("/login", data={"email": world.staff_a, "password": PASSWORD, "csrf_token": csrf_of(fresh, "/login")})
    assert "Adresse e-mail ou mot de passe incorrect." in page.get_data(as_text=True)


@pytest.mark.parametrize("idle_minutes,logged_in", [(29, True), (31, False)])
def test_a_session_ends_after_30_idle_minutes(login, shared_world, clock, idle_minutes: int, logged_in: bool) -> None:  # type: ignore[no-untyped-def]
    client = login(shared_world.staff_a)
    clock.offset = idle_minutes * 60
    response = client.get("/people")
    assert (response.status_code == 200) is logged_in


def test_a_session_ends_after_10_hours_even_when_busy(login, shared_world, clock) -> None:  # type: ignore[no-untyped-def]
    client = login(shared_world.staff_a)
    # A page every 20 minutes: never idle, still in at 9 h 40...
    for step in range(1, 30):
        clock.offset = step * 20 * 60
        assert client.get("/people").status_code == 200, f"logged out after {step * 20} minutes"
    # ...and out at 10 h 20.
    clock.offset = 31 * 20 * 60
    assert client.get("/people").status_code == 302


def test_changing_the_password_ends_the_account_s_other_sessions(login, make_world) -> None:  # type: ignore[no-untyped-def]
    world = make_world()
    here = login(world.staff_b)
    elsewhere = login(world.staff_b)
    new = "une autre phrase encore plus longue"
    response = here.post("/account/password", data={
        "pw-csrf_token": csrf_of(here, "/account"), "pw-current": PASSWORD, "pw-password": new, "pw-confirm": new,
    })
    assert response.status_code == 302
    assert here.get("/people").status_code == 200
    assert elsewhere.get("/people").status_code == 302


def test_logins_are_throttled_per_client_address_whatever_the_account(app, shared_world) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    token = csrf_of(client, "/login")
    for attempt in range(30):
        client.post("/login", data={"email": f"guess-{attempt}@example.org", "password": "x" * 12, "csrf_token": token})
    page = client.post("/login", data={"email": shared_world.staff_a, "password": PASSWORD, "csrf_token": token})
    assert "Trop d'essais" in html.unescape(page.get_data(as_text=True))
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.8"
    assert other.post("/login", data={"email": shared_world.staff_a, "password": PASSWORD, "csrf_token": csrf_of(other, "/login")}).status_code == 302


def test_an_enrolment_form_sent_twice_enrols_once(login, shared_world, session_factory) -> None:  # type: ignore[no-untyped-def]
    client = login(shared_world.staff_a)
    page = client.get("/people/new").get_data(as_text=True)
    form = {
        "csrf_token": csrf_of(client, "/people/new"),
        "submission": re.search(r'name="submission" type="hidden" value="([^"]+)"', page).group(1),
        "centre": re.search(r'name="centre" value="([^"]+)"', page).group(1),
        "display_name": "Deux clics",
        "language": "fr",
        "number": "",
    }
    first = client.post("/people/new", data=form)
    second = client.post("/people/new", data=form)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    with session_factory() as db:
        assert db.scalar(select(func.count()).select_from(Beneficiary).where(Beneficiary.display_name == "Deux clics")) == 1
        assert db.get(FormSubmission, form["submission"]).beneficiary_id is not None


def test_an_enrolment_form_with_errors_says_why_in_french_and_writes_nothing(login, shared_world, session_factory) -> None:  # type: ignore[no-untyped-def]
    client = login(shared_world.staff_a)
    page = client.get("/people/new").get_data(as_text=True)
    with session_factory() as db:
        before = db.scalar(select(func.count()).select_from(Beneficiary))
    response = client.post("/people/new", data={
        "csrf_token": csrf_of(client, "/people/new"),
        "submission": re.search(r'name="submission" type="hidden" value="([^"]+)"', page).group(1),
        "centre": re.search(r'name="centre" value="([^"]+)"', page).group(1),
        "display_name": "   ", "language": "fr", "number": "",
    })
    assert response.status_code == 400
    assert "Indiquez le nom de la personne." in response.get_data(as_text=True)
    with session_factory() as db:
        assert db.scalar(select(func.count()).select_from(Beneficiary)) == before


def test_an_account_reads_the_pages_in_english_when_it_chooses_so(login, make_world) -> None:  # type: ignore[no-untyped-def]
    world = make_world()
    client = login(world.staff_a)
    assert "Personnes" in client.get("/people").get_data(as_text=True)
    client.post("/account/language", data={"lang-csrf_token": csrf_of(client, "/account"), "lang-language": "en"})
    page = client.get("/people").get_data(as_text=True)
    assert "People" in page and "Inscrire une personne" not in page


def test_staff_commands_refuse_a_duplicate_or_unknown_account_in_one_line(cli_runner, cli_centre) -> None:  # type: ignore[no-untyped-def]
    assert cli_runner("staff", "add", "twice@example.org", "--centre", cli_centre).exit_code == 0
    again = cli_runner("staff", "add", "TWICE@example.org", "--centre", cli_centre)
    assert again.exit_code == 2 and "already exists" in again.output
    unknown = cli_runner("staff", "disable", "nobody-at-all@example.org")
    assert unknown.exit_code == 2 and "no staff account" in unknown.output
    not_an_address = cli_runner("staff", "add", "not-an-address", "--centre", cli_centre)
    assert not_an_address.exit_code == 2 and "not an e-mail address" in not_an_address.output


def test_the_web_command_refuses_to_start_without_a_secret_key(cli_runner) -> None:  # type: ignore[no-untyped-def]
    result = cli_runner("web")
    assert result.exit_code == 1
    assert "web.secret_key must be set" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("typed", ["{national}", "{e164}", "{last6}", "Personne A"])
def test_people_are_found_by_name_or_by_their_number_in_any_written_form(login, shared_world, session_factory, typed: str) -> None:  # type: ignore[no-untyped-def]
    from reconnect_pbx import phone
    from reconnect_pbx.services import people

    with session_factory() as db:
        e164 = people.details(db, db.get(Beneficiary, shared_world.person_a)).e164
    query = typed.format(national=phone.national_format(e164), e164=e164, last6=e164[-6:])
    if typed == "Personne A":
        query = shared_world.centre_a.replace("Centre", "Personne")
    page = login(shared_world.staff_a).get("/people", query_string={"q": query}).get_data(as_text=True)
    assert f"/people/{shared_world.person_a}\"" in page


@pytest.mark.parametrize("accept,heading", [("fr-FR,fr;q=0.9", "Connexion"), ("en-GB,en;q=0.9", "Log in"), ("de-DE", "Connexion")])
def test_the_login_page_follows_the_browser_s_language_french_first(app, accept: str, heading: str) -> None:  # type: ignore[no-untyped-def]
    page = app.test_client().get("/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert f"<h1>{heading}</h1>" in page


def test_the_web_command_refuses_to_start_without_the_pin_pepper(cli_runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Enrolment and PIN reset hash PINs: a missing pepper is said at start, not as a 500 later.
    import os

    from reconnect_pbx.services import credentials

    env = {"RECONNECT_WEB_SECRET_KEY": "k" * 32, "RECONNECT_PIN_PEPPER_FILE": str(tmp_path / "absent")}
    try:
        result = cli_runner("web", env=env)
    finally:
        # The CLI ran in this process: give the suite its own pepper back.
        credentials.use_pepper_file(os.environ["RECONNECT_PIN_PEPPER_FILE"])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output
