"""Running ``serve`` for real: it refuses a bad config or a database it cannot use with one clear line,
and its systemd unit is valid."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from app_process import CLI

UNIT = Path(__file__).resolve().parents[2] / "deploy/systemd/reconnect-pbx.service"


def serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RECONNECT_")}
    return subprocess.run(
        [CLI, "serve"],
        env={**clean, "RECONNECT_CONFIG": os.devnull, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("RECONNECT_VOICEMAIL_MAX_MESSAGE_SECONDS", "three minutes", "voicemail.max_message_seconds"),
        ("RECONNECT_VOICEMAIL_MAX_MESAGE_SECONDS", "180", "no setting voicemail.max_mesage_seconds"),
    ],
)
def test_serve_refuses_a_bad_config_with_one_line(setting, value, says, database_url):
    result = serve({setting: value, "RECONNECT_DATABASE_URL": database_url})
    assert result.returncode != 0
    assert len(error_lines(result)) == 1 and says in error_lines(result)[0]
    assert "Traceback" not in result.stderr


def test_serve_refuses_an_unmigrated_database_with_one_line(empty_database_url):
    result = serve({"RECONNECT_DATABASE_URL": empty_database_url})
    assert result.returncode != 0
    assert error_lines(result) == ["Error: the database has no schema: run `reconnect-pbx db upgrade`"]
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_database_it_cannot_reach_with_one_line():
    result = serve({"RECONNECT_DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:9/reconnect_pbx"})
    assert result.returncode != 0
    assert len(error_lines(result)) == 1 and "cannot reach the database" in error_lines(result)[0]
    assert "Traceback" not in result.stderr


def test_serve_refuses_to_start_without_the_pin_pepper_with_one_line(database_url, tmp_path):
    result = serve({"RECONNECT_DATABASE_URL": database_url, "RECONNECT_PIN_PEPPER_FILE": str(tmp_path / "none")})
    assert result.returncode != 0
    assert len(error_lines(result)) == 1 and "pin.pepper_file" in error_lines(result)[0]
    assert "Traceback" not in result.stderr


def test_the_systemd_unit_restarts_serve_on_failure_and_is_hardened():
    text = UNIT.read_text()
    for line in (
        "ExecStart=/opt/reconnect-pbx/.venv/bin/reconnect-pbx serve",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "User=reconnect-pbx",
    ):
        assert line in text.splitlines()
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    result = subprocess.run([analyze, "verify", "--man=no", str(UNIT)], capture_output=True, text=True)
    # The unit's user and executable exist only on a real install: everything else must be clean.
    problems = [
        line for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "reconnect-pbx/.venv/bin/reconnect-pbx" not in line and "reconnect-pbx: " not in line
    ]
    assert problems == []
