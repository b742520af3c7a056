"""Every command answers --help."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from reconnect_pbx.cli import main


def _all_commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _all_commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


@pytest.mark.parametrize("path", _all_commands(main), ids=lambda p: " ".join(p) or "reconnect-pbx")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    # A broken config must not prevent reading the help.
    result = CliRunner().invoke(main, [*path, "--help"], env={"RECONNECT_PIN_LENGTH": "1"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
