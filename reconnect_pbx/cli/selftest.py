"""``selftest``: a test call into this pbx, as if from the trunk, to the reserved test mailbox."""

from __future__ import annotations

import asyncio

import click

from reconnect_pbx import selftest as selftest_call
from reconnect_pbx.cli.context import App, pass_app
from reconnect_pbx.services.errors import DomainError


@click.command()
@click.option("--timeout", default=60, show_default=True, type=click.IntRange(5, 600), help="Seconds each step may take.")
@pass_app
def selftest(app: App, timeout: int) -> None:
    """Call the test mailbox through the trunk's dialplan, leave a message, check it, erase it.

    The call is a Local channel into the context of the carrier's calls (`from-trunk`), to
    access.selftest_number: it goes through Asterisk, the dialplan and `serve` as a caller's would,
    without the carrier. One line per step; exits 1 at the first failure.
    """

    def report(step: selftest_call.Step) -> None:
        click.echo(f"ok    {step.name:<8}  {step.detail}")

    with app.transaction():
        pass  # the schema check: one clear line when the database is not migrated
    try:
        asyncio.run(selftest_call.run(app.settings, app.session_factory, report, timeout=timeout))
    except (selftest_call.SelftestFailed, DomainError) as exc:
        name, _, detail = str(exc).partition(": ")
        click.echo(f"FAIL  {name:<8}  {detail}")
        raise click.exceptions.Exit(1) from None
