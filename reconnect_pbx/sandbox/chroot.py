"""Where the sandbox's Asterisk comes from: a Debian chroot built here, or the system's.

Debian 12 ships no Asterisk package, so the sandbox runs Asterisk 22 from a Debian
testing chroot made with debootstrap. The chroot shares the host's network; the
Asterisk files of each instance live inside it (``/srv/reconnect-pbx/...``).

``RECONNECT_ASTERISK_CHROOT`` overrides the chroot path; set to ``/`` it selects an
``asterisk`` installed on the system instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import asterisk_user

log = logging.getLogger(__name__)

CHROOT_ENV = "RECONNECT_ASTERISK_CHROOT"
DEFAULT_CHROOT = Path("/var/cache/reconnect-pbx/asterisk-chroot")
# The host's debootstrap (Debian 12) has no script for the next release's code name;
# "testing" is an alias it knows.
SUITE = "testing"
# The Debian mirror comes from the host's own apt sources (never a host name of ours).
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
PACKAGES = (
    "asterisk",
    "asterisk-core-sounds-en-gsm",
    "asterisk-core-sounds-fr-gsm",
    "asterisk-prompt-fr-armelle",
)
ASTERISK_BINARY = "/usr/sbin/asterisk"
DATA_DIR = "/usr/share/asterisk"


class ChrootError(RuntimeError):
    """The Asterisk chroot cannot be built or used."""


@dataclass(frozen=True)
class AsteriskRoot:
    """A filesystem root holding an Asterisk install: a chroot, or ``/``."""

    path: Path

    @property
    def is_system(self) -> bool:
        return self.path == Path("/")

    def host_path(self, inside: str | os.PathLike[str]) -> Path:
        """The host path of ``inside``, an absolute path as Asterisk sees it."""
        return self.path / Path(inside).relative_to("/")

    def command(self, *args: str) -> list[str]:
        """The command line running Asterisk with ``args`` in this root."""
        if self.is_system:
            return [shutil.which("asterisk") or ASTERISK_BINARY, *args]
        return ["chroot", str(self.path), ASTERISK_BINARY, *args]

    @property
    def module_dir(self) -> str:
        """The modules directory, as Asterisk sees it (multiarch path on Debian)."""
        for candidate in sorted(self.path.glob("usr/lib/*/asterisk/modules")) + sorted(
            self.path.glob("usr/lib*/asterisk/modules")
        ):
            if (candidate / "chan_pjsip.so").exists():
                return "/" + str(candidate.relative_to(self.path))
        raise ChrootError(f"no Asterisk modules directory under {self.path}/usr/lib")


def chroot_path() -> Path:
    return Path(os.environ.get(CHROOT_ENV) or DEFAULT_CHROOT)


def asterisk_root() -> AsteriskRoot:
    """The Asterisk to use, building the chroot if it is missing."""
    path = chroot_path()
    if path == Path("/"):
        if not shutil.which("asterisk") and not Path(ASTERISK_BINARY).exists():
            raise ChrootError(f"{CHROOT_ENV}=/ but no asterisk is installed on this system")
        return AsteriskRoot(path)
    return AsteriskRoot(ensure_chroot(path))


@contextlib.contextmanager
def file_lock(path: Path, timeout: float | None = None) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if missing), shared by every process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        if timeout is None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{path} is held by another process") from None
                    time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_chroot(path: Path | None = None) -> Path:
    """Build the Asterisk chroot at ``path`` unless it is there; return its path.

    The build goes into a temporary directory beside ``path``, renamed into place
    when complete, under a lock so that concurrent callers build it once.
    """
    path = Path(path or chroot_path())
    with file_lock(path.with_name(path.name + ".lock")):
        if not (path / ASTERISK_BINARY.lstrip("/")).exists():
            if path.exists():
                raise ChrootError(f"{path} exists but holds no Asterisk: remove it to rebuild")
            _build(path)
        _fix_up(path)
    return path


def _build(path: Path) -> None:
    _ensure_debootstrap()
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=path.name + ".build-", dir=path.parent))
    started = time.monotonic()
    log.info("building the Asterisk chroot in %s (debootstrap %s)", work, SUITE)
    command = [
        "debootstrap",
        "--variant=minbase",
        "--include=" + ",".join(PACKAGES),
        SUITE,
        str(work),
        host_debian_mirror(),
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise ChrootError(f"debootstrap failed ({result.returncode}):\n{tail}")
        check = subprocess.run(
            ["chroot", str(work), ASTERISK_BINARY, "-V"], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise ChrootError(f"the chroot's asterisk does not run: {check.stderr.strip()}")
        os.rename(work, path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info("built %s (%s) in %.0f s", path, check.stdout.strip(), time.monotonic() - started)


def host_debian_mirror(sources: tuple[Path, ...] = APT_SOURCES) -> str:
    """The Debian archive URI that the host's apt sources name (one-line or deb822 form).

    Security and third-party repositories are passed over: only an archive whose path
    ends in ``/debian`` holds the packages of every suite, testing included.
    """
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files += sorted(source.glob("*.list")) + sorted(source.glob("*.sources"))
        elif source.is_file():
            files.append(source)
    for file in files:
        for uri in _apt_source_uris(file.read_text(errors="replace")):
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    raise ChrootError(
        "no Debian archive in the host's apt sources (/etc/apt/sources.list*): "
        "add one, or set RECONNECT_ASTERISK_CHROOT to an existing Asterisk root"
    )


def _apt_source_uris(text: str) -> Iterator[str]:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith(("deb ", "deb\t")):
            # deb [options] URI suite components
            words = re.sub(r"\[[^]]*\]", " ", line[3:]).split()
            if words:
                yield words[0]
        elif line.lower().startswith("uris:"):
            yield from line.split(":", 1)[1].split()


def _ensure_debootstrap() -> None:
    if shutil.which("debootstrap"):
        return
    log.info("installing debootstrap")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "debootstrap"]):
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise ChrootError(f"{' '.join(command)} failed: {result.stderr.strip()[-500:]}")


def _fix_up(path: Path) -> None:
    """Make the chroot fit to run Asterisk on the host's network (idempotent)."""
    hosts = path / "etc/hosts"
    wanted = f"127.0.0.1\tlocalhost {socket.gethostname()}\n::1\tlocalhost ip6-localhost\n"
    if not hosts.exists() or hosts.read_text() != wanted:
        hosts.write_text(wanted)
    (path / "var/spool/asterisk/recording").mkdir(parents=True, exist_ok=True)
    # The package's asterisk user took the chroot's first free system id, often a host user's.
    new_id = asterisk_user.give_own_ids(path)
    if new_id is not None:
        log.info("the chroot's asterisk user and group now have id %d, which no host user has", new_id)
