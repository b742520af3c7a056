"""What every call flow needs, wired once by ``serve``: ARI, settings, the database, audio."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from .. import prompts
from ..ari import AriClient
from ..config import Settings
from ..db import DatabaseUnavailable, is_unavailable, run_in_transaction
from ..media import PlaybackFiles
from ..storage import AudioStore

T = TypeVar("T")


@dataclass
class FlowContext:
    client: AriClient
    settings: Settings
    session_factory: sessionmaker[Session]
    store: AudioStore
    media: PlaybackFiles
    # The database driver blocks: queries run on a small pool of their own, never on the event loop.
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(8, "db"))

    async def db(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``work(session, *args, **kwargs)`` in one transaction on the database pool.

        Raises ``DatabaseUnavailable`` when PostgreSQL cannot be reached."""
        loop = asyncio.get_running_loop()
        if kwargs:
            work = functools.partial(work, **kwargs)
        try:
            return await loop.run_in_executor(self.executor, run_in_transaction, self.session_factory, work, *args)
        except Exception as exc:
            if is_unavailable(exc):
                raise DatabaseUnavailable(str(exc).splitlines()[0]) from exc
            raise

    def prompt(self, name: str, language: str) -> str:
        return prompts.media(name, language, self.settings.voicemail.prompt_set)

    def prompts(self, names: list[str], language: str) -> list[str]:
        return [self.prompt(name, language) for name in names]
