"""The load bench at a tiny N: it places real calls with SIPp into the application and into Asterisk's
native voicemail, and prints its figures. Only correctness is checked here (no timing threshold):
the figures themselves are for docs/benchmarks.md, from ``bench/load.py`` at N = 50, 200, 500.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from loadbench.run import Bench, BenchConfig, markdown, summary  # noqa: E402

from reconnect_pbx.sandbox import SandboxBusy  # noqa: E402

# Sandbox slots of the smoke test (the bench itself uses 20/21; tests 2 to 9).
SMOKE_SLOTS = [("benchsmoke", 24), ("benchsmoke26", 26)]


async def run_smoke_bench(server_url: str, tmp_path: Path) -> tuple[Bench, list]:
    for name, octet in SMOKE_SLOTS:
        config = BenchConfig(
            sizes=[4], scenario="mixed", octet=octet, sandbox_name=name, owner_pid=os.getpid(),
            work_dir=tmp_path / name, stats_wait=1,
        )
        bench = Bench(config, server_url)
        try:
            await bench.setup()
            return bench, await bench.run()
        except SandboxBusy:
            continue
        finally:
            await bench.close()
    pytest.fail(f"every bench smoke slot is in use: {SMOKE_SLOTS}")


async def test_the_bench_places_its_calls_into_the_application_and_into_native_voicemail_and_prints_figures(
    postgres_server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench, results = await run_smoke_bench(postgres_server_url, tmp_path)
    table = markdown(results, bench.machine, bench.config)
    print(table)
    print(summary(results))

    assert [(r.target, r.deposits, r.logins) for r in results] == [("app", 3, 1), ("native", 3, 1)]
    for r in results:
        assert (r.sipp_successful, r.sipp_failed) == (4, 0), r.errors
        assert (r.stored, r.silent) == (3, 0), f"{r.target}: messages stored {r.stored}, silent {r.silent}"
        assert r.heard == 1, f"{r.target}: the login call did not hear its message"
        assert r.cpu_ms["asterisk"] > 0 and len(r.answer_ms) == 4
    app = results[0]
    assert app.cpu_ms["app"] > 0 and len(app.latency_ms) == 4
    # The application's own ARI traffic, from its metrics: each call at least answers, plays, hangs up.
    requests_per_call, events_per_call = app.ari_per_call()
    assert requests_per_call >= 3 and events_per_call >= 3
    printed = capsys.readouterr().out
    assert "| 4 | app |" in printed and "| 4 | native |" in printed
    assert "[app    N=  4 mixed]" in printed and "[native N=  4 mixed]" in printed
    assert "| 4 | 1 |" in printed  # the summary: N, runs
