"""The people: ``enrol``, ``show``, ``list``, ``suspend``, ``resume``, ``close``."""

from __future__ import annotations

import click

from reconnect_pbx import phone
from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import json_option, print_fields, print_json, print_table, text
from reconnect_pbx.models import BeneficiaryStatus, Language
from reconnect_pbx.services import centres, people

REF_HELP = "ID is the person's id; NUMBER is their number in any form (01 42 68 53 00, +33142685300)."


@click.command()
@click.option("--centre", "centre_ref", required=True, help="The enrolling centre (name or id).")
@click.option("--name", "display_name", required=True, help="How staff will recognise the person.")
@click.option("--language", type=click.Choice([lang.value for lang in Language]), default="fr", show_default=True)
@click.option("--number", help="A particular free number of the centre's pool (default: any free one).")
@json_option
@pass_app
def enrol(app: App, centre_ref: str, display_name: str, language: str, number: str | None, as_json: bool) -> None:
    """Give a person a number from the centre's pool, a mailbox and a PIN (printed once)."""
    settings = app.settings
    wanted = phone.normalise(number, settings.numbers.default_region, None) if number else None
    with app.transaction() as session:
        centre = centres.find_centre(session, centre_ref)
        enrolment = people.enrol(
            session,
            centre=centre,
            display_name=display_name,
            language=Language(language),
            pin_length=settings.pin.length,
            actor=app.operator,
            number=wanted,
            reserved=app.reserved_numbers,
        )
    # Printed only after the commit: a PIN is never shown for an enrolment that did not happen.
    national = phone.national_format(enrolment.e164)
    if as_json:
        print_json(
            {
                "id": enrolment.beneficiary_id,
                "name": enrolment.display_name,
                "centre": enrolment.centre,
                "language": language,
                "number": enrolment.e164,
                "national": national,
                "pin": enrolment.pin,
            }
        )
        return
    click.echo(f"Enrolled person {enrolment.beneficiary_id}: {enrolment.display_name} (centre {enrolment.centre})")
    click.echo(f"Number:  {national}  ({enrolment.e164})")
    click.echo(f"PIN:     {enrolment.pin}")
    click.echo("Give the PIN to the person now: it is shown only this once and is not stored.")
    click.echo("At their next login they must choose a PIN of their own before reaching the menus.")


@click.command()
@click.argument("ref", metavar="ID|NUMBER")
@json_option
@pass_app
def show(app: App, ref: str, as_json: bool) -> None:
    """Show a person: status, number, centre, language, messages, lock state."""
    with app.transaction() as session:
        person = people.find_person(session, ref, app.settings.numbers.default_region)
        found = people.details(session, person, app.now())
    if as_json:
        data = dict(found.__dict__)
        data["national"] = phone.national_format(found.e164) if found.e164 else None
        data["lock_state"] = found.lock_state
        print_json(data)
        return
    number = f"{phone.national_format(found.e164)} ({found.e164})" if found.e164 else None
    if number and found.number_ended_at:
        number += f", held until {text(found.number_ended_at)}"
    print_fields(
        [
            ("Person", found.id),
            ("Name", found.display_name),
            ("Status", found.status),
            ("Centre", found.centre),
            ("Language", found.language),
            ("Number", number),
            ("Messages", f"{found.new_messages} new, {found.saved_messages} saved"),
            ("Wrong PINs", found.failed_attempts),
            ("PIN", "as handed over: to be changed at the next login" if found.pin_must_change else "chosen by the person"),
            ("Lock", found.lock_state),
            ("Enrolled", found.created_at),
            ("Closed", found.closed_at),
        ]
    )


show.help = f"{show.help}\n\n{REF_HELP}"


@click.command("list")
@click.option("--centre", "centre_ref", help="Only this centre's people.")
@click.option("--status", type=click.Choice([s.value for s in BeneficiaryStatus]), help="Only people in this status.")
@json_option
@pass_app
def list_people(app: App, centre_ref: str | None, status: str | None, as_json: bool) -> None:
    """List people."""
    with app.transaction() as session:
        centre = centres.find_centre(session, centre_ref) if centre_ref else None
        rows = people.list_people(session, centre=centre, status=BeneficiaryStatus(status) if status else None)
    if as_json:
        print_json([row.__dict__ for row in rows])
        return
    print_table(
        ["ID", "NAME", "STATUS", "CENTRE", "NUMBER", "LANGUAGE", "ENROLLED"],
        [(r.id, r.display_name, r.status, r.centre, r.e164, r.language, r.created_at) for r in rows],
        empty="nobody",
    )


@click.command()
@click.argument("ref", metavar="ID|NUMBER")
@json_option
@pass_app
def suspend(app: App, ref: str, as_json: bool) -> None:
    """Suspend a person: messages still arrive, but no login or callback until `resume`."""
    with app.transaction() as session:
        person = people.find_person(session, ref, app.settings.numbers.default_region, lock=True)
        people.suspend(session, person, actor=app.operator)
        person_id = person.id
    _done(as_json, person_id, "suspended")


@click.command()
@click.argument("ref", metavar="ID|NUMBER")
@json_option
@pass_app
def resume(app: App, ref: str, as_json: bool) -> None:
    """Resume a suspended person."""
    with app.transaction() as session:
        person = people.find_person(session, ref, app.settings.numbers.default_region, lock=True)
        people.resume(session, person, actor=app.operator)
        person_id = person.id
    _done(as_json, person_id, "active")


@click.command()
@click.argument("ref", metavar="ID|NUMBER")
@json_option
@pass_app
def close(app: App, ref: str, as_json: bool) -> None:
    """Close a person's account: the number goes into quarantine (numbers.quarantine_days)."""
    with app.transaction() as session:
        person = people.find_person(session, ref, app.settings.numbers.default_region, lock=True)
        closure = people.close(session, person, actor=app.operator, quarantine_days=app.settings.numbers.quarantine_days)
    if as_json:
        print_json(
            {
                "id": closure.beneficiary_id,
                "status": "closed",
                "number": closure.e164,
                "quarantine_until": closure.quarantine_until,
            }
        )
        return
    click.echo(f"person {closure.beneficiary_id} closed")
    if closure.e164 is not None:
        national = phone.national_format(closure.e164)
        click.echo(f"their number {national} is in quarantine until {text(closure.quarantine_until)}")


for _command in (suspend, resume, close):
    _command.help = f"{_command.help}\n\n{REF_HELP}"


def _done(as_json: bool, person_id: int, status: str) -> None:
    if as_json:
        print_json({"id": person_id, "status": status})
    else:
        click.echo(f"person {person_id} is now {status}")
