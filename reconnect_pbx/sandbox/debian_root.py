"""A bare Debian 12 root, built once with debootstrap and cached, for following docs/deploy.md.

``tests/e2e/test_install.py`` copies it and runs the guide's commands inside the copy with
chroot(8): what a sysadmin types on a freshly installed host. The cache is the bare system only
(debootstrap's default variant, package lists fetched, as a Debian installer leaves a host);
everything the guide installs is installed by the guide, in every run.

Two things differ from a booted host, and only those: no service starts inside the root
(``policy-rc.d``; systemd is not PID 1 in a chroot, so the installer enables units and the test
starts their ExecStart commands), and pip reaches the package index with the host's own pip
settings and certificates (``/etc/pip.conf`` and its CA bundle, copied in).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .chroot import ChrootError, file_lock, host_debian_mirror

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("/var/cache/reconnect-pbx/debian12-root")
SUITE = "bookworm"
PIP_CA = "etc/reconnect-pbx-test-pip-ca.crt"
# What chroot(8) runs commands with: the host's environment (its PIP_* variables name host paths)
# is not the root's.
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


def ensure_debian_root(path: Path = DEFAULT_ROOT) -> Path:
    """Build the cached bare root unless it is there; return its path."""
    with file_lock(path.with_name(path.name + ".lock")):
        if not (path / "usr/bin/apt-get").exists():
            if path.exists():
                raise ChrootError(f"{path} exists but is no Debian root: remove it to rebuild")
            _build(path)
    return path


def _build(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=path.name + ".build-", dir=path.parent))
    started = time.monotonic()
    try:
        result = subprocess.run(
            ["debootstrap", SUITE, str(work), host_debian_mirror()], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise ChrootError(f"debootstrap failed: {(result.stdout + result.stderr).strip()[-1000:]}")
        policy = work / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\n# No service starts in this root: systemd is not PID 1 in a chroot.\nexit 101\n")
        policy.chmod(0o755)
        shutil.copyfile("/etc/resolv.conf", work / "etc/resolv.conf")
        host_pip = Path("/etc/pip.conf")
        if host_pip.exists():
            shutil.copyfile("/etc/ssl/certs/ca-certificates.crt", work / PIP_CA)
            (work / "etc/pip.conf").write_text(f"[global]\ncert = /{PIP_CA}\n")
        with mounted(work):
            run_in(work, "apt-get", "update", "-qq")
        os.rename(work, path)
    except BaseException:
        subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)
        raise
    log.info("built %s in %.0f s", path, time.monotonic() - started)


def copy_root(source: Path, target: Path) -> None:
    """A fresh copy of the cached root (hard links would share the files the guide changes)."""
    subprocess.run(["rm", "-rf", "--one-file-system", str(target)], check=True)
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)


class mounted:
    """/proc, /sys and /dev of the host inside ``root`` while in the block (apt, PostgreSQL need them)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.done: list[Path] = []

    def __enter__(self) -> mounted:
        for name, args in (("proc", ["-t", "proc", "proc"]), ("sys", ["-t", "sysfs", "sysfs"]), ("dev", ["--bind", "/dev"])):
            point = self.root / name
            point.mkdir(exist_ok=True)
            subprocess.run(["mount", *args, str(point)], check=True)
            self.done.append(point)
        return self

    def __exit__(self, *exc: object) -> None:
        for point in reversed(self.done):
            subprocess.run(["umount", "-l", str(point)], check=False)


def run_in(root: Path, *command: str, check: bool = True, timeout: float = 1200, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` inside ``root`` as root, with a clean environment."""
    result = subprocess.run(
        ["chroot", str(root), *command], env=ENV, capture_output=True, text=True, timeout=timeout,
        input=input_text, check=False,
    )
    if check and result.returncode != 0:
        raise ChrootError(f"{' '.join(command)} failed ({result.returncode}): {(result.stdout + result.stderr).strip()[-2000:]}")
    return result
