"""``staff``: accounts of the web application, for the association's operators."""

from __future__ import annotations

import click

from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import json_option, print_json, print_table, text
from reconnect_pbx.models import Language, StaffRole
from reconnect_pbx.services import centres, staff


@click.group("staff")
def staff_group() -> None:
    """Staff accounts of the web application (`reconnect-pbx web`)."""


@staff_group.command("add")
@click.argument("email")
@click.option("--centre", "centre_ref", required=True, help="The staff member's centre (name or id).")
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), default="staff", show_default=True,
              help="staff: their centre only; admin: every centre.")
@click.option("--language", type=click.Choice([lang.value for lang in Language]), default="fr", show_default=True)
@json_option
@pass_app
def add(app: App, email: str, centre_ref: str, role: str, language: str, as_json: bool) -> None:
    """Create an account and print its one-time link to choose a password (web.password_link_hours)."""
    with app.transaction() as session:
        centre = centres.find_centre(session, centre_ref)
        account = staff.add_account(
            session, email=email, centre=centre, role=StaffRole(role), actor=app.operator,
            link_hours=app.settings.web.password_link_hours, language=Language(language), now=app.now(),
        )
    _print_link(app, account, as_json, "created")


@staff_group.command("link")
@click.argument("email")
@json_option
@pass_app
def link(app: App, email: str, as_json: bool) -> None:
    """Print a new one-time link to choose a password (a forgotten password)."""
    with app.transaction() as session:
        account = staff.new_password_link(session, email, actor=app.operator, link_hours=app.settings.web.password_link_hours, now=app.now())
    _print_link(app, account, as_json, "new link")


@staff_group.command("list")
@json_option
@pass_app
def list_accounts(app: App, as_json: bool) -> None:
    """List the staff accounts."""
    with app.transaction() as session:
        rows = staff.list_accounts(session)
    if as_json:
        print_json([row.__dict__ for row in rows])
        return
    print_table(
        ["EMAIL", "CENTRE", "ROLE", "STATE", "PASSWORD", "LAST LOGIN"],
        [(r.email, r.centre, r.role, "disabled" if r.disabled else "active", "set" if r.password_set else "not yet",
          r.last_login_at) for r in rows],
        empty="no staff account",
    )


@staff_group.command("disable")
@click.argument("email")
@json_option
@pass_app
def disable(app: App, email: str, as_json: bool) -> None:
    """Disable an account: it can no longer log in, and its open sessions end."""
    with app.transaction() as session:
        account = staff.disable(session, email, actor=app.operator)
        address = account.email
    if as_json:
        print_json({"email": address, "disabled": True})
    else:
        click.echo(f"staff account {address} disabled")


def _print_link(app: App, account: staff.NewAccount, as_json: bool, what: str) -> None:
    url = f"{app.settings.web.base_url.rstrip('/')}/password/set?t={account.token}"
    if as_json:
        print_json({"email": account.email, "centre": account.centre, "role": account.role, "link": url,
                    "expires_at": account.expires_at})
        return
    click.echo(f"Staff account {account.email} ({account.role.value}, centre {account.centre}): {what}")
    click.echo(f"One-time link to choose a password, valid until {text(account.expires_at)}:")
    click.echo(f"  {url}")
    click.echo("Give it to the person only: it is shown this once and stored only as a hash.")
