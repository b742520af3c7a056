"""axe-core (Deque's WCAG checker) run inside the real Chromium of the browser tests.

axe-core comes from the npm registry at test time, into a cache outside the repository (never a
committed node_modules): ``$XDG_CACHE_HOME/reconnect-pbx/axe-core-<version>`` (~/.cache by
default), installed once per machine by ``npm install`` into a temporary folder then renamed, so
that runs of several worktrees at once never see half an install."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

AXE_VERSION = "4.10.3"
# WCAG 2.0 and 2.1, levels A and AA: what the issue asks for.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_script() -> str:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reconnect-pbx" / f"axe-core-{AXE_VERSION}"
    script = cache / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is missing: scripts/install-system-packages installs it (make setup)")
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="axe-core-", dir=cache.parent))
        subprocess.run(
            [npm, "install", "--prefix", str(staging), "--no-save", "--no-audit", "--no-fund", "--loglevel=error", f"axe-core@{AXE_VERSION}"],
            check=True, capture_output=True, text=True, timeout=300,
        )
        try:
            staging.rename(cache)
        except OSError:  # another run got there first
            shutil.rmtree(staging, ignore_errors=True)
    return script.read_text(encoding="utf-8")


def violations(page: Any, source: str) -> list[str]:
    """The WCAG 2.1 A/AA violations on the page now shown, one line each (rule, impact, where)."""
    if not page.execute_script("return typeof window.axe !== 'undefined'"):
        page.execute_script(source)
    found = page.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
        ".then(function (r) { done(r.violations.map(function (v) {"
        "  return {id: v.id, impact: v.impact, help: v.help,"
        "          where: v.nodes.map(function (n) { return n.target.join(' '); })}; })); })"
        ".catch(function (e) { done([{id: 'axe-error', impact: 'error', help: String(e), where: []}]); });",
        WCAG_AA,
    )
    return [f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['where'][:5])}" for v in found]
