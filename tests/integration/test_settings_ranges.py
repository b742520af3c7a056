"""`serve` and `doctor` refuse a setting out of its range (one that would turn a safeguard off)
with one line naming it, before touching anything."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("command", ["serve", "doctor"])
@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("RECONNECT_ACCESS_LOCK_MAX_MINUTES", "0", "access.lock_max_minutes = 0 is out of range: it must be from 1 to 1440"),
        ("RECONNECT_ACCESS_SUSPEND_AFTER_FAILURES", "5000", "access.suspend_after_failures = 5000 is out of range"),
        ("RECONNECT_VOICEMAIL_MAILBOX_CAPACITY", "0", "voicemail.mailbox_capacity = 0 is out of range"),
    ],
)
def test_a_setting_out_of_its_range_is_refused_with_one_line(cli_process, command, setting, value, says) -> None:
    result = cli_process(command, env={setting: value}, timeout=60)
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and says in errors[0], result.stdout + result.stderr
    assert "Traceback" not in result.stderr
