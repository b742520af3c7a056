"""One bench run: for each N, the same calls into the application and into Asterisk's VoiceMail().

Phases run one after the other on the same pbx (never at once), so that the CPU of each is its
own; each phase waits until the pbx has no channel left. See bench/README.md for what is measured
and how.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg2

from reconnect_pbx.sandbox import Sandbox

from . import audio, follow
from .measure import ChannelPoller, PbxObserver, PostgresWatch, percentile, process_cpu_ms, process_cpu_split_ms, _dsn
from .rig import (
    APP_FIRST,
    BENCH_PIN,
    DEPOSIT_CALLER_FIRST,
    LOGIN_CALLER_FIRST,
    NATIVE_FIRST,
    NATIVE_LOGIN_FIRST,
    NATIVE_PIN,
    ServeProcess,
    did,
    native_spool,
    prepare_database,
    prepare_native_messages,
    start_bench_sandbox,
)
from .sipp import SippResult, SippRun

TARGETS = ("app", "native")
LEAD_SECONDS = 3.0
TAIL_SECONDS = 60.0
# Login calls: when the keys are pressed (s after the answer), and when the caller hangs up.
APP_LOGIN_KEYS = [(1.5, "*"), (3.5, BENCH_PIN + "#"), (7.5, "1")]
NATIVE_LOGIN_KEYS = [(2.0, NATIVE_PIN + "#"), (7.5, "1")]
LOGIN_CALL_MS = 26_000
# Of a mixed phase's N calls, this share are logins.
LOGIN_SHARE = 0.2


@dataclass
class BenchConfig:
    sizes: list[int]
    scenario: str = "deposit"  # or "mixed"
    rate: float | None = None  # calls/s; None: N/5 (every call up within 5 s), at least 2
    speech_seconds: float = 10.0
    prompt_set: str = "short"
    octet: int = 20
    sandbox_name: str = "bench"
    work_dir: Path | None = None
    serve_env: dict[str, str] = field(default_factory=dict)
    # Added to serve's niceness (negative: ahead of Asterisk for the CPU, as Nice= in its unit would).
    serve_nice: int = 0
    owner_pid: int | None = None
    # py-spy record of serve during each application phase (collapsed stacks in the work dir).
    profile: bool = False
    profile_rate: int = 250
    # Phases per N and target, alternated; the summary gives medians.
    repeat: int = 1
    # voicemail.conf's format for the native boxes: "wav" stores what the application stores;
    # Asterisk's sample configuration says "wav49|gsm|wav".
    native_format: str = "wav"
    # perf record of the pbx's Asterisk during each phase, both targets (asterisk.perf.data).
    perf_asterisk: bool = False
    # Which phases to run for each N (both for the comparison; "app" alone to try a change).
    targets: tuple[str, ...] = TARGETS
    # The ARI observer (latency, event counts) costs Asterisk some CPU: False to measure without.
    observe: bool = True
    # PostgreSQL publishes an idle backend's counters after 10 s: the wait before reading them
    # (the smoke test, which only checks that figures print, waits less).
    stats_wait: float = 11.0
    # Scenario "follow" (loadbench/follow.py): how long the phone that never answers rings.
    ring_seconds: int = 5

    def rate_for(self, n: int) -> float:
        return self.rate or max(2.0, n / 5)

    def logins_for(self, n: int) -> int:
        return math.ceil(n * LOGIN_SHARE) if self.scenario == "mixed" else 0


@dataclass
class PhaseResult:
    target: str
    n: int
    scenario: str
    rate: float
    deposits: int
    logins: int
    sipp_successful: int = 0
    sipp_failed: int = 0
    answer_ms: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    # The latency in two: StasisStart -> answered (look-up + answer), answered -> first prompt.
    to_answer_ms: list[float] = field(default_factory=list)
    answer_to_prompt_ms: list[float] = field(default_factory=list)
    latency_missing: int = 0
    peak_channels: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)
    system_cpu_ms: dict[str, float] = field(default_factory=dict)
    db: dict[str, float] = field(default_factory=dict)
    stored: int = 0
    silent: int = 0
    heard: int = 0
    seconds: float = 0.0
    loadavg_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    loadavg_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    others: list[str] = field(default_factory=list)
    errors: str = ""
    # ARI events of the phase, by type (as the observer, subscribed to everything, got them).
    events: dict[str, int] = field(default_factory=dict)
    # The application's own ARI traffic in the phase (serve's metrics): "requests", "events:<type>".
    ari_traffic: dict[str, float] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return self.deposits + self.logins

    def per_call(self, key: str) -> float | None:
        return self.cpu_ms[key] / self.calls if key in self.cpu_ms and self.calls else None

    def ari_per_call(self) -> tuple[float, float] | None:
        """The application's ARI requests and events per call."""
        if not self.ari_traffic or not self.calls:
            return None
        events = sum(v for k, v in self.ari_traffic.items() if k.startswith("events:"))
        return self.ari_traffic.get("requests", 0) / self.calls, events / self.calls


def busy_processes(exclude: set[int], limit: int = 5, seconds: float = 1.0) -> list[str]:
    """What else used the CPU during the last ``seconds`` (the machine is shared): "ms command"."""

    def snapshot() -> dict[int, tuple[float, str]]:
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in exclude or int(entry.name) == os.getpid():
                continue
            try:
                cpu = process_cpu_ms(int(entry.name))
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            found[int(entry.name)] = (cpu, command or entry.name)
        return found

    before = snapshot()
    time.sleep(seconds)
    after = snapshot()
    used = sorted(
        ((cpu - before[pid][0], command) for pid, (cpu, command) in after.items() if pid in before),
        reverse=True,
    )
    return [f"{ms / seconds / 10:.0f}% {command[:70]}" for ms, command in used[:limit] if ms > 0]


class Bench:
    def __init__(self, config: BenchConfig, server_url: str) -> None:
        self.config = config
        self.server_url = server_url
        self.work = config.work_dir or Path(tempfile.mkdtemp(prefix="reconnect-bench-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.results: list[PhaseResult] = []
        self.machine: dict[str, str] = {}
        self.sandbox: Sandbox | None = None
        self.serve: ServeProcess | None = None
        self.observer: PbxObserver | ChannelPoller | None = None
        self.pg: PostgresWatch | None = None
        self.database_url = ""
        self.people = 0
        self.listened = 0

    # -- set-up ---------------------------------------------------------------------------------

    async def setup(self) -> None:
        config = self.config
        biggest = max(config.sizes)
        self.listened = max((config.logins_for(n) for n in config.sizes), default=0)
        self.people = biggest + self.listened
        audio.render_caller_audio(self.work, lead_seconds=LEAD_SECONDS, speech_seconds=config.speech_seconds,
                                  tail_seconds=TAIL_SECONDS)
        self.message_wav = (self.work / "message.wav").read_bytes()
        self.database_url = _create_database(self.server_url)
        await asyncio.to_thread(prepare_database, self.database_url, self.people, self.listened, self.message_wav)
        customise, serve_env = None, dict(config.serve_env)
        if config.scenario == follow.SCENARIO:
            await asyncio.to_thread(follow.give_phones, self.database_url)
            customise = functools.partial(
                follow.customise_sandbox, work=self.work, boxes=self.people, ring_seconds=config.ring_seconds
            )
            serve_env = {**follow.serve_env(biggest, config.ring_seconds), **serve_env}
        self.sandbox = await asyncio.to_thread(
            functools.partial(
                start_bench_sandbox, config.octet, config.sandbox_name, self.people, config.owner_pid,
                work=self.work, native_format=config.native_format, customise=customise,
            )
        )
        self.serve = ServeProcess(self.sandbox, self.database_url, self.work / "serve.log",
                                  prompt_set=config.prompt_set, extra_env=serve_env,
                                  nice=config.serve_nice)
        await asyncio.to_thread(self.serve.start)
        pbx = self.sandbox.pbx
        watcher = PbxObserver if config.observe else ChannelPoller
        self.observer = watcher(pbx.ari_url, pbx.ari_user, pbx.ari_password)
        await self.observer.start()
        self.pg = PostgresWatch(self.server_url, self.database_url)
        self.machine = describe_machine(self.sandbox)
        self.machine["asterisk_idle_ms_per_s"] = f"{await self._idle_cpu(pbx.pid, 5):.1f}"
        self.machine["app_idle_ms_per_s"] = f"{await self._idle_cpu(self.serve.pid, 3):.1f}"

    @staticmethod
    async def _idle_cpu(pid: int, seconds: float) -> float:
        before = process_cpu_ms(pid)
        await asyncio.sleep(seconds)
        return (process_cpu_ms(pid) - before) / seconds

    async def close(self) -> None:
        if self.observer is not None:
            await self.observer.stop()
        if self.serve is not None:
            await asyncio.to_thread(self.serve.stop)
        if self.pg is not None:
            self.pg.close()
        if self.sandbox is not None:
            await asyncio.to_thread(self.sandbox.stop)
        if self.database_url:
            _drop_database(self.database_url)

    # -- phases ---------------------------------------------------------------------------------

    async def run(self) -> list[PhaseResult]:
        # Repeats alternate the targets (app, native, app, native...): CPU per call moves by
        # 10-20 % between identical runs here, so one pair of phases proves little.
        for n in self.config.sizes:
            for repeat in range(self.config.repeat):
                for target in self.config.targets:
                    result = await self.phase(target, n, repeat)
                    self.results.append(result)
                    print(phase_line(result), flush=True)
        return self.results

    async def phase(self, target: str, n: int, repeat: int = 0) -> PhaseResult:
        assert self.sandbox and self.serve and self.observer and self.pg
        config = self.config
        logins = config.logins_for(n)
        deposits = n - logins
        rate = config.rate_for(n)
        result = PhaseResult(target, n, config.scenario, rate, deposits, logins)
        run_dir = self.work / (f"{target}-{n}" if repeat == 0 else f"{target}-{n}-{repeat + 1}")
        run_dir.mkdir(exist_ok=True)
        shutil.copy(self.work / "caller.wav", run_dir / "caller.wav")
        await self.observer.wait_idle(120)
        if logins:
            await asyncio.to_thread(self._reset_listened, target, logins)
            audio.write_keys_pcap(run_dir / "login.pcap", APP_LOGIN_KEYS if target == "app" else NATIVE_LOGIN_KEYS,
                                  LOGIN_CALL_MS / 1000 + 4)
        first = APP_FIRST if target == "app" else NATIVE_FIRST
        if target == "native" and config.scenario == follow.SCENARIO:
            first = follow.NATIVE_FOLLOW_FIRST  # FollowMe(), then the same VoiceMail() boxes
        first_login = APP_FIRST if target == "app" else NATIVE_LOGIN_FIRST
        phase_tag = len(self.results) * 10_000  # unique callers across the run
        runs = [
            SippRun("deposit", run_dir, f"{self.sandbox.pbx.address}:5060", self.sandbox.carrier.address, 5070, 6000,
                    [(did(first, i), did(DEPOSIT_CALLER_FIRST, phase_tag + i)) for i in range(deposits)],
                    rate * deposits / n)
        ]
        if logins:
            login_people = range(self.people - logins, self.people)
            runs.append(
                SippRun("login", run_dir, f"{self.sandbox.pbx.address}:5060", self.sandbox.carrier.address, 5072,
                        6100, [(did(first_login, i), did(LOGIN_CALLER_FIRST, phase_tag + i)) for i in login_people],
                        rate * logins / n, call_ms=LOGIN_CALL_MS)
            )

        pids = {"app": self.serve.pid, "asterisk": self.sandbox.pbx.pid}
        result.loadavg_before = os.getloadavg()
        result.others = await asyncio.to_thread(busy_processes, set(pids.values()))
        counters_before = self.pg.counters()
        ari_before = await asyncio.to_thread(self.serve.ari_traffic) if target == "app" else {}
        self.pg.start_polling()
        cpu_before = {name: process_cpu_split_ms(pid) for name, pid in pids.items()}
        self.observer.reset_peak()
        started = time.time()
        profiler = self._start_profiler(run_dir) if target == "app" and config.profile else None
        asterisk_perf = self._start_asterisk_perf(run_dir) if config.perf_asterisk else None
        for run in runs:
            run.start()
        try:
            sipp_results: list[SippResult] = await asyncio.gather(
                *(run.wait(timeout=n / rate + 300) for run in runs)
            )
        finally:
            for run in runs:
                run.stop()
        # The deposit flow stores the message before it says goodbye and hangs up: once the pbx has
        # no channel left, every message of the phase is in the database.
        await self.observer.wait_idle(60)
        for recorder in (profiler, asterisk_perf):
            if recorder is not None:
                recorder.send_signal(signal.SIGINT)
                await asyncio.to_thread(recorder.wait)
        cpu_after = {name: process_cpu_split_ms(pid) for name, pid in pids.items()}
        result.cpu_ms = {name: sum(cpu_after[name]) - sum(cpu_before[name]) for name in pids}
        # Of which in the kernel (sockets, files): kept apart in the JSON only.
        result.system_cpu_ms = {name: cpu_after[name][1] - cpu_before[name][1] for name in pids}
        result.cpu_ms["postgres"] = self.pg.stop_polling()
        if target == "app":
            ari_after = await asyncio.to_thread(self.serve.ari_traffic)
            result.ari_traffic = {
                key: value - ari_before.get(key, 0) for key, value in ari_after.items() if value != ari_before.get(key, 0)
            }
        result.seconds = time.time() - started
        result.loadavg_after = os.getloadavg()
        result.peak_channels = self.observer.max_live
        result.events = dict(self.observer.event_counts.most_common())

        for sipp in sipp_results:
            result.sipp_successful += sipp.successful
            result.sipp_failed += sipp.failed
            result.answer_ms += sipp.answer_ms
            if sipp.errors:
                result.errors += sipp.errors
        if target == "app":
            for channel in self.observer.since(started):
                if channel.stasis is None:
                    continue
                if channel.first_playback is None:
                    result.latency_missing += 1
                else:
                    result.latency_ms.append((channel.first_playback - channel.stasis) * 1000)
                    if channel.answered is not None:
                        result.to_answer_ms.append((channel.answered - channel.stasis) * 1000)
                        result.answer_to_prompt_ms.append((channel.first_playback - channel.answered) * 1000)
        # PostgreSQL flushes a backend's counters when it has been idle for 10 s.
        await asyncio.sleep(config.stats_wait)
        counters_after = self.pg.counters()
        result.db = {key: counters_after[key] - counters_before[key] for key in counters_after}
        stored = await asyncio.to_thread(self._stored_messages, target, deposits, started)
        result.stored = len(stored)
        result.silent = sum(1 for rms in stored if rms < audio.SILENT_RMS)
        if logins:
            result.heard = await asyncio.to_thread(self._heard, target, logins)
        return result

    def _start_profiler(self, run_dir: Path) -> subprocess.Popen[bytes] | None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(py_spy).exists():
            print("py-spy is not installed: no profile", flush=True)
            return None
        with open(run_dir / "py-spy.log", "wb") as log:
            return subprocess.Popen(
                [py_spy, "record", "--pid", str(self.serve.pid), "--rate", str(self.config.profile_rate), "--format", "raw", "--nonblocking",
                 "--output", str(run_dir / "serve-profile.txt"), "--threads", "--gil"],
                stdout=log, stderr=subprocess.STDOUT,
            )

    def _start_asterisk_perf(self, run_dir: Path) -> subprocess.Popen[bytes] | None:
        perf = shutil.which("perf")
        if perf is None:
            print("perf is not installed (Debian linux-perf): no Asterisk profile", flush=True)
            return None
        # Read it with: perf report -i asterisk.perf.data --symfs <the sandbox's chroot>
        with open(run_dir / "perf.log", "wb") as log:
            return subprocess.Popen(
                [perf, "record", "-F", "499", "-g", "--pid", str(self.sandbox.pbx.pid),
                 "-o", str(run_dir / "asterisk.perf.data")],
                stdout=log, stderr=subprocess.STDOUT,
            )

    def _connect(self) -> psycopg2.extensions.connection:
        return psycopg2.connect(_dsn(self.database_url))

    def _stored_messages(self, target: str, deposits: int, since: float) -> list[float]:
        """The RMS level of each message the phase's deposit calls left."""
        levels = []
        if target == "app":
            with self._connect() as connection, connection.cursor(name="audio") as cursor:
                cursor.execute(
                    "SELECT a.data FROM messages m JOIN audio_blobs a ON a.id = m.audio_id"
                    " WHERE m.received_at >= to_timestamp(%s) AND m.source_channel_id NOT LIKE 'bench-%%'",
                    (since - 1,),
                )
                for (data,) in cursor:
                    levels.append(audio.wav_rms(bytes(data)))
            connection.close()
            return levels
        spool = native_spool(self.sandbox)
        for i in range(deposits):
            inbox = spool / str(NATIVE_FIRST + i) / "INBOX"
            for path in inbox.glob("msg*.wav"):
                if path.stat().st_mtime >= since - 1:
                    levels.append(audio.wav_rms(path.read_bytes()))
        return levels

    def _reset_listened(self, target: str, logins: int) -> None:
        """The messages the login calls will hear: new again (app), back in INBOX (native)."""
        if target == "app":
            with self._connect() as connection, connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE messages SET state = 'new', heard_at = NULL WHERE source_channel_id LIKE 'bench-listen-%%'"
                )
            connection.close()
            return
        spool = native_spool(self.sandbox)
        for i in range(self.people - logins, self.people):
            shutil.rmtree(spool / str(NATIVE_FIRST + i), ignore_errors=True)
        prepare_native_messages(self.sandbox, self.people - logins, logins, self.message_wav)

    def _heard(self, target: str, logins: int) -> int:
        """Login calls that listened to their message: saved as heard (app), moved to Old (native)."""
        if target == "app":
            with self._connect() as connection, connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM messages WHERE source_channel_id LIKE 'bench-listen-%%'"
                    " AND heard_at IS NOT NULL AND source_channel_id = ANY(%s)",
                    ([f"bench-listen-{i}" for i in range(self.people - logins, self.people)],),
                )
                count = cursor.fetchone()[0]
            connection.close()
            return count
        spool = native_spool(self.sandbox)
        return sum(
            1 for i in range(self.people - logins, self.people)
            if any((spool / str(NATIVE_FIRST + i) / "Old").glob("msg*.wav"))
        )


# -- database --------------------------------------------------------------------------------------


def _create_database(server_url: str) -> str:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    import pg  # tests/pg.py

    return pg.create_database(server_url, prefix="reconnect_bench")


def _drop_database(database_url: str) -> None:
    import pg

    pg.drop_database(database_url)


# -- the machine -----------------------------------------------------------------------------------


def describe_machine(sandbox: Sandbox) -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    asterisk = subprocess.run(sandbox.pbx.root.command("-V"), capture_output=True, text=True).stdout.strip()
    sipp = subprocess.run(["sipp", "-v"], capture_output=True, text=True).stdout.strip().splitlines()
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "asterisk": asterisk,
        "python": platform.python_version(),
        "sipp": next((line.strip() for line in sipp if "SIPp" in line), "sipp"),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# -- report ----------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pcts(values: list[float]) -> str:
    if not values:
        return "-"
    return "/".join(_fmt(percentile(values, p), 0) for p in (50, 95, 99))


def _ari(r: PhaseResult) -> str:
    traffic = r.ari_per_call()
    return "-" if traffic is None else f"{traffic[0]:.1f} / {traffic[1]:.1f}"


def phase_line(r: PhaseResult) -> str:
    total = sum(r.cpu_ms.values()) / r.calls if r.calls else 0
    return (
        f"[{r.target:6} N={r.n:3} {r.scenario}] ok {r.sipp_successful} failed {r.sipp_failed}"
        f" stored {r.stored}/{r.deposits} silent {r.silent} heard {r.heard}/{r.logins}"
        f" peak {r.peak_channels} | CPU ms/call app {_fmt(r.per_call('app'))} asterisk {_fmt(r.per_call('asterisk'))}"
        f" pg {_fmt(r.per_call('postgres'))} total {total:.1f} | first prompt p50/95/99 {_pcts(r.latency_ms)} ms"
        f" (to answer {_pcts(r.to_answer_ms)}, then {_pcts(r.answer_to_prompt_ms)})"
        f" | INVITE->200 {_pcts(r.answer_ms)} ms | xact/call {_fmt(r.db.get('xact_commit', 0) / max(r.calls, 1))}"
        f" | ARI req/events per call {_ari(r)}"
        f" | load {r.loadavg_before[0]:.2f}->{r.loadavg_after[0]:.2f}"
    )


def markdown(results: list[PhaseResult], machine: dict[str, str], config: BenchConfig) -> str:
    lines = [
        f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('ram')} RAM, "
        f"kernel {machine.get('kernel')}; {machine.get('asterisk')}; Python {machine.get('python')}; "
        f"{machine.get('sipp')}; {machine.get('date')}.",
        f"Idle CPU: Asterisk {machine.get('asterisk_idle_ms_per_s')} ms/s, app {machine.get('app_idle_ms_per_s')} ms/s.",
        f"Scenario {config.scenario}, prompt set {config.prompt_set}, {config.speech_seconds:g} s of speech per deposit.",
        "",
        "| N | target | rate/s | peak ch. | ok / failed | stored (silent) | heard | app ms/call | Asterisk ms/call |"
        " PG ms/call | total ms/call | StasisStart→prompt p50/95/99 ms | INVITE→200 p50/95/99 ms |"
        " xact/call | rows ins/call | stmts/call | ARI req / events per call | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        total = sum(r.cpu_ms.values()) / r.calls if r.calls else 0
        stmts = r.db.get("statements")
        lines.append(
            f"| {r.n} | {r.target} | {r.rate:g} | {r.peak_channels} | {r.sipp_successful} / {r.sipp_failed} |"
            f" {r.stored}/{r.deposits} ({r.silent}) | {f'{r.heard}/{r.logins}' if r.logins else '-'} |"
            f" {_fmt(r.per_call('app')) if r.target == 'app' else '-'} | {_fmt(r.per_call('asterisk'))} |"
            f" {_fmt(r.per_call('postgres')) if r.target == 'app' else '-'} | {total:.1f} |"
            f" {_pcts(r.latency_ms)} | {_pcts(r.answer_ms)} |"
            f" {_fmt(r.db.get('xact_commit', 0) / r.calls) if r.target == 'app' else '-'} |"
            f" {_fmt(r.db.get('tup_inserted', 0) / r.calls) if r.target == 'app' else '-'} |"
            f" {_fmt(stmts / r.calls) if stmts is not None and r.target == 'app' else '-'} | {_ari(r)} |"
            f" {r.loadavg_before[0]:.2f}→{r.loadavg_after[0]:.2f} |"
        )
    return "\n".join(lines) + "\n"


def summary(results: list[PhaseResult]) -> str:
    """Per N: each target's median CPU per call over the repeats, [lowest-highest], and the ratio
    of the application's total (app + Asterisk, then + PostgreSQL) to native Asterisk."""
    lines = [
        "| N | runs | app ms/call | Asterisk ms/call (app) | PG ms/call | native Asterisk ms/call |"
        " app + Asterisk vs native | + PG vs native |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]" if values else "-"

    for n in sorted({r.n for r in results}):
        app = [r for r in results if r.n == n and r.target == "app" and r.calls]
        native = [r for r in results if r.n == n and r.target == "native" and r.calls]
        app_cpu = [r.per_call("app") or 0.0 for r in app]
        app_asterisk = [r.per_call("asterisk") or 0.0 for r in app]
        app_pg = [r.per_call("postgres") or 0.0 for r in app]
        native_asterisk = [r.per_call("asterisk") or 0.0 for r in native]
        ratio = ratio_pg = "-"
        if app and native:
            baseline = statistics.median(native_asterisk)
            ratio = f"{statistics.median(a + b for a, b in zip(app_cpu, app_asterisk)) / baseline:.2f}"
            ratio_pg = f"{statistics.median(a + b + c for a, b, c in zip(app_cpu, app_asterisk, app_pg)) / baseline:.2f}"
        lines.append(
            f"| {n} | {max(len(app), len(native))} | {spread(app_cpu)} | {spread(app_asterisk)} | {spread(app_pg)} |"
            f" {spread(native_asterisk)} | {ratio} | {ratio_pg} |"
        )
    return "\n".join(lines) + "\n"


def save_json(path: Path, results: list[PhaseResult], machine: dict[str, str], config: BenchConfig) -> None:
    data = {
        "machine": machine,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "phases": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(data, indent=1, default=str))
