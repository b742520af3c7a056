"""Our ARI transport: REST (aiohttp) + event websocket. Nothing outside this package talks to ARI directly."""

from .client import AriClient
from .errors import (
    AriConnectionError,
    AriConnectionLost,
    AriError,
    AriHttpError,
    ChannelGone,
    Conflict,
    EventTimeout,
    NotFound,
)
from .events import Event, EventDispatcher, Waiter

# The Stasis application name; the dialplan hands calls to it.
APP_NAME = "reconnect-pbx"

__all__ = [
    "APP_NAME",
    "AriClient",
    "AriConnectionError",
    "AriConnectionLost",
    "AriError",
    "AriHttpError",
    "ChannelGone",
    "Conflict",
    "Event",
    "EventDispatcher",
    "EventTimeout",
    "NotFound",
    "Waiter",
]
