"""SIPp as the carrier: it sends the bench's calls to the pbx from the carrier's address.

The pbx recognises the trunk by source address (``identify match``), so SIPp binds the carrier
simulator's address on a port of its own. Figures come from SIPp's own files: ``-trace_stat``
(successful and failed calls) and ``-trace_rtt`` (response time 1 of every call: INVITE -> 200 OK).
"""

from __future__ import annotations

import asyncio
import csv
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .rig import free_port

SCENARIOS = Path(__file__).resolve().parents[1] / "sipp"


@dataclass
class SippResult:
    calls: int
    successful: int = 0
    failed: int = 0
    # INVITE -> 200 OK of each call, ms (SIPp's resolution: 1 ms).
    answer_ms: list[float] = field(default_factory=list)
    errors: str = ""
    returncode: int | None = None


@dataclass
class SippRun:
    """One SIPp process: ``calls`` calls of ``scenario`` at ``rate`` calls/s, from ``local``."""

    scenario: str
    run_dir: Path
    pbx: str
    local: str
    sip_port: int
    media_port: int
    calls: list[tuple[str, str]]  # (DID, caller) per call
    rate: float
    call_ms: int | None = None  # -d: the <pause/> of the login scenario
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if shutil.which("sipp") is None:
            raise RuntimeError("sipp is not installed (Debian package sip-tester)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        injection = self.run_dir / f"{self.scenario}-calls.csv"
        injection.write_text("SEQUENTIAL\n" + "".join(f"{d};{c};\n" for d, c in self.calls))
        command = [
            "sipp", self.pbx, "-sf", str(SCENARIOS / f"{self.scenario}.xml"), "-inf", str(injection),
            "-i", self.local, "-p", str(self.sip_port), "-mi", self.local, "-mp", str(self.media_port),
            "-cp", str(free_port()),
            "-m", str(len(self.calls)), "-l", str(len(self.calls)), "-r", f"{self.rate:g}", "-rp", "1000",
            "-nostdin", "-trace_stat", "-stf", f"{self.scenario}-stat.csv", "-fd", "1",
            "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-error_file", f"{self.scenario}-errors.log",
            "-timeout", "600", "-timeout_error",
        ]  # fmt: skip
        if self.call_ms is not None:
            command += ["-d", str(self.call_ms)]
        with open(self.run_dir / f"{self.scenario}-screen.txt", "wb") as screen:
            self.process = subprocess.Popen(
                command, cwd=self.run_dir, stdin=subprocess.DEVNULL, stdout=screen, stderr=subprocess.STDOUT
            )

    async def wait(self, timeout: float) -> SippResult:
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.process.poll() is None:
            if loop.time() > deadline:
                self.process.terminate()
                break
            await asyncio.sleep(0.2)
        self.process.wait()
        return self.result()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def result(self) -> SippResult:
        assert self.process is not None
        result = SippResult(calls=len(self.calls), returncode=self.process.returncode)
        stat = self.run_dir / f"{self.scenario}-stat.csv"
        if stat.exists():
            rows = list(csv.DictReader(stat.read_text().splitlines(), delimiter=";"))
            if rows:
                last = rows[-1]
                result.successful = int(last.get("SuccessfulCall(C)", 0) or 0)
                result.failed = int(last.get("FailedCall(C)", 0) or 0)
        for rtt in self.run_dir.glob(f"{self.scenario}_{self.process.pid}_rtt.csv"):
            for row in csv.DictReader(rtt.read_text().splitlines(), delimiter=";"):
                if row.get("rtd_no") == "1":
                    result.answer_ms.append(float(row["response_time_ms"]))
        errors = self.run_dir / f"{self.scenario}-errors.log"
        if errors.exists():
            result.errors = errors.read_text(errors="replace")[-2000:]
        return result
