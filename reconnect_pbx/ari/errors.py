"""The ARI layer's exceptions. Transport errors (aiohttp, websockets) never leave this package."""

from __future__ import annotations


class AriError(Exception):
    """Anything that went wrong talking to Asterisk."""


class AriConnectionError(AriError):
    """Asterisk did not answer (refused, timed out, connection dropped)."""


class AriConnectionLost(AriConnectionError):
    """The event websocket dropped while we were waiting for an event: it will never come."""


class AriHttpError(AriError):
    """Asterisk answered a REST request with an error status."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.method = method
        self.path = path
        self.status = status
        self.message = message


class NotFound(AriHttpError):
    """404: the object (channel, playback, recording, bridge) does not exist (any more)."""


class Conflict(AriHttpError):
    """409: the object is not in a state that allows the operation."""


class ChannelGone(NotFound):
    """The channel hung up. A normal end of a call, not an error."""


class EventTimeout(AriError):
    """An awaited event did not arrive in time."""
