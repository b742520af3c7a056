"""A real Asterisk sandbox: a carrier simulator and the pbx, both on loopback.

``up()``, ``down()`` and ``status()`` back ``reconnect-pbx sandbox up|down|status``:
they manage the developer's sandbox (carrier 127.0.0.12, pbx 127.0.0.13), which
never clashes with the one the e2e tests start (127.0.0.2 / 127.0.0.3).
"""

from __future__ import annotations

from typing import Any

from .chroot import ChrootError, asterisk_root, ensure_chroot
from .instance import (
    CARRIER_APP,
    STASIS_APP,
    AsteriskInstance,
    Sandbox,
    SandboxBusy,
    SandboxError,
    start_sandbox,
)

DEV_SANDBOX = "dev"
DEV_OCTET = 12

__all__ = [
    "CARRIER_APP",
    "STASIS_APP",
    "AsteriskInstance",
    "ChrootError",
    "Sandbox",
    "SandboxBusy",
    "SandboxError",
    "ari_settings",
    "down",
    "ensure_chroot",
    "start_sandbox",
    "status",
    "up",
]


def up(name: str = DEV_SANDBOX, base_address_octet: int = DEV_OCTET) -> dict[str, Any]:
    """Start the sandbox unless it runs already; it stays up until ``down()``."""
    existing = Sandbox.load(name, asterisk_root())
    if existing is not None and existing.is_running():
        return existing.status()
    return start_sandbox(base_address_octet, name=name).status()


def down(name: str = DEV_SANDBOX) -> dict[str, Any]:
    """Stop the sandbox; stopping one that is not running is not an error."""
    existing = Sandbox.load(name, asterisk_root())
    if existing is None:
        return {"name": name, "stopped": False}
    existing.stop()
    return {"name": name, "stopped": True}


def status(name: str = DEV_SANDBOX) -> dict[str, Any]:
    existing = Sandbox.load(name, asterisk_root())
    if existing is None:
        return {"name": name, "running": False}
    return existing.status() | {"running": existing.is_running()}


def ari_settings(name: str = DEV_SANDBOX) -> dict[str, str]:
    """How the application reaches the sandbox's pbx: the keys of its ``[ari]`` settings."""
    existing = Sandbox.load(name, asterisk_root())
    if existing is None or not existing.pbx.is_running():
        raise SandboxError(f"the sandbox {name!r} is not running: start it with `sandbox up`")
    pbx = existing.pbx
    return {"url": pbx.ari_url, "username": pbx.ari_user, "password": pbx.ari_password, "app": pbx.ari_app}
