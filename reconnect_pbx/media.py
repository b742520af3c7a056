"""The HTTP server Asterisk fetches stored audio from (greetings, names, messages).

Asterisk plays ``sound:http://...`` media through res_http_media_cache, so the app and the audio
can live on another host than Asterisk. Each URL carries an HMAC of the audio id made with a key
that lives only in this process: a URL cannot be guessed, and stops working when the app restarts
(Asterisk's cache is keyed by URL, so it never serves stale audio either).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from .db import run_in_transaction
from .storage import AudioStore

log = logging.getLogger(__name__)


class MediaServer:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        store: AudioStore,
        *,
        listen_address: str,
        listen_port: int,
        public_url: str = "",
        run_blocking: Callable | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._store = store
        self._listen = (listen_address, listen_port)
        self.public_url = (public_url or f"http://{listen_address}:{listen_port}").rstrip("/")
        self._key = secrets.token_bytes(32)
        self._runner: web.AppRunner | None = None
        self._run_blocking = run_blocking or asyncio.to_thread

    def url_for(self, audio_id: int) -> str:
        return f"{self.public_url}/audio/{audio_id}/{self._signature(audio_id)}.wav"

    def media_for(self, audio_id: int) -> str:
        """The ARI media URI that plays stored audio."""
        return "sound:" + self.url_for(audio_id)

    def _signature(self, audio_id: int) -> str:
        return hmac.new(self._key, str(audio_id).encode(), hashlib.sha256).hexdigest()[:32]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/audio/{audio_id:\\d+}/{signature:[0-9a-f]+}.wav", self._serve_audio)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, *self._listen)
        await site.start()
        log.info("media server listening on %s:%s", *self._listen)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve_audio(self, request: web.Request) -> web.Response:
        audio_id = int(request.match_info["audio_id"])
        if not hmac.compare_digest(request.match_info["signature"], self._signature(audio_id)):
            raise web.HTTPNotFound()
        data = await self._run_blocking(self._load, audio_id)
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="audio/wav")

    def _load(self, audio_id: int) -> bytes | None:
        return run_in_transaction(self._session_factory, self._store.get, audio_id)
