"""``db``: the schema, through Alembic."""

from __future__ import annotations

import click

from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import json_option, print_json
from reconnect_pbx.services import audit, schema


@click.group()
def db() -> None:
    """Database schema: migrate, show the revision, check models against migrations."""


@db.command()
@pass_app
def upgrade(app: App) -> None:
    """Migrate the database to the latest revision."""
    before = schema.upgrade(app.database_url, roles=app.settings.database)
    after = schema.revisions(app.database_url)
    if before.current == after.current:
        click.echo(f"database already at {after.current}")
        return
    with app.transaction() as session:
        audit.record(session, app.operator, "db.upgrade", from_revision=before.current, to_revision=after.current)
    click.echo(f"database upgraded from {before.current or 'nothing'} to {after.current}")


@db.command()
@json_option
@pass_app
def current(app: App, as_json: bool) -> None:
    """Show the database's revision and the code's."""
    found = schema.revisions(app.database_url)
    if as_json:
        print_json({"current": found.current, "heads": list(found.heads), "up_to_date": found.up_to_date})
    elif found.current is None:
        click.echo("no schema: run `reconnect-pbx db upgrade`")
    elif found.up_to_date:
        click.echo(f"{found.current} (head)")
    else:
        click.echo(f"{found.current} (code expects {', '.join(found.heads)}: run `reconnect-pbx db upgrade`)")


@db.command()
@pass_app
def check(app: App) -> None:
    """Fail if the models and the migrations disagree (the database must be at head)."""
    schema.check(app.database_url)
    click.echo("models and migrations agree")
