"""``numbers``: the pools of personal numbers."""

from __future__ import annotations

from typing import TextIO

import click

from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import json_option, print_json, print_table
from reconnect_pbx.models import NumberState
from reconnect_pbx.services import centres, numbers
from reconnect_pbx.services.errors import InvalidInput


@click.group("numbers")
def numbers_group() -> None:
    """Pools of personal numbers (each centre has its own)."""


@numbers_group.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"), required=False)
@click.option("--range", "number_range", nargs=2, metavar="FIRST LAST", help="Import FIRST to LAST inclusive.")
@click.option("--centre", "centre_ref", required=True, help="Centre whose pool receives the numbers.")
@click.option("--trunk", default="trunk", show_default=True, help="Asterisk trunk endpoint carrying these numbers.")
@json_option
@pass_app
def import_numbers(
    app: App, file: TextIO | None, number_range: tuple[str, str] | None, centre_ref: str, trunk: str, as_json: bool
) -> None:
    """Add numbers to a centre's pool, from FILE (one a line, '-' for stdin) or --range.

    Numbers may be written nationally (01 42 68 53 00) or internationally (+33 1 42 68 53 00,
    0033142685300). Any invalid, foreign or already known number refuses the whole import.
    """
    if (file is None) == (number_range is None):
        raise click.UsageError("give either FILE or --range FIRST LAST")
    region = app.settings.numbers.default_region
    allowed = app.settings.numbers.allowed_regions
    if number_range is not None:
        wanted = numbers.expand_range(*number_range, region, allowed)
        source = f"range {number_range[0]}..{number_range[1]}"
    else:
        assert file is not None
        try:
            lines = file.readlines()
        except UnicodeDecodeError:
            raise InvalidInput(f"{file.name} is not UTF-8 text") from None
        wanted = numbers.parse_lines(lines, region, allowed)
        source = "stdin" if file.name == "<stdin>" else f"file {file.name}"
    with app.transaction() as session:
        centre = centres.find_centre(session, centre_ref)
        count = numbers.import_numbers(
            session,
            wanted,
            centre=centre,
            trunk=trunk,
            actor=app.operator,
            source=source,
            reserved=app.reserved_numbers,
        )
        centre_name = centre.name
    if as_json:
        print_json({"centre": centre_name, "imported": count, "first": min(wanted), "last": max(wanted)})
    else:
        click.echo(f"{count} numbers imported into the pool of centre '{centre_name}'")


@numbers_group.command("list")
@click.option("--state", type=click.Choice([s.value for s in NumberState]), help="Only numbers in this state.")
@click.option("--centre", "centre_ref", help="Only this centre's pool.")
@json_option
@pass_app
def list_numbers(app: App, state: str | None, centre_ref: str | None, as_json: bool) -> None:
    """List numbers; a number whose quarantine has ended shows as free."""
    with app.transaction() as session:
        centre = centres.find_centre(session, centre_ref) if centre_ref else None
        rows = numbers.list_numbers(session, app.now(), state=NumberState(state) if state else None, centre=centre)
    if as_json:
        print_json(
            [
                {
                    "number": r.e164,
                    "national": r.national,
                    "centre": r.centre,
                    "trunk": r.trunk,
                    "state": r.state,
                    "quarantine_until": r.quarantine_until,
                    "beneficiary_id": r.beneficiary_id,
                }
                for r in rows
            ]
        )
        return
    print_table(
        ["NUMBER", "NATIONAL", "CENTRE", "TRUNK", "STATE", "QUARANTINE UNTIL", "PERSON"],
        [(r.e164, r.national, r.centre, r.trunk, r.state, r.quarantine_until, r.beneficiary_id) for r in rows],
        empty="no numbers",
    )
