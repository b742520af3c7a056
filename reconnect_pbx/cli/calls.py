"""``calls``: outgoing calls (callbacks and calls to landlines), staff side."""

from __future__ import annotations

import click

from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import json_option, print_json
from reconnect_pbx.services import outbound, people


@click.group()
def calls() -> None:
    """Outgoing calls: lift a suspension set by the toll-fraud guard."""


@calls.command("resume")
@click.argument("ref", metavar="ID|NUMBER")
@click.option("--note", help="Why (kept in the audit log).")
@json_option
@pass_app
def resume(app: App, ref: str, note: str | None, as_json: bool) -> None:
    """Allow a person's outgoing calls again after repeated refused destinations suspended them.

    ID is the person's id; NUMBER is their number in any form.
    """
    with app.transaction() as session:
        person = people.find_person(session, ref, app.settings.numbers.default_region, lock=True)
        outbound.resume_outbound(session, person.id, actor=app.operator, note=note)
        person_id = person.id
    if as_json:
        print_json({"id": person_id, "outgoing_calls": "allowed"})
    else:
        click.echo(f"person {person_id}: outgoing calls allowed again")
