"""Asterisk instances of the sandbox: a carrier simulator and the pbx, each in its own dirs.

An instance lives inside the Asterisk root at ``/srv/reconnect-pbx/<sandbox>/<name>/``
with its own etc, spool, run, log, lib and cache directories; only the modules and
the sounds (``/usr/share/asterisk``) are shared. The pbx runs the repository's
``asterisk-conf/`` and ``dialplan/`` files as they are, placeholders rendered;
the carrier runs ``carrier/*.conf`` beside this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import template
from .chroot import DATA_DIR, AsteriskRoot, asterisk_root, file_lock

log = logging.getLogger(__name__)

STASIS_APP = "reconnect-pbx"
CARRIER_APP = "carrier"

REPO_DIR = Path(__file__).resolve().parents[2]
CONF_DIR = REPO_DIR / "asterisk-conf"
DIALPLAN_DIR = REPO_DIR / "dialplan"
SOUNDS_DIR = REPO_DIR / "sounds"
CARRIER_DIR = Path(__file__).resolve().parent / "carrier"
# Inside the Asterisk root.
INSTANCES_DIR = "/srv/reconnect-pbx"
SOUNDS_TARGET = DATA_DIR + "/sounds/reconnect"

Role = Literal["pbx", "carrier"]
ARI_USERS: dict[str, str] = {"pbx": "reconnect", "carrier": "carrier"}
ARI_APPS: dict[str, str] = {"pbx": STASIS_APP, "carrier": CARRIER_APP}
# The username the pbx registers with: not a secret, the carrier gives it.
TRUNK_USERNAME = "reconnect"


class SandboxError(RuntimeError):
    """An Asterisk instance of the sandbox failed to render, start or stop."""


@dataclass
class AsteriskInstance:
    name: str
    role: Role
    root: AsteriskRoot
    address: str
    sip_port: int = 5060
    http_port: int = 8088
    rtp_range: tuple[int, int] = (20000, 29999)
    # Template values that are secrets (passwords): written only into the instance dir.
    secrets: dict[str, str] = field(default_factory=dict)
    # Other template values (the peer's address...).
    settings: dict[str, str] = field(default_factory=dict)
    # Directory holding the instance directory, inside the root.
    base_dir: str = INSTANCES_DIR + "/default"
    pid: int | None = None
    # messages.log as it was once the sandbox was up (set by Sandbox.start).
    startup_log: str = field(default="", repr=False)
    # Files for this instance only (the bench's native-voicemail baseline), by their name in etc,
    # rendered like the others; and lines appended to a rendered file ('#include "x.conf"' to
    # extensions.conf, "load = x.so" to modules.conf). Empty for the tests, the demo and production.
    extra_files: dict[str, Path] = field(default_factory=dict)
    appended_lines: dict[str, list[str]] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    # -- paths -------------------------------------------------------------------------------

    @property
    def dir(self) -> str:
        """The instance directory as Asterisk sees it."""
        return f"{self.base_dir}/{self.name}"

    @property
    def host_dir(self) -> Path:
        return self.root.host_path(self.dir)

    @property
    def conf_file(self) -> str:
        return f"{self.dir}/etc/asterisk.conf"

    @property
    def log_file(self) -> Path:
        """Asterisk's messages.log (notice, warning, error)."""
        return self.host_dir / "log/messages.log"

    @property
    def console_log(self) -> Path:
        """What the Asterisk process prints (its stdout and stderr)."""
        return self.host_dir / "console.log"

    @property
    def secrets_file(self) -> Path:
        return self.host_dir / "secrets.json"

    # -- ARI ---------------------------------------------------------------------------------

    @property
    def ari_url(self) -> str:
        """The HTTP base URL; ARI is under ``/ari``."""
        return f"http://{self.address}:{self.http_port}"

    @property
    def ari_user(self) -> str:
        return ARI_USERS[self.role]

    @property
    def ari_password(self) -> str:
        return self.secrets["ARI_PASSWORD"]

    @property
    def ari_app(self) -> str:
        return ARI_APPS[self.role]

    # -- rendering ---------------------------------------------------------------------------

    def template_values(self) -> dict[str, str]:
        values = {
            "SIP_ADDRESS": self.address,
            "SIP_PORT": str(self.sip_port),
            "HTTP_ADDRESS": self.address,
            "HTTP_PORT": str(self.http_port),
            "RTP_START": str(self.rtp_range[0]),
            "RTP_END": str(self.rtp_range[1]),
        }
        return values | self.settings | self.secrets

    def sources(self) -> dict[str, Path]:
        """The config files of this instance, by the name they get in its etc dir."""
        dirs = [CONF_DIR, DIALPLAN_DIR] if self.role == "pbx" else [CARRIER_DIR]
        files: dict[str, Path] = {}
        for directory in dirs:
            if not directory.is_dir():
                raise SandboxError(f"{directory} is missing (run from a source checkout)")
            for path in sorted(directory.glob("*.conf")):
                if path.name in files:
                    raise SandboxError(f"{path.name} is in both {files[path.name].parent} and {directory}")
                files[path.name] = path
        for name, path in self.extra_files.items():
            if name in files:
                raise SandboxError(f"extra file {name} would replace {files[name]}")
            files[name] = path
        return files

    def render(self) -> None:
        """Make a fresh instance dir: rendered config, empty spool, run, log, lib and cache.

        The instance must not be running (Sandbox.start stops a previous one first).
        """
        sources = self.sources()
        values = self.template_values()
        texts = {name: path.read_text() for name, path in sources.items()}
        template.check_all_used(texts.values(), values)
        rendered = {
            name: template.render(text, template.values_for(name, values), source=str(sources[name]))
            for name, text in texts.items()
        }
        rendered["asterisk.conf"] = relocate_directories(rendered["asterisk.conf"], self._directories())
        for name, lines in self.appended_lines.items():
            if name not in rendered:
                raise SandboxError(f"cannot append to {name}: no such config file")
            rendered[name] = rendered[name].rstrip("\n") + "\n" + "".join(line + "\n" for line in lines)

        # A fresh instance each time: no recordings, contacts or logs of a previous run.
        host = self.host_dir
        shutil.rmtree(host, ignore_errors=True)
        host.mkdir(parents=True, mode=0o700)
        # ARI answers 500 to a record request when spool/recording is missing.
        for sub in ("etc", "spool/recording", "spool/tmp", "run", "log", "lib", "cache"):
            (host / sub).mkdir(parents=True)
        for name, text in rendered.items():
            write_private(host / "etc" / name, text)
        write_private(self.secrets_file, json.dumps(self.secrets, indent=2) + "\n")
        if self.role == "pbx":
            install_sounds(self.root)

    def _directories(self) -> dict[str, str]:
        d = self.dir
        return {
            "astetcdir": f"{d}/etc",
            "astmoddir": self.root.module_dir,
            "astvarlibdir": f"{d}/lib",
            "astdbdir": f"{d}/lib",
            "astkeydir": f"{d}/lib",
            "astdatadir": DATA_DIR,
            "astagidir": f"{DATA_DIR}/agi-bin",
            "astspooldir": f"{d}/spool",
            "astrundir": f"{d}/run",
            "astlogdir": f"{d}/log",
            "astcachedir": f"{d}/cache",
            "astsbindir": "/usr/sbin",
        }

    # -- process -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start Asterisk in the background (it outlives this Python process)."""
        if self.is_running():
            raise SandboxError(f"{self.name} is already running (pid {self.pid})")
        with open(self.console_log, "ab") as console:
            self._process = subprocess.Popen(
                self.root.command("-f", "-C", self.conf_file),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self._process.pid

    def is_running(self) -> bool:
        """Whether our Asterisk process is alive (checked by pid and command line)."""
        if self.pid is None:
            return False
        if self._process is not None:
            return self._process.poll() is None
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        # A reused pid would not run Asterisk with our config file.
        return self.conf_file.encode() in cmdline

    def wait_fully_booted(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running():
                raise SandboxError(f"{self.name} exited while booting:\n{self.console_tail()}")
            result = self._rx_raw("core waitfullybooted", timeout=max(0.5, deadline - time.monotonic()))
            if result.returncode == 0 and "fully booted" in result.stdout:
                return
            if time.monotonic() > deadline:
                raise SandboxError(f"{self.name} not fully booted after {timeout} s:\n{self.console_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10) -> None:
        """Stop gracefully (``core stop now``), then kill what is left of our process."""
        if not self.is_running():
            self._reap()
            return
        self._rx_raw("core stop now", timeout=timeout)
        if self._wait_exit(timeout):
            return
        assert self.pid is not None
        log.warning("%s did not stop in %s s: killing pid %s", self.name, timeout, self.pid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            if self._wait_exit(5):
                return
        raise SandboxError(f"{self.name} (pid {self.pid}) does not die")

    def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.is_running():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        self._reap()
        return True

    def _reap(self) -> None:
        if self._process is not None:
            self._process.wait()
            self._process = None
        self.pid = None

    def rx(self, command: str, timeout: float = 10) -> str:
        """Run one CLI command in the running Asterisk and return what it prints."""
        result = self._rx_raw(command, timeout)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise SandboxError(f"{self.name}: asterisk -rx {command!r} failed: {output}")
        return result.stdout

    def _rx_raw(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        process = subprocess.Popen(
            self.root.command("-C", self.conf_file, "-rx", command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Our own child: end it and anything it started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return subprocess.CompletedProcess(process.args, 124, "", f"timed out after {timeout} s")
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def console_tail(self, lines: int = 20) -> str:
        """The end of messages.log and of the console output: why it failed."""
        tails = []
        for path in (self.log_file, self.console_log):
            try:
                tails += path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                pass
        return "\n".join(tails) or "(no output)"

    # -- state -------------------------------------------------------------------------------

    def registration_status(self, registration: str = "trunk") -> str | None:
        """The state of an outbound registration (Registered, Rejected...), None if unknown."""
        for line in self.rx("pjsip show registrations").splitlines():
            fields = line.split()
            if fields and fields[0].startswith(registration + "/"):
                return fields[-3] if fields[-1].endswith("s)") else fields[-1]
        return None

    def to_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "address": self.address,
            "sip_port": self.sip_port,
            "http_port": self.http_port,
            "rtp_range": list(self.rtp_range),
            "settings": self.settings,
            "base_dir": self.base_dir,
            "pid": self.pid,
            "dir": str(self.host_dir),
            "secrets_file": str(self.secrets_file),
            "ari": {"url": self.ari_url, "user": self.ari_user, "app": self.ari_app},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], root: AsteriskRoot) -> AsteriskInstance:
        instance = cls(
            name=state["name"],
            role=state["role"],
            root=root,
            address=state["address"],
            sip_port=state["sip_port"],
            http_port=state["http_port"],
            rtp_range=tuple(state["rtp_range"]),  # type: ignore[arg-type]
            settings=state["settings"],
            base_dir=state["base_dir"],
            pid=state["pid"],
        )
        try:
            instance.secrets = json.loads(instance.secrets_file.read_text())
        except OSError:
            instance.secrets = {}
        return instance


def relocate_directories(text: str, directories: dict[str, str]) -> str:
    """Replace the body of ``[directories]`` in an asterisk.conf by ``directories``."""
    match = re.search(r"^\[directories\](\(!\))?[ \t]*\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if not match:
        raise SandboxError("asterisk.conf has no [directories] section")
    if match.group(1):
        raise SandboxError("asterisk.conf: [directories](!) is a template that Asterisk ignores")
    known = set(re.findall(r"^\s*(\w+)\s*=>?", match.group(2), re.M))
    unknown = known - directories.keys()
    if unknown:
        raise SandboxError(f"asterisk.conf: unknown directories {sorted(unknown)}")
    body = "".join(f"{key} => {value}\n" for key, value in directories.items())
    section = "[directories]\n; Rewritten by the sandbox for this instance.\n" + body + "\n"
    return text[: match.start()] + section + text[match.end() :]


SOUNDS_STAMP = ".source-digest"


def _sounds_digest(source: Path) -> str:
    """What a prompt set's files are (names and bytes), to install it only when it changed."""
    hashed = hashlib.sha256()
    for lang in ("fr", "en"):
        folder = source / lang
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file():
                hashed.update(str(path.relative_to(source)).encode() + b"\0")
                hashed.update(path.read_bytes())
    return hashed.hexdigest()


def install_sounds(root: AsteriskRoot) -> Path:
    """Copy the repository's prompts into ``sounds/reconnect/<set>/<lang>`` of the root.

    ``sounds/fr``, ``sounds/en`` make the ``std`` set; ``sounds/short/<lang>`` (made by a
    script for fast tests) the ``short`` set. Missing directories are skipped. Files are
    copied, never linked: a chroot cannot follow a link out of itself. Each set is replaced
    whole; other sets (the association's own, made by ``prompts import``) are left as they are.
    """
    target = root.host_path(SOUNDS_TARGET)
    sets = {"std": SOUNDS_DIR, "short": SOUNDS_DIR / "short"}
    target.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / ".reconnect-sounds.lock"):
        for set_name, source in sets.items():
            digest = _sounds_digest(source)
            stamp = target / set_name / SOUNDS_STAMP
            if stamp.is_file() and stamp.read_text() == digest:
                # Already these very files: sandboxes of parallel test workers start while
                # others play prompts, and a swap would leave them a moment with none.
                continue
            staging = target / f".{set_name}.new"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            for lang in ("fr", "en"):
                if (source / lang).is_dir():
                    shutil.copytree(source / lang, staging / lang, symlinks=False)
            (staging / SOUNDS_STAMP).write_text(digest)
            old = target / f".{set_name}.old"
            shutil.rmtree(old, ignore_errors=True)
            if (target / set_name).exists():
                (target / set_name).rename(old)
            staging.rename(target / set_name)
            shutil.rmtree(old, ignore_errors=True)
    return target


def write_private(path: Path, text: str) -> None:
    """Write a file only root can read: rendered config holds passwords."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)




class SandboxBusy(SandboxError):
    """Another live process (a test session) owns this sandbox."""


@dataclass
class Sandbox:
    """A carrier simulator and the pbx registered to it: real calls, all on loopback."""

    name: str
    carrier: AsteriskInstance
    pbx: AsteriskInstance
    # The process whose lifetime bounds the sandbox (a test session); None: until `down`.
    owner_pid: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def create(
        cls, name: str, base_address_octet: int, root: AsteriskRoot, owner_pid: int | None = None
    ) -> Sandbox:
        """carrier on 127.0.0.<octet>, pbx on 127.0.0.<octet + 1>, fresh passwords."""
        carrier_address = f"127.0.0.{base_address_octet}"
        pbx_address = f"127.0.0.{base_address_octet + 1}"
        # RTP binds the wildcard address: the two sides, and the dev sandbox, get their own
        # ranges; test sandboxes running at once share theirs (Asterisk skips a busy port).
        rtp_base = 20000 + ((base_address_octet - 2) // 10) * 10000
        trunk_password = secrets.token_urlsafe(18)
        base_dir = f"{INSTANCES_DIR}/{name}"
        carrier = AsteriskInstance(
            name="carrier",
            role="carrier",
            root=root,
            address=carrier_address,
            rtp_range=(rtp_base, rtp_base + 4999),
            secrets={"ARI_PASSWORD": secrets.token_urlsafe(18), "PBX_PASSWORD": trunk_password},
            settings={"PBX_ADDRESS": pbx_address, "PBX_USERNAME": TRUNK_USERNAME},
            base_dir=base_dir,
        )
        pbx = AsteriskInstance(
            name="pbx",
            role="pbx",
            root=root,
            address=pbx_address,
            rtp_range=(rtp_base + 5000, rtp_base + 9999),
            secrets={"ARI_PASSWORD": secrets.token_urlsafe(18), "TRUNK_PASSWORD": trunk_password},
            settings={
                "TRUNK_SERVER": f"{carrier_address}:{carrier.sip_port}",
                "TRUNK_MATCH": carrier_address,
                "TRUNK_USERNAME": TRUNK_USERNAME,
                "REGISTRATION_INITIAL_DELAY": "0",
            },
            base_dir=base_dir,
        )
        return cls(name=name, carrier=carrier, pbx=pbx, owner_pid=owner_pid)

    @property
    def instances(self) -> tuple[AsteriskInstance, AsteriskInstance]:
        return (self.carrier, self.pbx)

    @property
    def host_dir(self) -> Path:
        return self.pbx.root.host_path(f"{INSTANCES_DIR}/{self.name}")

    @property
    def state_file(self) -> Path:
        return state_file(self.name, self.pbx.root)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        """Render and start both sides, then wait until the pbx is registered."""
        with file_lock(self.host_dir.with_name(self.name + ".lock")):
            previous = Sandbox.load(self.name, self.pbx.root)
            if previous is not None and previous.is_running():
                if previous.owner_pid not in (None, os.getpid()) and process_alive(previous.owner_pid):
                    raise SandboxBusy(f"sandbox {self.name!r} is in use by pid {previous.owner_pid}")
                log.info("stopping the sandbox %r left running", self.name)
                previous.stop()
            started = time.monotonic()
            try:
                for instance in self.instances:
                    instance.render()
                # The carrier first: a REGISTER sent before it listens is only retried
                # by SIP retransmission, which costs a second.
                for instance in self.instances:
                    instance.start()
                    self.save()
                    instance.wait_fully_booted(timeout)
                self.timings["fully_booted"] = time.monotonic() - started
                # Asterisk sends the first REGISTER 1 s + max_random_initial_delay
                # after loading: most of the time spent here.
                self.wait_registered(timeout)
                self.timings["registered"] = time.monotonic() - started
                for instance in self.instances:
                    instance.startup_log = instance.log_file.read_text(errors="replace")
                self.save()
            except BaseException:
                self.stop()
                raise
        log.info(
            "sandbox %r up: booted in %.2f s, registered in %.2f s",
            self.name,
            self.timings["fully_booted"],
            self.timings["registered"],
        )

    def wait_registered(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (status := self.pbx.registration_status()) != "Registered":
            if time.monotonic() > deadline:
                raise SandboxError(f"the pbx is not registered to the carrier after {timeout} s ({status})")
            time.sleep(0.05)

    def stop(self) -> None:
        # The pbx first: its unregistration then reaches a live carrier.
        errors = []
        for instance in (self.pbx, self.carrier):
            try:
                instance.stop()
            except SandboxError as exc:
                errors.append(str(exc))
        self.state_file.unlink(missing_ok=True)
        if errors:
            raise SandboxError("; ".join(errors))

    def is_running(self) -> bool:
        return any(instance.is_running() for instance in self.instances)

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": self.name,
            "state_file": str(self.state_file),
            "timings": self.timings,
        }
        for instance in self.instances:
            running = instance.is_running()
            entry = instance.to_state() | {"running": running}
            if running and instance.role == "pbx":
                try:
                    entry["registration"] = instance.registration_status()
                except SandboxError as exc:
                    entry["registration"] = f"unknown ({exc})"
            result[instance.role] = entry
        return result

    # -- state file --------------------------------------------------------------------------

    def save(self) -> None:
        state = {
            "name": self.name,
            "root": str(self.pbx.root.path),
            "owner_pid": self.owner_pid,
            "timings": self.timings,
            "carrier": self.carrier.to_state(),
            "pbx": self.pbx.to_state(),
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        write_private(self.state_file, json.dumps(state, indent=2) + "\n")

    @classmethod
    def load(cls, name: str, root: AsteriskRoot) -> Sandbox | None:
        try:
            state = json.loads(state_file(name, root).read_text())
        except (OSError, ValueError):
            return None
        return cls(
            name=state["name"],
            carrier=AsteriskInstance.from_state(state["carrier"], root),
            pbx=AsteriskInstance.from_state(state["pbx"], root),
            owner_pid=state.get("owner_pid"),
            timings=state.get("timings", {}),
        )


def state_file(name: str, root: AsteriskRoot) -> Path:
    """Where a sandbox keeps its addresses, pids and the paths of its secrets."""
    return root.host_path(f"{INSTANCES_DIR}/{name}/sandbox.json")


def start_sandbox(
    base_address_octet: int = 12,
    name: str | None = None,
    owner_pid: int | None = None,
    timeout: float = 30,
    busy_timeout: float = 0,
) -> Sandbox:
    """Start a carrier + pbx pair on 127.0.0.<octet> and 127.0.0.<octet + 1>.

    Tests use octet 2 (name "test"), the developer's sandbox octet 12 (name "dev").
    A sandbox owned by another live process is waited for up to ``busy_timeout`` s.
    """
    root = asterisk_root()
    name = name or f"sandbox{base_address_octet}"
    deadline = time.monotonic() + busy_timeout
    while True:
        sandbox = Sandbox.create(name, base_address_octet, root, owner_pid=owner_pid)
        try:
            sandbox.start(timeout)
            return sandbox
        except SandboxBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def process_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
