"""``sandbox``: the development Asterisk pair (carrier simulator + pbx) on loopback."""

from __future__ import annotations

import click

from reconnect_pbx.cli.output import print_json
from reconnect_pbx import sandbox as sandbox_service


@click.group()
def sandbox() -> None:
    """Start, stop or inspect the development Asterisk sandbox."""


@sandbox.command("up")
def sandbox_up() -> None:
    """Start the carrier simulator (127.0.0.12) and the pbx (127.0.0.13)."""
    try:
        print_json(sandbox_service.up())
    except sandbox_service.SandboxError as exc:
        raise click.ClickException(str(exc)) from None


@sandbox.command("down")
def sandbox_down() -> None:
    """Stop the sandbox."""
    print_json(sandbox_service.down())


@sandbox.command("status")
def sandbox_status() -> None:
    """Show the sandbox's instances, addresses and the trunk registration."""
    print_json(sandbox_service.status())
