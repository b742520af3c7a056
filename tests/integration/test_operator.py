"""Who the audit log names: ``--operator`` from root only, else the Unix user; under sudo, the user
who ran sudo. The decision itself, then the real CLI as root and as an ordinary user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from sqlalchemy import select

from reconnect_pbx.cli import acting_operator
from reconnect_pbx.cli import main as cli_main
from reconnect_pbx.models import AuditEvent

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.parametrize(
    "typed,uid,environ,expected",
    [
        ("alice", 0, {}, "alice"),
        ("alice", 0, {"SUDO_USER": "bob"}, "alice"),
        (None, 0, {"SUDO_USER": "bob"}, "bob"),
        (None, 0, {}, "root"),
        (None, 65534, {"SUDO_USER": "bob", "USER": "mallory"}, "nobody"),
    ],
)
def test_the_operator_is_typed_by_root_or_else_the_unix_user(typed, uid, environ, expected) -> None:  # type: ignore[no-untyped-def]
    assert acting_operator(typed, uid, environ) == expected


def test_an_operator_typed_by_an_ordinary_user_is_refused() -> None:
    with pytest.raises(click.UsageError, match="root only.*nobody"):
        acting_operator("alice", 65534, {})


def _actors(session_factory, centre: str) -> list[str]:  # type: ignore[no-untyped-def]
    with session_factory() as db:
        return list(db.scalars(select(AuditEvent.actor).where(AuditEvent.action == "centre.add", AuditEvent.details["name"].astext == centre)))


@pytest.mark.skipif(os.getuid() != 0, reason="the tests run as root here")
def test_root_under_sudo_is_audited_as_the_sudo_caller(database_url, empty_config_file, session_factory, unique_name) -> None:  # type: ignore[no-untyped-def]
    import click.testing

    name = unique_name("Centre")
    env = {"RECONNECT_DATABASE_URL": database_url, "RECONNECT_CONFIG": str(empty_config_file), "SUDO_USER": "camille"}
    result = click.testing.CliRunner().invoke(cli_main, ["centre", "add", name], env=env)
    assert result.exit_code == 0, result.output
    assert _actors(session_factory, name) == ["camille"]


def _as_nobody(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    # The suite's Python may live where nobody can read (/root/.pyenv): Debian's Python of the same
    # version runs the same code and installed packages.
    site = REPO / ".venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO}:{site}", "RECONNECT_CONFIG": os.devnull, "RECONNECT_DATABASE_URL": database_url}
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", "env", *(f"{k}={v}" for k, v in env.items()),
         str(SYSTEM_PYTHON), "-c", "from reconnect_pbx.cli import main; main()", *args],
        capture_output=True, text=True, timeout=60,
    )


def _system_python_matches() -> bool:
    if os.getuid() != 0 or not shutil.which("runuser") or not SYSTEM_PYTHON.exists():
        return False
    version = subprocess.run([str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    return version.stdout.strip() == str(tuple(sys.version_info[:2]))


@pytest.mark.skipif(not _system_python_matches(), reason="needs root, runuser and a Debian Python of the suite's version")
def test_an_ordinary_user_is_audited_under_their_unix_name_and_cannot_type_another(database_url, session_factory, unique_name) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("Centre")
    typed = _as_nobody("--operator", "alice", "centre", "add", name, database_url=database_url)
    assert typed.returncode == 2 and "--operator is accepted from root only" in typed.stderr, typed.stderr
    assert _actors(session_factory, name) == []
    plain = _as_nobody("centre", "add", name, database_url=database_url)
    assert plain.returncode == 0, plain.stderr
    assert _actors(session_factory, name) == ["nobody"]
