"""``pin``: PIN management by staff."""

from __future__ import annotations

import click

from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import json_option, print_json
from reconnect_pbx.services import people


@click.group()
def pin() -> None:
    """PINs (staff side)."""


@pin.command()
@click.argument("ref", metavar="ID|NUMBER")
@json_option
@pass_app
def reset(app: App, ref: str, as_json: bool) -> None:
    """Give a person a new random PIN (printed once, to be changed at the next login); clears
    failures, lock and login suspension.

    ID is the person's id; NUMBER is their number in any form.
    """
    with app.transaction() as session:
        person = people.find_person(session, ref, app.settings.numbers.default_region, lock=True)
        result = people.reset_pin(session, person, actor=app.operator, pin_length=app.settings.pin.length)
    # After the commit, like enrol: the PIN shown is the PIN stored.
    if as_json:
        print_json({"id": result.beneficiary_id, "number": result.e164, "pin": result.pin})
        return
    click.echo(f"New PIN for person {result.beneficiary_id}: {result.pin}")
    click.echo("Give it to the person now: it is shown only this once and is not stored.")
    click.echo("At their next login they must choose a PIN of their own before reaching the menus.")
