"""Both halves at once: a staff member enrols a person in the browser (``reconnect-pbx web``), a
real call through the trunk leaves a message, and the person's page then shows it."""

from __future__ import annotations

import asyncio
import secrets

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from reconnect_pbx.db import transaction
from reconnect_pbx.models import Centre, Mailbox
from reconnect_pbx.services import numbers
from web.conftest import browser, download_dir, live_server, make_account, page, web_role_url  # noqa: F401 - fixtures
from web.test_browser import log_in, submit_and_wait, wait_for

from deposit_helpers import leave_message, wait_for_messages


async def test_a_person_enrolled_in_the_browser_sees_a_new_message_on_their_page(
    running_app, carrier, observer, db, session_factory, e2e_centre, number_block, live_server, page  # noqa: F811
):
    number = number_block() + "42"
    with transaction(session_factory) as session:
        centre = session.get(Centre, e2e_centre)
        numbers.import_numbers(session, [number], centre=centre, trunk="trunk", actor="e2e", source="test")
        email = make_account(session, centre)

    def enrol_in_browser() -> tuple[int, str]:
        log_in(page, live_server, email)
        page.get(f"{live_server}/people/new")
        page.find_element(By.ID, "display_name").send_keys("Dominique E.")
        Select(page.find_element(By.ID, "number")).select_by_value(number)  # the centre's pool holds others
        submit_and_wait(page, page.find_element(By.CSS_SELECTOR, "form[data-once] button[type=submit]"))
        shown = wait_for(page, "shown-number").text
        return int(page.current_url.rstrip("/").rsplit("/", 1)[1]), shown

    # Selenium blocks: in a thread, so that the event loop keeps the ARI websockets alive meanwhile.
    person_id, national = await asyncio.to_thread(enrol_in_browser)
    mailbox_id = db.scalar(select(Mailbox.id).where(Mailbox.beneficiary_id == person_id))

    caller = f"01{secrets.randbelow(10**8):08d}"
    # Dialled as a carrier sends it: the digits of the number the page showed.
    await leave_message(carrier, observer, national.replace(" ", ""), caller)
    await wait_for_messages(db, mailbox_id, 1)

    def new_messages_shown() -> str:
        page.get(f"{live_server}/people/{person_id}")
        return page.find_element(By.ID, "new-messages").text

    assert (await asyncio.to_thread(new_messages_shown)).startswith("1 ")
    # Never the caller's number: it is a third party's.
    assert caller[1:] not in page.page_source.replace(" ", "")
