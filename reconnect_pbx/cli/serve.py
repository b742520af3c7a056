"""``reconnect-pbx serve``: run the Stasis application (what the systemd unit starts)."""

from __future__ import annotations

import asyncio
import logging

import click

from ..config import Settings
from ..service import serve as run_service


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
    asyncio.run(run_service(settings))
