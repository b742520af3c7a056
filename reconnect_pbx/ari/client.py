"""A small typed ARI client on aiohttp (REST) and websockets (events).

It owns the event websocket: reconnects with exponential backoff, re-registers the application on
every connection (which is what registering means in ARI), and treats ``ApplicationReplaced`` as a
lost connection. REST errors become our own exception types (``errors.py``); a 404 on a channel is
``ChannelGone``: the caller hung up.

REST goes through aiohttp rather than httpx: a request costs about a quarter of the CPU (0.19 vs
0.7 ms measured against Asterisk here), and a call makes eight or more (bench/README.md).

Requests that Asterisk carries out without waiting for the channel's own thread (play, record,
hang up, stop a playback, delete a recording...) can go over the event websocket instead
(``rest_over_websocket``; ARI's REST over WebSocket, Asterisk 20.14 / 21.9 / 22.4 and later),
which costs the application less than an HTTP request. Asterisk reads that websocket on one
thread and runs its requests one after the other, so a request that waits for a channel's thread
(answer, variables, bridges) stays on HTTP, whose connections it serves in parallel: one slow
channel must not hold up every other call's set-up. Files (a recording's audio) come over HTTP
only. Either way Asterisk checks the credentials on every request (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import aiohttp
import websockets
from websockets.asyncio.client import connect as ws_connect

from .errors import (
    AriConnectionError,
    AriError,
    AriHttpError,
    ChannelGone,
    Conflict,
    NotFound,
)
from .events import Event, EventDispatcher, Waiter

log = logging.getLogger(__name__)

ConnectionHook = Callable[[], Awaitable[None]]


class AriClient:
    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        app: str,
        *,
        request_timeout: float = 10.0,
        reconnect_initial: float = 0.5,
        reconnect_max: float = 10.0,
        subscribe_all: bool = False,
        ignored_events: Iterable[str] = (),
        rest_over_websocket: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.app = app
        self._credentials = (username, password)
        self._subscribe_all = subscribe_all
        self._request_timeout = request_timeout
        # Opened at the first request: an aiohttp session belongs to the running event loop.
        self._session: aiohttp.ClientSession | None = None
        self._reconnect_initial = reconnect_initial
        self._reconnect_max = reconnect_max
        # Asterisk is asked, at every connection, not to send these event types at all: parsing
        # events nobody waits for was a tenth of the application's CPU per call.
        self.events = EventDispatcher(ignored=ignored_events)
        self._connected = asyncio.Event()
        self._closing = False
        self._websocket: Any = None
        self._on_connected: list[ConnectionHook] = []
        self._on_disconnected: list[ConnectionHook] = []
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._rest_over_websocket = rest_over_websocket
        # Requests sent over the websocket, by request id, until their RESTResponse arrives.
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._request_ids = itertools.count(1)
        self.reconnections = 0
        # What this application costs Asterisk: exposed by ``serve``'s metrics, read by the bench.
        self.requests_sent = 0
        self.requests_over_websocket = 0
        self.events_received: Counter[str] = Counter()

    # -- connection ----------------------------------------------------------------------------

    def on_connected(self, hook: ConnectionHook) -> None:
        """Run ``hook`` after each (re)connection: the place to reconcile live channels."""
        self._on_connected.append(hook)

    def on_disconnected(self, hook: ConnectionHook) -> None:
        self._on_disconnected.append(hook)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except asyncio.TimeoutError:
            raise AriConnectionError(f"no ARI websocket to {self.url} within {timeout} s") from None

    async def run(self) -> None:
        """Keep the event websocket up until ``close()``; never returns on a dropped connection."""
        delay = self._reconnect_initial
        first = True
        while not self._closing:
            try:
                async with ws_connect(
                    self._events_url(),
                    additional_headers={"Authorization": self._basic_auth()},
                    ping_interval=10,
                    ping_timeout=10,
                    max_size=2**22,
                    open_timeout=5,
                ) as websocket:
                    self._websocket = websocket
                    if not first:
                        self.reconnections += 1
                    first = False
                    log.info("ARI websocket connected to %s as application %s", self.url, self.app)
                    delay = self._reconnect_initial
                    self._connected.set()
                    if self.events.ignored:
                        self._run_hooks([self._filter_events])
                    self._run_hooks(self._on_connected)
                    await self._read(websocket)
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as exc:
                if not self._closing:
                    log.warning("ARI websocket to %s unavailable: %s", self.url, exc or type(exc).__name__)
            finally:
                was_connected = self._connected.is_set()
                self._connected.clear()
                self._websocket = None
                self.events.fail_all_waiters()
                self._fail_replies()
                if was_connected and not self._closing:
                    self._run_hooks(self._on_disconnected)
            if self._closing:
                break
            # Jitter keeps several apps from hammering a restarting Asterisk in step.
            await asyncio.sleep(delay * (0.75 + random.random() / 2))
            delay = min(delay * 2, self._reconnect_max)

    async def _read(self, websocket: Any) -> None:
        async for raw in websocket:
            try:
                data = json.loads(raw)
                if data.get("type") == "RESTResponse":
                    self._reply_arrived(data)
                    continue
                event = Event.from_json(data)
            except (ValueError, TypeError, AttributeError):
                log.warning("ignoring a malformed ARI event")
                continue
            self.events_received[event.type] += 1
            if event.type == "ApplicationReplaced":
                # Another process took our application name: we no longer receive events. Treat it
                # as a lost connection (reconnect with backoff) and say so loudly.
                log.error("ARI application %s was replaced by another connection", self.app)
                return
            self.events.dispatch(event)

    async def close(self) -> None:
        self._closing = True
        if self._websocket is not None:
            await self._websocket.close()
        for task in list(self._hook_tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()

    async def drop_connection(self) -> None:
        """Close the websocket as a network fault would (used by fault tests and on shutdown)."""
        if self._websocket is not None:
            await self._websocket.close()

    def _run_hooks(self, hooks: Iterable[ConnectionHook]) -> None:
        # Hooks make REST calls whose events arrive on this very websocket: they run beside the
        # reader, never before it.
        for hook in hooks:
            task = asyncio.create_task(self._guarded_hook(hook))
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_tasks.discard)

    @staticmethod
    async def _guarded_hook(hook: ConnectionHook) -> None:
        try:
            await hook()
        except Exception:
            log.exception("ARI connection hook %s failed", getattr(hook, "__qualname__", hook))

    async def _filter_events(self) -> None:
        """Tell Asterisk which event types this application does not want (Asterisk forgets it
        when the websocket closes: set again at every connection)."""
        await self.request(
            "PUT",
            f"/applications/{quote(self.app)}/eventFilter",
            body={"disallowed": [{"type": event_type} for event_type in sorted(self.events.ignored)]},
            websocket=True,
        )

    def _events_url(self) -> str:
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = f"app={quote(self.app)}&subscribeAll={'true' if self._subscribe_all else 'false'}"
        return urlunsplit((scheme, parts.netloc, parts.path + "/ari/events", query, ""))

    def _basic_auth(self) -> str:
        token = base64.b64encode(":".join(self._credentials).encode()).decode()
        return f"Basic {token}"

    # -- events --------------------------------------------------------------------------------

    def expect(self, event_types: Iterable[str], object_id: str) -> Waiter:
        """Register a wait for one of ``event_types`` about ``object_id`` (send the request after)."""
        return self.events.expect(event_types, object_id)

    # -- REST ----------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        channel_id: str | None = None,
        websocket: bool = False,
    ) -> Any:
        """One REST call. ``channel_id`` marks a channel operation: its 404 means the caller left.
        ``websocket``: Asterisk answers it without waiting for a channel's thread, so it may go
        over the event websocket (when ``rest_over_websocket`` is on and the websocket is up)."""
        clean_params = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        self.requests_sent += 1
        events = self._websocket if websocket and self._rest_over_websocket and self._connected.is_set() else None
        reply = None
        if events is not None:
            reply = await self._request_over_websocket(events, method, path, clean_params, body)
        if reply is None:  # not sent over the websocket (off, down, or closing as we sent)
            reply = await self._request_over_http(method, path, clean_params, body)
        status, reason, content, is_json = reply
        if status < 300:
            if not content:
                return None
            if is_json:
                return json.loads(content)
            return content
        message = _error_message(content, reason)
        if status == 404:
            if channel_id is not None:
                raise ChannelGone(method, path, 404, message)
            raise NotFound(method, path, 404, message)
        if status == 409:
            if channel_id is not None and "not in stasis" in message.lower():
                raise ChannelGone(method, path, 409, message)
            raise Conflict(method, path, 409, message)
        raise AriHttpError(method, path, status, message)

    async def _request_over_http(
        self, method: str, path: str, params: dict[str, str], body: dict[str, Any] | None
    ) -> tuple[int, str, bytes, bool]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": self._basic_auth()},
                timeout=aiohttp.ClientTimeout(total=self._request_timeout),
                # Shorter than Asterisk's own keep-alive (15 s): never reuse a connection it is
                # closing. Well under Asterisk's HTTP session limit (http.conf sessionlimit, 100),
                # which the websockets count against too: past it, Asterisk drops the connection
                # (seen at 500 simultaneous calls with 100 here); requests beyond 32 wait their turn.
                connector=aiohttp.TCPConnector(limit=32, keepalive_timeout=5),
            )
        try:
            async with self._session.request(method, self.url + "/ari" + path, params=params, json=body) as response:
                content = await response.read()
                is_json = response.headers.get("Content-Type", "").startswith("application/json")
                return response.status, response.reason or "", content, is_json
        except asyncio.TimeoutError as exc:
            raise AriConnectionError(f"{method} {path}: Asterisk did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise AriConnectionError(f"{method} {path}: {exc}") from exc

    async def _request_over_websocket(
        self, events: Any, method: str, path: str, params: dict[str, str], body: dict[str, Any] | None
    ) -> tuple[int, str, bytes, bool] | None:
        """The reply; None when the websocket closed before the request could be sent (it never
        reached Asterisk: HTTP may carry it)."""
        request_id = str(next(self._request_ids))
        message: dict[str, Any] = {"type": "RESTRequest", "request_id": request_id, "method": method}
        uri = path.lstrip("/")
        if params:
            uri += "?" + urlencode(params, quote_via=quote)
        message["uri"] = uri
        if body is not None:
            message["content_type"] = "application/json"
            message["message_body"] = json.dumps(body)
        reply = asyncio.get_running_loop().create_future()
        self._replies[request_id] = reply
        try:
            try:
                await events.send(json.dumps(message))
            except websockets.exceptions.ConnectionClosed:
                return None
            response = await asyncio.wait_for(reply, self._request_timeout)
        except asyncio.TimeoutError as exc:
            raise AriConnectionError(f"{method} {path}: Asterisk did not answer in time") from exc
        finally:
            self._replies.pop(request_id, None)
        self.requests_over_websocket += 1
        content = response.get("message_body") or ""
        return (
            int(response.get("status_code", 500)),
            str(response.get("reason_phrase", "")),
            content.encode() if isinstance(content, str) else json.dumps(content).encode(),
            bool(content),
        )

    def _reply_arrived(self, response: dict[str, Any]) -> None:
        reply = self._replies.get(str(response.get("request_id", "")))
        if reply is not None and not reply.done():
            reply.set_result(response)

    def _fail_replies(self) -> None:
        """The websocket dropped: the requests in flight will get no reply (whether Asterisk ran
        them is unknown, as for an HTTP request whose connection drops)."""
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(AriConnectionError("event websocket dropped before Asterisk replied"))
        self._replies.clear()

    # asterisk / applications
    async def asterisk_info(self) -> dict[str, Any]:
        return await self.request("GET", "/asterisk/info")

    async def application(self) -> dict[str, Any]:
        return await self.request("GET", f"/applications/{quote(self.app)}")

    # channels
    async def list_channels(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/channels")

    async def get_channel(self, channel_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/channels/{channel_id}", channel_id=channel_id)

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer", channel_id=channel_id)

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/ring", channel_id=channel_id)

    async def ring_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/ring", channel_id=channel_id)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """Hang up; a channel already gone is not an error."""
        try:
            await self.request(
                "DELETE",
                f"/channels/{channel_id}",
                params={"reason": reason},
                channel_id=channel_id,
                websocket=True,
            )
        except ChannelGone:
            pass

    async def continue_in_dialplan(self, channel_id: str, **where: str) -> None:
        await self.request(
            "POST", f"/channels/{channel_id}/continue", params=where, channel_id=channel_id
        )

    async def get_variable(self, channel_id: str, name: str) -> str:
        reply = await self.request(
            "GET", f"/channels/{channel_id}/variable", params={"variable": name}, channel_id=channel_id
        )
        return str(reply.get("value", ""))

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request(
            "POST",
            f"/channels/{channel_id}/variable",
            params={"variable": name, "value": value},
            channel_id=channel_id,
        )

    async def send_dtmf(self, channel_id: str, digits: str, *, duration_ms: int = 100, between_ms: int = 100) -> None:
        await self.request(
            "POST",
            f"/channels/{channel_id}/dtmf",
            params={"dtmf": digits, "duration": duration_ms, "between": between_ms},
            channel_id=channel_id,
        )

    async def play(
        self, channel_id: str, media: Sequence[str], playback_id: str, *, language: str | None = None
    ) -> dict[str, Any]:
        return await self.request(
            "POST",
            f"/channels/{channel_id}/play/{playback_id}",
            params={"media": list(media), "lang": language},
            channel_id=channel_id,
            websocket=True,
        )

    async def stop_playback(self, playback_id: str) -> None:
        try:
            await self.request("DELETE", f"/playbacks/{playback_id}", websocket=True)
        except NotFound:
            pass  # already finished

    async def playback_state(self, playback_id: str) -> str | None:
        """``queued``, ``playing``... or None when Asterisk no longer knows the playback."""
        try:
            playback = await self.request("GET", f"/playbacks/{playback_id}", websocket=True)
        except NotFound:
            return None
        return str(playback.get("state")) if isinstance(playback, dict) else None

    async def control_playback(self, playback_id: str, operation: str) -> None:
        await self.request(
            "POST", f"/playbacks/{playback_id}/control", params={"operation": operation}, websocket=True
        )

    async def record(
        self,
        channel_id: str,
        name: str,
        *,
        format: str = "wav",
        max_duration_seconds: int = 0,
        max_silence_seconds: int = 0,
        terminate_on: str = "none",
        beep: bool = False,
        if_exists: str = "fail",
    ) -> dict[str, Any]:
        return await self.request(
            "POST",
            f"/channels/{channel_id}/record",
            params={
                "name": name,
                "format": format,
                "maxDurationSeconds": max_duration_seconds,
                "maxSilenceSeconds": max_silence_seconds,
                "terminateOn": terminate_on,
                "beep": beep,
                "ifExists": if_exists,
            },
            channel_id=channel_id,
            websocket=True,
        )

    async def originate(
        self,
        endpoint: str,
        *,
        channel_id: str,
        app_args: Sequence[str] = (),
        caller_id: str | None = None,
        timeout_seconds: int = 30,
        variables: dict[str, str] | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: Sequence[str] = (),
    ) -> dict[str, Any]:
        """``formats``: the codecs of a channel that has no peer to take them from (a Local channel)."""
        return await self.request(
            "POST",
            f"/channels/{channel_id}",
            params={
                "endpoint": endpoint,
                "formats": ",".join(formats) or None,
                "app": self.app,
                "appArgs": ",".join(app_args),
                "callerId": caller_id,
                "timeout": timeout_seconds,
                "otherChannelId": other_channel_id,
                "originator": originator,
            },
            body={"variables": variables} if variables else None,
        )

    async def create_channel(
        self,
        endpoint: str,
        *,
        channel_id: str,
        app_args: Sequence[str] = (),
        variables: dict[str, str] | None = None,
        originator: str | None = None,
    ) -> dict[str, Any]:
        """Create a channel without dialling it yet (``dial`` does), e.g. to set variables first."""
        return await self.request(
            "POST",
            "/channels/create",
            params={
                "endpoint": endpoint,
                "app": self.app,
                "appArgs": ",".join(app_args),
                "channelId": channel_id,
                "originator": originator,
            },
            body={"variables": variables} if variables else None,
        )

    async def dial(self, channel_id: str, *, caller: str | None = None, timeout_seconds: int = 30) -> None:
        await self.request(
            "POST",
            f"/channels/{channel_id}/dial",
            params={"caller": caller, "timeout": timeout_seconds},
            channel_id=channel_id,
        )

    # recordings
    async def stop_recording(self, name: str) -> None:
        try:
            await self.request("POST", f"/recordings/live/{_name(name)}/stop", websocket=True)
        except NotFound:
            pass

    async def live_recording(self, name: str) -> dict[str, Any]:
        return await self.request("GET", f"/recordings/live/{_name(name)}")

    async def set_global_variable(self, name: str, value: str) -> None:
        await self.request("POST", "/asterisk/variable", params={"variable": name, "value": value}, websocket=True)

    async def stored_recordings(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/recordings/stored")

    async def stored_recording_file(self, name: str) -> bytes:
        data = await self.request("GET", f"/recordings/stored/{_name(name)}/file")
        if not isinstance(data, bytes):
            raise AriError(f"recording {name}: expected audio, got {type(data).__name__}")
        return data

    async def delete_stored_recording(self, name: str) -> None:
        try:
            await self.request("DELETE", f"/recordings/stored/{_name(name)}", websocket=True)
        except NotFound:
            pass

    # bridges
    async def list_bridges(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/bridges")

    async def get_bridge(self, bridge_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/bridges/{bridge_id}")

    async def create_bridge(self, bridge_id: str, *, kind: str = "mixing", name: str = "") -> dict[str, Any]:
        return await self.request(
            "POST", f"/bridges/{bridge_id}", params={"type": kind, "name": name or None}
        )

    async def add_to_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/addChannel", params={"channel": list(channel_ids)})

    async def remove_from_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        await self.request(
            "POST", f"/bridges/{bridge_id}/removeChannel", params={"channel": list(channel_ids)}
        )

    async def destroy_bridge(self, bridge_id: str) -> None:
        try:
            await self.request("DELETE", f"/bridges/{bridge_id}")
        except NotFound:
            pass


def _name(name: str) -> str:
    """A recording name as one path segment: the dialplan's fallback recordings live in a
    subfolder of the spool ("fallback/..."), which ARI accepts only with the slash encoded."""
    return quote(name, safe="")


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _error_message(content: bytes, reason: str) -> str:
    try:
        body = json.loads(content)
    except ValueError:
        return content.decode(errors="replace").strip()[:200] or reason
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return str(body)[:200]
