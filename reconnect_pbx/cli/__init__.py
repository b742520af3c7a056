"""The staff CLI, ``reconnect-pbx``: one module per noun, registered on the root group below."""

from __future__ import annotations

import logging
import os
import pwd
from collections.abc import Mapping
from pathlib import Path

import click

from reconnect_pbx import __version__
from reconnect_pbx.cli import (
    calls, cards, centres, db, demo, doctor, messages, numbers, people, phone, pin, privacy, report, sandbox, serve,
)
from reconnect_pbx.cli import prompts, selftest, staff, web
from reconnect_pbx.cli.context import App, RootGroup

OPERATOR_MAX_LENGTH = 100


def _unix_user(uid: int) -> str:
    # From the password database, not $USER / $LOGNAME, which anyone can set.
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry in some containers
        return f"uid-{uid}"


def acting_operator(typed: str | None, uid: int, environ: Mapping[str, str]) -> str:
    """Who the audit log names for this run.

    ``--operator`` is believed from root only (the association's operators, and the purge timer):
    anyone else is their Unix user, whatever they type. Root through sudo is the user who ran sudo
    (``SUDO_USER``, set by sudo, believed only when we are root)."""
    if uid != 0:
        if typed is not None:
            raise click.UsageError(
                f"--operator is accepted from root only; the audit log names your Unix user ({_unix_user(uid)})"
            )
        return _unix_user(uid)
    if typed is not None:
        return typed
    return environ.get("SUDO_USER") or _unix_user(uid)


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="TOML config file (default: $RECONNECT_CONFIG or /etc/reconnect-pbx/reconnect-pbx.conf).",
)
@click.option(
    "--operator",
    default=None,
    show_default="the Unix user (the sudo caller under sudo)",
    help="Who is acting, for the audit log (root only).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="reconnect-pbx")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, operator: str | None, verbose: bool, debug: bool) -> None:
    """reconnect-pbx: personal phone numbers with voicemail, for centres' staff."""
    operator = acting_operator(operator, os.getuid(), os.environ).strip()
    if not operator or len(operator) > OPERATOR_MAX_LENGTH:
        raise click.BadParameter(f"must be 1-{OPERATOR_MAX_LENGTH} characters", param_hint="--operator")
    # Commands print what staff need; logs stay quiet unless asked for.
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
    if debug:
        # SQLAlchemy keeps its loggers at WARNING unless told: --debug shows the SQL too.
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    ctx.obj = App(config_path=config_path, operator=operator, debug=debug)


# The nouns of the CLI. New modules (serve, sandbox, demo...) are added to this list.
COMMANDS = [
    db.db,
    centres.centre,
    numbers.numbers_group,
    people.enrol,
    people.show,
    people.list_people,
    people.suspend,
    people.resume,
    people.close,
    phone.phone_group,
    pin.pin,
    calls.calls,
    messages.messages,
    cards.card,
    cards.leaflet,
    report.report,
    privacy.purge,
    privacy.export,
    serve.serve,
    sandbox.sandbox,
    demo.demo,
    doctor.doctor,
    prompts.prompts_group,
    selftest.selftest,
    staff.staff_group,
    web.web,
]
for _command in COMMANDS:
    main.add_command(_command)
