"""Where audio (messages, greetings, names) is kept: PostgreSQL by default.

Call flows and services only see ``AudioStore``; an object store can replace the PostgreSQL one
without touching them. Audio is 8 kHz 16-bit mono WAV, as Asterisk records it.
"""

from __future__ import annotations

import hashlib
import io
import wave
from typing import Protocol

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from .models import AudioBlob

WAV = "audio/wav"


class InvalidAudio(ValueError):
    """The bytes are not a WAV file we can play back."""


class AudioStore(Protocol):
    def put(self, session: Session, data: bytes, content_type: str = WAV) -> int: ...

    def get(self, session: Session, audio_id: int) -> bytes | None: ...

    def delete(self, session: Session, audio_id: int) -> None: ...


# Built once: every message and greeting goes through it, and building it cost more than the ORM
# unit of work saved.
_INSERT_BLOB = insert(AudioBlob.__table__).returning(AudioBlob.__table__.c.id)


class PostgresAudioStore:
    def put(self, session: Session, data: bytes, content_type: str = WAV) -> int:
        return session.execute(
            _INSERT_BLOB,
            {
                "content_type": content_type,
                "data": data,
                "size_bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        ).scalar_one()

    def get(self, session: Session, audio_id: int) -> bytes | None:
        return session.scalar(select(AudioBlob.data).where(AudioBlob.id == audio_id))

    def delete(self, session: Session, audio_id: int) -> None:
        session.execute(delete(AudioBlob).where(AudioBlob.id == audio_id))


def wav_duration_ms(data: bytes) -> int:
    """Length of a WAV recording, from its own header (more exact than Asterisk's rounded seconds)."""
    try:
        with wave.open(io.BytesIO(data)) as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
    except (wave.Error, EOFError) as exc:
        raise InvalidAudio(str(exc)) from None
    if rate <= 0:
        raise InvalidAudio("sample rate is zero")
    return frames * 1000 // rate
