"""Simultaneous enrolments never share a number (SELECT ... FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import json
import os
import subprocess

PROCESSES = 8


def test_parallel_enrolments_get_distinct_numbers_and_one_more_fails_cleanly(
    database_url, empty_config_file, reconnect_pbx_argv, cli_runner, centre, pool
) -> None:
    numbers = pool(centre, PROCESSES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONNECT_")}
    env.update(RECONNECT_DATABASE_URL=database_url, RECONNECT_CONFIG=str(empty_config_file))
    running = [
        subprocess.Popen(
            [*reconnect_pbx_argv, "enrol", "--centre", centre, "--name", f"Person {i}", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    outcomes = [(p.wait(timeout=120), *p.communicate()) for p in running]
    assert [code for code, _, _ in outcomes] == [0] * PROCESSES, [err for _, _, err in outcomes]
    given = [json.loads(out)["number"] for _, out, _ in outcomes]
    assert sorted(given) == sorted(numbers)

    one_more = cli_runner("enrol", "--centre", centre, "--name", "One too many")
    assert one_more.exit_code == 2
    assert one_more.stderr.strip() == f"Error: no free number left in the pool of centre '{centre}' (see `numbers import`)"
