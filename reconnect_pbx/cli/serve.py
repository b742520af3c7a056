"""``reconnect-pbx serve``: run the Stasis application (what the systemd unit starts)."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from ..config import Settings
from ..wiring import serve as run_service


@click.command("serve")
@click.pass_obj
def serve(obj: object) -> None:
    """Run the ARI application that answers calls, until SIGTERM."""
    settings: Settings = obj.settings  # type: ignore[attr-defined]
    logging.basicConfig(
        level=settings.logging.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # One line per HTTP request or websocket frame would drown the call logs.
    for noisy in ("httpx", "httpcore", "websockets", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The event loop shares the GIL with the database threads. With Python's default 5 ms switch
    # interval, the loop waits up to 5 ms for it each time a thread is preparing a query or quoting
    # audio, and callers wait with it: 1 ms took p95 StasisStart -> first prompt at 200 calls
    # from 68-88 ms to 16-18 ms here, at no measurable CPU cost (docs/benchmarks.md).
    sys.setswitchinterval(0.001)
    asyncio.run(run_service(settings))
