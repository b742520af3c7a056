"""``messages``: what staff may see of a person's voicemail (never the audio)."""

from __future__ import annotations

import click

from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import json_option, print_json, print_table
from reconnect_pbx.services import people


@click.group()
def messages() -> None:
    """Voicemail messages."""


@messages.command("list")
@click.argument("ref", metavar="ID|NUMBER")
@click.option("--all", "include_deleted", is_flag=True, help="Include deleted messages.")
@json_option
@pass_app
def list_messages(app: App, ref: str, include_deleted: bool, as_json: bool) -> None:
    """List a person's messages, newest first (times in Europe/Paris).

    ID is the person's id; NUMBER is their number in any form.
    """
    with app.transaction() as session:
        person = people.find_person(session, ref, app.settings.numbers.default_region)
        rows = people.messages_of(session, person, include_deleted=include_deleted)
    if as_json:
        print_json(
            [
                {
                    "id": m.id,
                    "received_at": m.received_at,
                    "caller": m.caller_number,
                    "duration_seconds": round(m.duration_seconds, 1),
                    "state": m.state,
                }
                for m in rows
            ]
        )
        return
    print_table(
        ["ID", "RECEIVED", "CALLER", "DURATION", "STATE"],
        [(m.id, m.received_at, m.caller_number or "withheld", f"{m.duration_seconds:.0f} s", m.state) for m in rows],
        empty="no messages",
    )
