"""``phone``: the person's current phone, which their personal number follows."""

from __future__ import annotations

import logging

import click

from reconnect_pbx import phone as numbers_format
from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.services import current_phone, people
from reconnect_pbx.services.destination_policy import masked

log = logging.getLogger(__name__)

PERSON_HELP = "PERSON is the person's id or their personal number."


@click.group("phone")
def phone_group() -> None:
    """The person's current phone: calls to their number ring it first (once confirmed)."""


@phone_group.command("set")
@click.argument("person_ref", metavar="PERSON")
@click.argument("number")
@pass_app
def set_phone(app: App, person_ref: str, number: str) -> None:
    """Set the person's current phone to NUMBER (a French mobile or landline).

    serve calls it at once: the person presses 1 to confirm that the phone is theirs; it is not
    rung before. """
    settings = app.settings
    with app.transaction() as session:
        person = people.find_person(session, person_ref, settings.numbers.default_region, lock=True)
        phone = current_phone.set_phone(
            session, person.id, number, actor=app.operator, rules=settings.callback, now=app.now()
        )
        e164, person_id = phone.e164, person.id
    # Where calls go changed: the classic voicemail-fraud step, so always a warning.
    log.warning("current phone of person %s set to %s by %s", person_id, masked(e164), app.operator)
    click.echo(f"Current phone of person {person_id}: {numbers_format.national_format(e164)} (not confirmed yet)")
    click.echo("A confirmation call goes to it now: the person presses 1 to confirm that it is theirs.")


@phone_group.command("clear")
@click.argument("person_ref", metavar="PERSON")
@pass_app
def clear_phone(app: App, person_ref: str) -> None:
    """Forget the person's current phone: calls go straight to their voicemail."""
    with app.transaction() as session:
        person = people.find_person(session, person_ref, app.settings.numbers.default_region, lock=True)
        current_phone.clear_phone(session, person.id, actor=app.operator)
        person_id = person.id
    log.warning("current phone of person %s cleared by %s", person_id, app.operator)
    click.echo(f"Person {person_id} has no current phone: calls go to their voicemail.")


@phone_group.command("follow")
@click.argument("person_ref", metavar="PERSON")
@click.argument("state", type=click.Choice(["on", "off"]))
@pass_app
def follow(app: App, person_ref: str, state: str) -> None:
    """Turn on or off ringing the current phone before the voicemail."""
    with app.transaction() as session:
        person = people.find_person(session, person_ref, app.settings.numbers.default_region, lock=True)
        current_phone.set_follow(session, person.id, state == "on", actor=app.operator)
        person_id = person.id
    log.warning("follow %s for person %s by %s", state, person_id, app.operator)
    click.echo(f"Follow {state} for person {person_id}.")


@phone_group.command("alerts")
@click.argument("person_ref", metavar="PERSON")
@click.argument("state", type=click.Choice(["on", "off"]))
@pass_app
def alerts(app: App, person_ref: str, state: str) -> None:
    """Turn on or off the call to the current phone when a new message arrives."""
    with app.transaction() as session:
        person = people.find_person(session, person_ref, app.settings.numbers.default_region, lock=True)
        current_phone.set_alerts(session, person.id, state == "on", actor=app.operator)
        person_id = person.id
    log.warning("alerts %s for person %s by %s", state, person_id, app.operator)
    click.echo(f"New-message alerts {state} for person {person_id}.")


@phone_group.command("confirm")
@click.argument("person_ref", metavar="PERSON")
@pass_app
def confirm(app: App, person_ref: str) -> None:
    """Call the current phone again for its confirmation (the last call was not answered)."""
    with app.transaction() as session:
        person = people.find_person(session, person_ref, app.settings.numbers.default_region, lock=True)
        current_phone.request_confirmation(session, person.id, actor=app.operator, now=app.now())
        person_id = person.id
    log.warning("confirmation call of the current phone of person %s requested by %s", person_id, app.operator)
    click.echo(f"A confirmation call goes to the current phone of person {person_id} now.")


@phone_group.command("show")
@click.argument("person_ref", metavar="PERSON")
@pass_app
def show(app: App, person_ref: str) -> None:
    """Show the person's current phone, whether it is confirmed and whether follow is on."""
    with app.transaction() as session:
        person = people.find_person(session, person_ref, app.settings.numbers.default_region)
        found = current_phone.get_phone(session, person.id)
        if found is None:
            click.echo(f"Person {person.id} has no current phone.")
            return
        confirmed = f"confirmed {found.confirmed_at:%Y-%m-%d %H:%M}" if found.confirmed_at else "not confirmed"
        last = f", last confirmation call: {found.confirmation_outcome}" if found.confirmation_outcome else ""
        click.echo(
            f"Person {person.id}: {numbers_format.national_format(found.e164)} ({found.category}), {confirmed}{last},"
            f" follow {'on' if found.follow else 'off'}, alerts {'on' if found.alerts else 'off'}"
        )
