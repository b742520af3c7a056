"""Helpers for the e2e tests: drive the carrier simulator and watch an ARI application.

Plain httpx + websockets on purpose: these helpers test Asterisk and our config,
not our own ARI client. Typical use::

    call = await place_call(carrier, "+33142685300", caller_id="0142685300")
    start = await pbx_stasis_start(pbx_app, call)          # the pbx sees the call
    await pbx_app.post(f"/channels/{channel_id(start)}/answer")
    await call.wait_answered()
    playback = await call.play()                           # a tone: keeps the caller's audio flowing
    ...
    await call.stop_playback(playback)                     # one operation at a time per channel
    await call.send_dtmf("1")
    await call.hangup()

ARI facts these helpers live with: an event can arrive before the REST reply that
caused it (so every event is kept, and waits look back from a mark); a second
websocket on the same application name silently replaces the first (so one
``AriApp`` per application at a time); a channel runs its operations one at a time
(a DTMF send waits behind a playback: stop the playback first); a caller that
sends no audio for 4 s makes a recording stop (play something on the carrier side).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import secrets
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from reconnect_pbx.sandbox import AsteriskInstance

log = logging.getLogger(__name__)

Event = dict[str, Any]

DEFAULT_CALLER = "0142685300"
DEFAULT_TIMEOUT = 10.0

# Whatever holds an application name for the session (the real application process holds
# "reconnect-pbx") registers here how to let it go, keyed by the name. A fixture that
# needs the name for itself (conftest's pbx_app) calls it first; the holder's own fixture
# starts it again when next needed.
APP_NAME_RELEASERS: dict[str, list[Callable[[], None]]] = {}


def release_app_name(app: str) -> None:
    for release in APP_NAME_RELEASERS.get(app, []):
        release()


class AriApp:
    """One ARI application: REST calls, and every event it received since it connected."""

    def __init__(self, url: str, user: str, password: str, app: str) -> None:
        self.url = url.rstrip("/")
        self.app = app
        self._auth = (user, password)
        self.http = httpx.AsyncClient(base_url=self.url + "/ari", auth=self._auth, timeout=10)
        self.events: list[Event] = []
        self._changed = asyncio.Condition()
        self._websocket: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        # Another websocket took the name: this one gets no more events.
        self.replaced = False

    @classmethod
    def for_instance(cls, instance: AsteriskInstance, app: str | None = None) -> AriApp:
        return cls(instance.ari_url, instance.ari_user, instance.ari_password, app or instance.ari_app)

    async def connect(self) -> AriApp:
        token = base64.b64encode(":".join(self._auth).encode()).decode()
        ws_url = re.sub(r"^http", "ws", self.url) + f"/ari/events?app={self.app}"
        self._websocket = await connect(ws_url, additional_headers={"Authorization": f"Basic {token}"})
        self._reader = asyncio.create_task(self._read(self._websocket), name=f"ari-events-{self.app}")
        # The application exists in Asterisk once it is listed.
        await self.get(f"/applications/{self.app}")
        return self

    async def close(self) -> None:
        if self._websocket is not None:
            await self._websocket.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        await self.http.aclose()

    async def _read(self, websocket: ClientConnection) -> None:
        async for raw in websocket:
            event = json.loads(raw)
            async with self._changed:
                if event.get("type") == "ApplicationReplaced":
                    self.replaced = True
                self.events.append(event)
                self._changed.notify_all()

    # -- REST --------------------------------------------------------------------------------

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"ARI {method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        return await self.request("POST", path, params=params, json=body)

    async def delete(self, path: str, **params: Any) -> Any:
        return await self.request("DELETE", path, params=params)

    async def variable(self, channel: str, name: str) -> str:
        return (await self.get(f"/channels/{channel}/variable", variable=name))["value"]

    # -- events ------------------------------------------------------------------------------

    def mark(self) -> int:
        """A position in the event list: wait for events from here on."""
        return len(self.events)

    async def wait_event(
        self,
        type_: str | tuple[str, ...],
        where: Callable[[Event], bool] | None = None,
        *,
        channel: str | None = None,
        since: int = 0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Event:
        """The first event of ``type_`` since ``since`` (on ``channel``, matching ``where``)."""
        types = (type_,) if isinstance(type_, str) else type_

        def find() -> Event | None:
            for event in self.events[since:]:
                if event.get("type") not in types:
                    continue
                if channel is not None and event.get("channel", {}).get("id") != channel:
                    continue
                if where is None or where(event):
                    return event
            return None

        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: self.replaced or find() is not None)
        except TimeoutError:
            seen = [e.get("type") for e in self.events[since:]]
            raise AssertionError(f"{self.app}: no {type_} within {timeout} s (saw {seen})") from None
        event = find()
        if event is None:
            raise AssertionError(
                f"another websocket took the ARI application {self.app!r} (is the real application running?)"
            )
        return event

    # -- what is left ------------------------------------------------------------------------

    async def leftovers(self) -> dict[str, list[Any]]:
        """Every channel and bridge in this Asterisk (not only this application's)."""
        channels = await self.get("/channels")
        bridges = await self.get("/bridges")
        return {
            "channels": [c["name"] for c in channels],
            "bridges": [b["id"] for b in bridges],
        }

    async def wait_no_channels(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until no channel and no bridge is left; fail with what is left."""
        async with asyncio.timeout(timeout):
            while (left := await self.leftovers()) != {"channels": [], "bridges": []}:
                await asyncio.sleep(0.05)
        assert left == {"channels": [], "bridges": []}


@dataclass
class CarrierCall:
    """A call the carrier places to the pbx, seen from the carrier's side."""

    carrier: AriApp
    channel: str
    did: str
    since: int
    playbacks: set[str] = field(default_factory=set)

    async def wait_answered(self, timeout: float = DEFAULT_TIMEOUT) -> Event:
        """The pbx answered: the carrier's channel entered its Stasis app."""
        return await self.carrier.wait_event(
            "StasisStart", channel=self.channel, since=self.since, timeout=timeout
        )

    async def call_id(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """The SIP Call-ID, once the INVITE is out."""
        async with asyncio.timeout(timeout):
            while not (value := await self.carrier.variable(self.channel, "CHANNEL(pjsip,call-id)")):
                await asyncio.sleep(0.02)
        return value

    async def play(self, media: str = "tone:440") -> str:
        """Play ``media`` towards the pbx (the caller "speaks"); returns the playback id.

        Returns once the playback has started, so audio is flowing. The default, a
        tone, plays until stopped: use it to keep a recording going.
        """
        playback_id = str(uuid.uuid4())
        since = self.carrier.mark()
        await self.carrier.post(f"/channels/{self.channel}/play/{playback_id}", media=media)
        self.playbacks.add(playback_id)
        event = await self.carrier.wait_event(
            ("PlaybackStarted", "PlaybackFinished"),
            lambda e: e["playback"]["id"] == playback_id,
            since=since,
        )
        if event["playback"]["state"] == "failed":
            raise AssertionError(f"the carrier could not play {media}")
        return playback_id

    async def say(self, media: str, timeout: float = 20) -> None:
        """Play ``media`` towards the pbx to its end (the caller says something)."""
        since = self.carrier.mark()
        playback_id = await self.play(media)
        await self.carrier.wait_event(
            "PlaybackFinished", lambda e: e["playback"]["id"] == playback_id, since=since, timeout=timeout
        )
        self.playbacks.discard(playback_id)

    async def stop_playback(self, playback_id: str) -> None:
        """Stop a playback; a finished one is already gone, which is fine."""
        self.playbacks.discard(playback_id)
        response = await self.carrier.http.delete(f"/playbacks/{playback_id}")
        if response.status_code not in (204, 404):
            raise AssertionError(f"stop playback -> {response.status_code}: {response.text}")

    async def send_dtmf(self, digits: str, duration_ms: int = 100, between_ms: int = 100) -> None:
        """Send DTMF (RFC 4733, or tones in the audio on a ``pbx-inband`` call). Stops this
        call's playbacks first, else the DTMF would wait."""
        for playback_id in list(self.playbacks):
            await self.stop_playback(playback_id)
        await self.carrier.post(
            f"/channels/{self.channel}/dtmf", dtmf=digits, duration=duration_ms, between=between_ms
        )

    async def hangup(self) -> None:
        """Hang up (the caller puts the phone down); a gone channel is fine."""
        response = await self.carrier.http.delete(f"/channels/{self.channel}")
        if response.status_code not in (204, 404):
            raise AssertionError(f"hangup -> {response.status_code}: {response.text}")

    async def wait_hung_up(self, timeout: float = DEFAULT_TIMEOUT) -> Event:
        return await self.carrier.wait_event(
            "ChannelDestroyed", channel=self.channel, since=self.since, timeout=timeout
        )


async def place_call(
    carrier: AriApp,
    did: str,
    caller_id: str | None = DEFAULT_CALLER,
    *,
    withheld: bool = False,
    timeout: int = 30,
    endpoint: str = "pbx",
) -> CarrierCall:
    """The carrier calls ``did`` on the pbx, as a French carrier would.

    ``withheld``: the caller hides the number (From anonymous, P-Asserted-Identity
    with the number and ``Privacy: id``). ``endpoint="pbx-inband"``: a caller whose
    keys are tones in the audio (no RFC 4733 on that leg; ``send_dtmf`` plays tones).
    """
    channel = f"carrier-{uuid.uuid4()}"
    since = carrier.mark()
    params: dict[str, Any] = {
        "endpoint": f"PJSIP/{did}@{endpoint}",
        "app": carrier.app,
        "appArgs": "to-pbx",
        "channelId": channel,
        "timeout": timeout,
    }
    if caller_id is not None:
        params["callerId"] = caller_id
    # An outgoing channel presents its connected line; "i": no update sent to anyone.
    variables = {"CONNECTEDLINE(pres,i)": "prohib"} if withheld else {}
    await carrier.post("/channels", {"variables": variables}, **params)
    return CarrierCall(carrier=carrier, channel=channel, did=did, since=since)


async def pbx_stasis_start(
    pbx: AriApp, call: CarrierCall, since: int = 0, timeout: float = DEFAULT_TIMEOUT
) -> Event:
    """The pbx's StasisStart for ``call`` (matched on the SIP Call-ID)."""
    call_id = await call.call_id(timeout)
    async with asyncio.timeout(timeout):
        while True:
            start = await pbx.wait_event("StasisStart", since=since, timeout=timeout)
            since = pbx.events.index(start) + 1
            response = await pbx.http.get(
                f"/channels/{channel_id(start)}/variable", params={"variable": "CHANNEL(pjsip,call-id)"}
            )
            # 404: an earlier call, gone already.
            if response.status_code == 200 and response.json()["value"] == call_id:
                return start


def channel_id(event: Event) -> str:
    return event["channel"]["id"]


def asterisk_time(event: Event) -> float:
    """When Asterisk says the event happened (POSIX seconds): cuts and durations are measured on
    its clock, not on the test's, which runs late whenever the machine is loaded."""
    return datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


async def sip_register(
    server: tuple[str, int],
    source_address: str,
    username: str,
    password: str,
    timeout: float = 5,
) -> int:
    """Send a REGISTER with digest auth and return the final status code.

    The REGISTER has no Contact header: it only asks for the bindings and changes
    nothing on the registrar, so it can run beside the pbx's own registration.
    """
    host, port = server
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source_address, 0))
    sock.setblocking(False)
    local_port = sock.getsockname()[1]
    call_id = secrets.token_hex(8)
    uri = f"sip:{host}:{port}"

    def request(cseq: int, authorization: str | None) -> bytes:
        lines = [
            f"REGISTER {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {source_address}:{local_port};branch=z9hG4bK{secrets.token_hex(8)};rport",
            "Max-Forwards: 70",
            f"From: <sip:{username}@{host}>;tag={secrets.token_hex(4)}",
            f"To: <sip:{username}@{host}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        lines += ["Content-Length: 0", "", ""]
        return "\r\n".join(lines).encode()

    async def exchange(data: bytes) -> tuple[int, str]:
        await loop.sock_sendto(sock, data, (host, port))
        async with asyncio.timeout(timeout):
            while True:
                reply = (await loop.sock_recv(sock, 65535)).decode(errors="replace")
                status = int(reply.split(" ", 2)[1])
                if status >= 200:
                    return status, reply

    try:
        status, reply = await exchange(request(1, None))
        if status != 401:
            return status
        challenge = re.search(r"^WWW-Authenticate:\s*Digest\s+(.*)$", reply, re.M | re.I)
        assert challenge, reply
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.group(1)))
        realm, nonce = params["realm"], params["nonce"]
        ha1 = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        authorization = (
            f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5, cnonce="{cnonce}", qop=auth, nc={nc}'
        )
        if "opaque" in params:
            authorization += f', opaque="{params["opaque"]}"'
        status, _ = await exchange(request(2, authorization))
        return status
    finally:
        sock.close()
