"""``doctor``: check the installation (database, Asterisk, the application, prompts, trunk)."""

from __future__ import annotations

import click

from reconnect_pbx import doctor as checks
from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.cli.output import json_option, print_json


@click.command()
@json_option
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check that this installation can take calls; one line per check.

    Database reachable and migrated; ARI reachable with our user; the Stasis application registered
    (`serve` connected); every prompt installed in every language; the trunk registered (through
    `asterisk -rx`, on the Asterisk host only); ARI and AMI listening on loopback only. Exits 1 if
    any check fails; "skip" means it could not be checked from here.
    """
    results = checks.run_checks(app.settings, app.config_path)
    if as_json:
        print_json([{"check": r.name, "status": r.status, "detail": r.detail} for r in results])
    else:
        width = max(len(r.name) for r in results)
        for result in results:
            click.echo(f"{result.status:<4}  {result.name:<{width}}  {result.detail}")
    if any(result.failed for result in results):
        raise click.exceptions.Exit(1)
