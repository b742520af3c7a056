"""Our application under test: ``reconnect-pbx serve`` as a real process against the sandbox pbx.

One process serves the whole session; tests that need the application name for themselves
(``pbx_app``) stop it first, and fault tests kill and restart it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from reconnect_pbx.sandbox import STASIS_APP, Sandbox

CLI = str(Path(sys.executable).with_name("reconnect-pbx"))
# The DID people call to reach their voicemail (access.access_number); no test number ends in 01.
ACCESS_NUMBER = "+33980000001"


# Outgoing-call limits of the test configuration: a call is cut 10 s after the answer (3 s after the
# warning), Asterisk's own cut 2 s later; no answer after 4 s of ringing; 4 refused destinations
# suspend a person's outgoing calls.
CALLBACK_TEST_LIMITS = {
    "RECONNECT_CALLBACK_MAX_CALL_SECONDS": "10",
    "RECONNECT_CALLBACK_WARNING_SECONDS": "3",
    "RECONNECT_CALLBACK_HANGUP_GRACE_SECONDS": "2",
    "RECONNECT_CALLBACK_RING_TIMEOUT_SECONDS": "4",
    "RECONNECT_CALLBACK_REFUSALS_BEFORE_SUSPENSION": "4",
}

# Follow: the current phone rings 5 s, then 3 s to press 1; confirmation requests are looked for
# twice a second (test_follow_*.py).
FOLLOW_TEST_SETTINGS = {
    "RECONNECT_FOLLOW_RING_SECONDS": "5",
    "RECONNECT_FOLLOW_ACCEPT_SECONDS": "3",
    "RECONNECT_FOLLOW_POLL_SECONDS": "0.5",
    # Alerts: 1 s to gather messages, no quiet hours (tests run at any hour), one retry 1 s later.
    "RECONNECT_FOLLOW_ALERT_COALESCE_SECONDS": "1",
    "RECONNECT_FOLLOW_ALERT_QUIET_START_HOUR": "0",
    "RECONNECT_FOLLOW_ALERT_QUIET_END_HOUR": "0",
    "RECONNECT_FOLLOW_ALERT_RETRIES": "1",
    "RECONNECT_FOLLOW_ALERT_RETRY_SECONDS": "1",
}


# What serve logs once its ARI websocket is up (reconnect_pbx/ari/client.py).
CONNECTED_LINE = "ARI websocket connected to"
# How long serve may take to connect: a bound on a wait for that line, which returns as soon as it
# comes (importing the application alone took 10 s with eight test sessions on two cores).
START_SECONDS = 60
# How long serve may take to end its calls and exit after SIGTERM (calls.shutdown_grace and the
# sweep included): past this the test fails, the process is killed.
STOP_SECONDS = 40
# One log record of serve.log (the format of cli/serve.py); the lines that follow it without this
# prefix (a traceback) belong to it.
_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) ")


def unexpected_errors(log_text: str, allowed: Sequence[str] = ()) -> list[str]:
    """The records of ``log_text`` at ERROR or above, or holding a traceback (with it), that no
    pattern of ``allowed`` finds in their first line."""
    records: list[list[str]] = []
    for line in log_text.splitlines():
        if _RECORD.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)
    bad = []
    for lines in records:
        match = _RECORD.match(lines[0])
        level = match["level"] if match else ""
        if level not in ("ERROR", "CRITICAL") and not any(line.startswith("Traceback") for line in lines):
            continue
        if any(re.search(pattern, lines[0]) for pattern in allowed):
            continue
        bad.append("\n".join(lines))
    return bad


def save_coverage(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Under ``make coverage``: ask ``process`` to save its coverage data, and wait until it has."""
    saved_dir = os.environ.get("COVERAGE_SAVED_DIR")
    if not saved_dir or not os.environ.get("COVERAGE_PROCESS_START"):
        return
    marker = Path(saved_dir) / str(process.pid)
    marker.unlink(missing_ok=True)
    process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


class AppProcess:
    def __init__(self, sandbox: Sandbox, database_url: str, log_path: Path, *, prompt_set: str = "short") -> None:
        self.sandbox = sandbox
        self.log_path = log_path
        pbx = sandbox.pbx
        self.env = {
            **os.environ,
            "RECONNECT_CONFIG": os.devnull,
            "RECONNECT_DATABASE_URL": database_url,
            "RECONNECT_ARI_URL": pbx.ari_url,
            "RECONNECT_ARI_USERNAME": pbx.ari_user,
            "RECONNECT_ARI_PASSWORD": pbx.ari_password,
            "RECONNECT_ARI_RECONNECT_MAX_SECONDS": "2",
            # Stored audio plays from files that exist only while they play (reconnect_pbx/media.py).
            "RECONNECT_MEDIA_PLAYBACK_DIR": str(pbx.host_dir / "play"),
            "RECONNECT_MEDIA_ASTERISK_PLAYBACK_DIR": f"{pbx.dir}/play",
            # Sessions running at once each get their own metrics port (test_metrics.py scrapes it).
            "RECONNECT_METRICS_LISTEN_PORT": str(free_port()),
            "RECONNECT_VOICEMAIL_PROMPT_SET": prompt_set,
            "RECONNECT_LOGGING_LEVEL": "DEBUG",
            "RECONNECT_ACCESS_ACCESS_NUMBER": ACCESS_NUMBER,
            # Outgoing calls: limits short enough for tests to reach them (test_callback_*.py).
            **CALLBACK_TEST_LIMITS,
            **FOLLOW_TEST_SETTINGS,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._connections_before_start = 0

    def configure(self, **settings: str) -> None:
        """Change settings (``voicemail_prompt_set="std"``); applied at the next start."""
        for key, value in settings.items():
            self.env[f"RECONNECT_{key.upper()}"] = value

    @contextmanager
    def reconfigured(self, **settings: str) -> Iterator[AppProcess]:
        """The application restarted with ``settings`` for a test, then as it was before."""
        names = [f"RECONNECT_{key.upper()}" for key in settings]
        saved = {name: self.env.get(name) for name in names}
        self.stop()
        self.configure(**settings)
        self.start()
        try:
            yield self
        finally:
            self.stop()
            for name, value in saved.items():
                if value is None:
                    self.env.pop(name, None)
                else:
                    self.env[name] = value
            self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_SECONDS) -> None:
        if self.running:
            return
        self._connections_before_start = self.log_text().count(CONNECTED_LINE)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([CLI, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.wait_registered(timeout)

    def wait_registered(self, timeout: float = START_SECONDS) -> None:
        """Until Asterisk lists our Stasis application and this process has connected since it
        started. Asterisk keeps listing an application whose process died while channels are still
        in it (then inactive: Stasis() fails), so the listing alone does not say we are back."""
        pbx = self.sandbox.pbx
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                response = httpx.get(
                    f"{pbx.ari_url}/ari/applications/{STASIS_APP}",
                    auth=(pbx.ari_user, pbx.ari_password),
                    timeout=2,
                )
                if response.status_code == 200 and self.log_text().count(CONNECTED_LINE) > self._connections_before_start:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not register {STASIS_APP} in {timeout} s:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM, as systemd stops it: serve must end by itself within ``timeout``, else the
        test fails (the process is killed so that the next test starts clean)."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"serve did not end within {timeout} s of SIGTERM:\n{self.log_tail()}") from None

    def kill(self) -> None:
        """SIGKILL: the process dies mid-call, as on a crash (under ``make coverage``, once it has
        saved what it measured: tests/coverage/sitecustomize.py)."""
        if self.running:
            assert self.process is not None
            save_coverage(self.process)
            self.process.kill()
            self.process.wait()

    async def wait_for_log(self, pattern: str, *, count: int = 1, timeout: float = 30) -> list[str]:
        """Until the log has ``count`` lines matching ``pattern`` (a regular expression); returns them.

        The way to know the application did something: count the lines before acting, then wait
        for one more."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(lines := self.log_lines(pattern)) < count:
            if loop.time() > deadline:
                raise AssertionError(f"no {count} line(s) {pattern!r} in serve.log within {timeout} s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)
        return lines

    async def wait_call_done(self, channel_id: str, timeout: float = 30) -> None:
        """Until the call flow on ``channel_id`` has ended: what it stores or deletes is done, so
        what it did not do can be asserted."""
        await self.wait_for_log(rf"channel {re.escape(channel_id)}: \w+ flow done", timeout=timeout)

    async def wait_reconciled(self, before: int, timeout: float = 30) -> None:
        """Until a reconcile after the ``before``-th one has finished (``reconcile_count()``)."""
        await self.wait_for_log(r"reconcile: done", count=before + 1, timeout=timeout)

    def reconcile_count(self) -> int:
        return len(self.log_lines(r"reconcile: done"))

    def log_lines(self, pattern: str) -> list[str]:
        return [line for line in self.log_text().splitlines() if re.search(pattern, line)]

    def log_text(self, since: int = 0) -> str:
        """serve.log, from byte ``since`` on (``log_size()`` taken earlier)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(since)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])
