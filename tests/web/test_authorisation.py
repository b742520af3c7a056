"""The authorisation rule, route by route: a table of every route x every role.

A staff member reaches their centre's people only; another centre's person answers 404 exactly
like a person that does not exist; an admin reaches every centre; nobody logged out reaches
anything but the login and password-link pages. A route added without a row here fails
``test_every_route_is_in_the_table``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from reconnect_pbx.models import AuditEvent, Beneficiary, BeneficiaryStatus

from .conftest import csrf_of

# (method, path with {person} for the target person, what the owner's centre gets)
ROUTES = [
    ("GET", "/", 302),
    ("GET", "/people", 200),
    ("GET", "/people/new", 200),
    ("GET", "/numbers", 200),
    ("GET", "/reports/usage", 200),
    ("GET", "/reports/usage.csv", 200),
    ("GET", "/account", 200),
    ("GET", "/people/{person}", 200),
    ("GET", "/people/{person}/audit", 200),
    ("GET", "/people/{person}/cards.pdf", 200),
    ("GET", "/people/{person}/leaflet.pdf", 200),
    ("GET", "/people/{person}/close", 200),
    ("POST", "/people/{person}/pin", 302),
    ("POST", "/people/{person}/suspend", 302),
    ("POST", "/people/{person}/resume", 302),
    ("POST", "/people/{person}/calls-resume", 302),
    ("POST", "/people/{person}/close", 302),
    # The current phone: without a number or a phone, refused with a message on the person's page.
    ("POST", "/people/{person}/phone", 302),
    ("POST", "/people/{person}/phone/clear", 302),
    ("POST", "/people/{person}/phone/follow-on", 302),
    ("POST", "/people/{person}/phone/follow-off", 302),
    ("POST", "/people/{person}/phone/alerts-on", 302),
    ("POST", "/people/{person}/phone/alerts-off", 302),
]
# Routes open to everyone (their own checks are tested in test_accounts.py).
PUBLIC = {"/login", "/logout", "/password/set", "/static/<path:filename>"}
# Routes that take form fields naming a centre or a number (the forged-field tests below).
FORM_ROUTES = {"/people/new", "/account/language", "/account/password"}


def _path(template: str, person: int) -> str:
    return template.replace("{person}", str(person))


def _without_token(page: str) -> str:
    import re

    return re.sub(r'value="[^"]*"', "", page)


def _request(client, method: str, path: str):  # type: ignore[no-untyped-def]
    if method == "GET":
        return client.get(path)
    data = {"csrf_token": csrf_of(client, "/people"), "confirm": "y"}
    return client.post(path, data=data)


def test_every_route_is_in_the_table(app) -> None:  # type: ignore[no-untyped-def]
    in_table = {template.replace("{person}", "<int:person_id>") for _method, template, _status in ROUTES}
    for rule in app.url_map.iter_rules():
        assert rule.rule in in_table | PUBLIC | FORM_ROUTES, f"route {rule.rule} has no row in the authorisation table"


@pytest.mark.parametrize("method,template,status", ROUTES, ids=[f"{m} {t}" for m, t, _s in ROUTES])
def test_nobody_logged_out_reaches_a_staff_route(app, shared_world, method: str, template: str, status: int) -> None:  # type: ignore[no-untyped-def]
    W = shared_world
    client = app.test_client()
    response = client.get(_path(template, W.person_a)) if method == "GET" else client.post(_path(template, W.person_a))
    if template == "/":
        assert response.status_code == 302
    elif method == "GET":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        # A POST without a session has no valid CSRF token either: refused before anything else.
        assert response.status_code in (302, 400)


@pytest.mark.parametrize("method,template,status", ROUTES, ids=[f"{m} {t}" for m, t, _s in ROUTES])
@pytest.mark.parametrize("role", ["own centre", "admin"])
def test_a_person_is_reached_by_their_centre_and_by_an_admin(login, shared_world, new_person, role: str, method: str, template: str, status: int) -> None:  # type: ignore[no-untyped-def]
    W = shared_world
    client = login(W.staff_a if role == "own centre" else W.admin)
    person = new_person()
    if template.endswith("/resume"):
        _request(client, "POST", f"/people/{person}/suspend")
    response = _request(client, method, _path(template, person))
    assert response.status_code == status, response.get_data(as_text=True)[:500]


@pytest.mark.parametrize("method,template,status", [r for r in ROUTES if "{person}" in r[1]], ids=[f"{m} {t}" for m, t, _s in ROUTES if "{person}" in t])
def test_another_centre_s_person_answers_404_like_no_one_and_is_left_unchanged(
    login, shared_world, session_factory, method: str, template: str, status: int
) -> None:  # type: ignore[no-untyped-def]
    W = shared_world
    client = login(W.staff_b)
    with session_factory() as db:
        before = db.get(Beneficiary, W.person_a)
        before_status = before.status
        before_events = db.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    other = _request(client, method, _path(template, W.person_a))
    nobody = _request(client, method, _path(template, 2**31 - 1))
    assert other.status_code == 404
    assert nobody.status_code == 404
    # The same page, but for the (per-response) CSRF token of the logout button.
    assert _without_token(other.get_data(as_text=True)) == _without_token(nobody.get_data(as_text=True))
    with session_factory() as db:
        assert db.get(Beneficiary, W.person_a).status == before_status
        assert not db.scalars(
            select(AuditEvent).where(AuditEvent.id > before_events, AuditEvent.beneficiary_id == W.person_a)
        ).all()


def test_a_staff_member_s_lists_hold_only_their_centre(login, shared_world) -> None:  # type: ignore[no-untyped-def]
    W = shared_world
    client = login(W.staff_b)
    people_page = client.get("/people").get_data(as_text=True)
    numbers_page = client.get("/numbers").get_data(as_text=True)
    report = client.get("/reports/usage.csv").get_data(as_text=True)
    assert f"/people/{W.person_b}" in people_page and f"/people/{W.person_a}" not in people_page
    assert W.centre_a not in report and W.centre_b in report
    from reconnect_pbx import phone

    assert phone.national_format(W.free_b[0]) in numbers_page
    assert phone.national_format(W.free_a[0]) not in numbers_page


def test_an_admin_sees_every_centre(login, shared_world) -> None:  # type: ignore[no-untyped-def]
    W = shared_world
    client = login(W.admin)
    people_page = client.get("/people").get_data(as_text=True)
    report = client.get("/reports/usage.csv").get_data(as_text=True)
    assert f"/people/{W.person_a}" in people_page and f"/people/{W.person_b}" in people_page
    assert W.centre_a in report and W.centre_b in report


def test_enrolling_with_another_centre_s_number_or_centre_answers_404_and_enrols_nobody(login, shared_world, session_factory) -> None:  # type: ignore[no-untyped-def]
    W = shared_world
    client = login(W.staff_b)
    with session_factory() as db:
        count = db.query(Beneficiary).count()
    page = client.get("/people/new").get_data(as_text=True)
    import re

    token = re.search(r'id="submission" name="submission" type="hidden" value="([^"]+)"', page).group(1)
    csrf = csrf_of(client, "/people/new")
    own_centre = re.search(r'name="centre" value="([^"]+)"', page).group(1)
    with session_factory() as db:
        other_centre = db.get(Beneficiary, W.person_a).centre_id
    forged_number = {"csrf_token": csrf, "submission": token, "centre": own_centre, "display_name": "X", "language": "fr", "number": W.free_a[0]}
    forged_centre = {**forged_number, "number": "", "centre": str(other_centre)}
    assert client.post("/people/new", data=forged_number).status_code == 404
    assert client.post("/people/new", data=forged_centre).status_code == 404
    with session_factory() as db:
        assert db.query(Beneficiary).count() == count


def test_actions_are_audited_under_the_staff_account(login, shared_world, new_person, session_factory) -> None:  # type: ignore[no-untyped-def]
    W = shared_world
    person = new_person()
    client = login(W.staff_a)
    assert client.post(f"/people/{person}/suspend", data={"csrf_token": csrf_of(client, "/people")}).status_code == 302
    with session_factory() as db:
        event = db.scalars(
            select(AuditEvent).where(AuditEvent.beneficiary_id == person).order_by(AuditEvent.id.desc()).limit(1)
        ).one()
        assert (event.actor, event.action) == (f"web:{W.staff_a}", "beneficiary.suspend")
        assert db.get(Beneficiary, person).status == BeneficiaryStatus.SUSPENDED


def test_a_toll_fraud_suspension_is_lifted_from_the_person_s_page(login, shared_world, new_person, session_factory) -> None:  # type: ignore[no-untyped-def]
    from reconnect_pbx.config import CallbackSettings
    from reconnect_pbx.db import transaction
    from reconnect_pbx.services import outbound

    person = new_person()
    with transaction(session_factory) as db:
        outbound._suspend(db, person, count=5, rules=CallbackSettings())
    client = login(shared_world.staff_a)
    page = client.get(f"/people/{person}").get_data(as_text=True)
    assert 'id="calls-resume"' in page
    assert client.post(f"/people/{person}/calls-resume", data={"csrf_token": csrf_of(client, "/people")}).status_code == 302
    with session_factory() as db:
        assert not outbound.is_suspended(db, person)
        event = db.scalars(select(AuditEvent).where(AuditEvent.beneficiary_id == person).order_by(AuditEvent.id.desc()).limit(1)).one()
        assert event.actor == f"web:{shared_world.staff_a}"
