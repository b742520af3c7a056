"""Stored audio (greetings, names, messages) played to a caller, through files that live only while
they play.

The audio lives in PostgreSQL; Asterisk plays files. For each playback the application writes the
audio into ``media.playback_dir`` (a tmpfs folder that Asterisk sees as
``media.asterisk_playback_dir``), hands Asterisk its path and removes the file as soon as the
playback ends, however it ends. So no copy of a person's audio outlives the call that plays it:
erasing a message, a greeting or a person erases it everywhere, without telling Asterisk anything.

Playing ``sound:http://...`` URLs, as this module once did, left a byte-identical copy of every
message heard in Asterisk's HTTP media cache folder (and its URL in AstDB) that nothing removed:
Asterisk's media cache has no expiry, and only its CLI (``media cache delete``) removes an entry.

``clear()`` (at ``serve`` start and stop) removes what a crash left behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from .db import is_unavailable, run_in_transaction
from .storage import AudioStore

log = logging.getLogger(__name__)

SUFFIX = ".wav"
# Readable by Asterisk's group (the folder's group on a real host), whatever the service's umask.
FILE_MODE = 0o640


class PlaybackFiles:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        store: AudioStore,
        *,
        directory: str,
        asterisk_directory: str = "",
        run_blocking: Callable | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._store = store
        self.directory = Path(directory)
        # The same folder as Asterisk sees it (Asterisk runs in a chroot).
        self.asterisk_directory = (asterisk_directory or directory).rstrip("/")
        self._run_blocking = run_blocking or asyncio.to_thread

    def clear(self) -> int:
        """Make the folder if it is missing and remove every file in it; returns how many."""
        self.directory.mkdir(mode=0o750, exist_ok=True)
        removed = 0
        for path in self.directory.iterdir():
            if path.is_file() or path.is_symlink():
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("removed %d playback file(s) left by a previous run", removed)
        return removed

    @asynccontextmanager
    async def playing(self, *audio_ids: int | None) -> AsyncIterator[list[str]]:
        """The media URIs that play ``audio_ids`` (None, and audio erased meanwhile, are left out),
        valid inside the ``async with`` block only: the files are removed when it exits."""
        paths: list[Path] = []
        try:
            for audio_id in audio_ids:
                if audio_id is None:
                    continue
                try:
                    path = await self._run_blocking(self._write, audio_id)
                except Exception as exc:
                    # The database gone or the folder full: the caller hears the rest (a deposit
                    # goes on without its personal greeting), as when Asterisk could not fetch it.
                    if not (is_unavailable(exc) or isinstance(exc, OSError)):
                        raise
                    log.warning("stored audio %s left out of a playback: %s", audio_id, str(exc).splitlines()[0])
                    continue
                if path is not None:
                    paths.append(path)
            yield [self.media_for(path) for path in paths]
        finally:
            for path in paths:
                path.unlink(missing_ok=True)

    def media_for(self, path: Path) -> str:
        # Without the extension: Asterisk picks the file by format.
        return f"sound:{self.asterisk_directory}/{path.stem}"

    def _write(self, audio_id: int) -> Path | None:
        data = run_in_transaction(self._session_factory, self._store.get, audio_id)
        if data is None:
            return None
        path = self.directory / (secrets.token_hex(16) + SUFFIX)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as out:
                fd = -1
                out.write(data)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return path
