"""``demo``: the whole service on one machine, with a simulated carrier, to try it in minutes."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import click

from reconnect_pbx.cli.context import App
from reconnect_pbx.cli.messages import list_messages
from reconnect_pbx.phone import national_format
from reconnect_pbx.sandbox import SandboxError, demo as demo_service

DEFAULT_MESSAGE = "Bonjour, c'est Martine de l'agence d'intérim. J'ai une mission pour vous lundi. Rappelez-moi, merci."


@click.group()
def demo() -> None:
    """Run the service locally with a simulated carrier (PostgreSQL, Asterisk sandbox, serve)."""


@demo.command("up")
def demo_up() -> None:
    """Start everything and enrol a demo person (safe to run again)."""
    try:
        state = demo_service.up()
    except (demo_service.DemoError, SandboxError) as exc:
        raise click.ClickException(str(exc)) from None
    config = state.config_path
    national = national_format(state.number)
    cli = _this_command()
    click.echo(f"The demo runs: Asterisk sandbox, `serve` (log: {demo_service.DEMO_DIR / 'serve.log'}).")
    click.echo(f"Demo person #{state.person_id}, personal number {national} ({state.number}).")
    if state.pin:
        click.echo(f"PIN (shown once): {state.pin}")
    else:
        click.echo(f"PIN: shown when the person was enrolled; a new one: {cli} --config {config} pin reset {state.person_id}")
    if state.web_url:
        click.echo(f"Staff web application: {state.web_url} (log: {demo_service.DEMO_DIR / 'web.log'})")
        click.echo(f"  log in as {state.staff_email}, password: {state.staff_password}")
    click.echo("")
    click.echo("Try it:")
    click.echo(f"  {cli} demo call {national.replace(' ', '')}    # the carrier calls and leaves a spoken message")
    click.echo(f"  {cli} --config {config} messages list {state.person_id}")
    click.echo(f"  {cli} demo down    # stop it all")


def _this_command() -> str:
    """How to run this CLI again from here (it usually lives in the checkout's .venv)."""
    path = Path(sys.executable).with_name("reconnect-pbx")
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(path)


@demo.command("call")
@click.argument("number")
@click.option("--from", "caller", default="0142685300", show_default=True, help="The caller's number.")
@click.option("--text", default=DEFAULT_MESSAGE, help="What the caller says (spoken by espeak-ng).")
@click.pass_context
def demo_call(ctx: click.Context, number: str, caller: str, text: str) -> None:
    """Have the simulated carrier call NUMBER and leave a spoken message, then list the messages."""
    try:
        asyncio.run(demo_service.call(number, caller, text))
    except (demo_service.DemoError, SandboxError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"The carrier called {number} from {caller} and left a message.")
    time.sleep(1)  # the application stores the message just after the caller hangs up
    app = ctx.find_object(App)
    if app is not None and app.config_path is None:
        app.config_path = demo_service.config_path()
    ctx.invoke(list_messages, ref=number, include_deleted=False, as_json=False)


@demo.command("down")
def demo_down() -> None:
    """Stop the web application, serve, the Asterisk sandbox and the demo's private PostgreSQL, if any."""
    demo_service.down()
    click.echo("The demo is stopped.")
