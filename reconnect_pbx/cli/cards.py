"""Printed material for a person: ``card`` (a sheet of ten business cards) and ``leaflet``."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.services import cards, people

OUT_HELP = "Where to write the PDF (- for standard output)."


@click.command()
@click.argument("ref", metavar="ID|NUMBER")
@click.option("--out", required=True, metavar="FILE.pdf", help=OUT_HELP)
@click.option("--with-name", is_flag=True, help="Print the person's name on the cards.")
@pass_app
def card(app: App, ref: str, out: str, with_name: bool) -> None:
    """An A4 sheet of ten business cards (85 x 55 mm, with crop marks) in the person's language.

    ID is the person's id; NUMBER is their number in any form.
    """
    with app.transaction() as session:
        person = people.find_person(session, ref, app.settings.numbers.default_region)
        details = cards.printed_details(session, person, app.settings)
        person_id = person.id
    write_output(out, cards.render_cards(details, with_name=with_name))
    _done(out, f"10 cards for person {person_id} ({details.number})")


@click.command()
@click.argument("ref", metavar="ID|NUMBER")
@click.option("--out", required=True, metavar="FILE.pdf", help=OUT_HELP)
@pass_app
def leaflet(app: App, ref: str, out: str) -> None:
    """A one-page leaflet for the person: their number and how to use it (never the PIN).

    ID is the person's id; NUMBER is their number in any form.
    """
    with app.transaction() as session:
        person = people.find_person(session, ref, app.settings.numbers.default_region)
        details = cards.printed_details(session, person, app.settings)
        person_id = person.id
    write_output(out, cards.render_leaflet(details))
    _done(out, f"leaflet for person {person_id} ({details.number})")


def write_output(out: str, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to the file ``out`` whole or not at all (``-``: standard output).

    ``private`` files (personal data) are readable by their owner only.
    """
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(out)
    try:
        # A temporary file beside the target, renamed over it: never a half-written file.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            if not private:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(temporary, 0o666 & ~umask)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None


def _done(out: str, what: str) -> None:
    # With --out -, standard output is the PDF: the confirmation goes to stderr.
    click.echo(f"{what} written to {'standard output' if out == '-' else out}", err=out == "-")
