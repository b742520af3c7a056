"""Our ARI client's two transports against a real Asterisk: a request marked ``websocket`` goes over
the event websocket (ARI's REST over WebSocket) and behaves as over HTTP: same results, same
errors; the others, and every request while the websocket is down, go over HTTP.

The client holds an application name of its own: the real application is left alone.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from reconnect_pbx.ari import AriClient, ChannelGone, NotFound
from reconnect_pbx.sandbox import Sandbox

APP = "transport-test"


@pytest_asyncio.fixture(loop_scope="session")
async def client(sandbox: Sandbox) -> AsyncIterator[AriClient]:
    pbx = sandbox.pbx
    client = AriClient(pbx.ari_url, pbx.ari_user, pbx.ari_password, APP, rest_over_websocket=True)
    running = asyncio.create_task(client.run())
    try:
        await client.wait_connected(10)
        yield client
    finally:
        await client.close()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_request_marked_websocket_goes_over_the_websocket_and_takes_effect(
    client: AriClient, sandbox: Sandbox
) -> None:
    value = secrets.token_hex(6)
    await client.set_global_variable("TRANSPORT_TEST", value)
    assert client.requests_over_websocket == 1
    assert f"TRANSPORT_TEST={value}" in sandbox.pbx.rx("dialplan show globals")
    info = await client.asterisk_info()
    assert "system" in info
    assert client.requests_over_websocket == 1  # not marked: over HTTP


@pytest.mark.asyncio(loop_scope="session")
async def test_errors_over_the_websocket_are_those_of_http(client: AriClient) -> None:
    before = client.requests_over_websocket
    with pytest.raises(ChannelGone):
        await client.play("no-such-channel", ["sound:beep"], "pb-transport-test")
    with pytest.raises(NotFound):
        await client.request("POST", "/playbacks/no-such-playback/control", params={"operation": "pause"},
                             websocket=True)
    # The client's own tolerance of "already gone" holds over the websocket too.
    await client.hangup("no-such-channel")
    await client.stop_playback("no-such-playback")
    assert client.requests_over_websocket == before + 4


@pytest.mark.asyncio(loop_scope="session")
async def test_while_the_websocket_is_down_requests_go_over_http(client: AriClient, sandbox: Sandbox) -> None:
    before = client.requests_over_websocket
    reconnected = asyncio.Event()

    async def on_connected() -> None:
        reconnected.set()

    client.on_connected(on_connected)
    await client.drop_connection()
    # Sent as the websocket closes, or once it is down: carried over HTTP either way.
    value = secrets.token_hex(6)
    await client.set_global_variable("TRANSPORT_TEST", value)
    assert f"TRANSPORT_TEST={value}" in sandbox.pbx.rx("dialplan show globals")
    assert client.requests_over_websocket == before
    # Reconnected (with backoff): over the websocket again.
    await asyncio.wait_for(reconnected.wait(), 15)
    await client.set_global_variable("TRANSPORT_TEST", value + "x")
    assert f"TRANSPORT_TEST={value}x" in sandbox.pbx.rx("dialplan show globals")
    assert client.requests_over_websocket == before + 1

