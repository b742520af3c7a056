"""``centre``: the associations that enrol people."""

from __future__ import annotations

import click

from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import json_option, print_json, print_table
from reconnect_pbx.services import centres


@click.group("centre")
def centre() -> None:
    """Centres (the associations that enrol people and hold number pools)."""


@centre.command("add")
@click.argument("name")
@click.option("--city", help="Where the centre is.")
@json_option
@pass_app
def add(app: App, name: str, city: str | None, as_json: bool) -> None:
    """Add a centre called NAME."""
    with app.transaction() as session:
        added = centres.add_centre(session, name, city, actor=app.operator)
        result = {"id": added.id, "name": added.name, "city": added.city}
    if as_json:
        print_json(result)
    else:
        click.echo(f"centre '{result['name']}' added (id {result['id']})")


@centre.command("list")
@json_option
@pass_app
def list_centres(app: App, as_json: bool) -> None:
    """List the centres, with their pools and people."""
    with app.transaction() as session:
        rows = centres.list_centres(session, app.now())
    if as_json:
        print_json([row.__dict__ for row in rows])
        return
    print_table(
        ["ID", "NAME", "CITY", "NUMBERS", "FREE", "ACTIVE PEOPLE"],
        [(r.id, r.name, r.city, r.numbers, r.free_numbers, r.active_people) for r in rows],
        empty="no centres yet: `reconnect-pbx centre add NAME`",
    )
