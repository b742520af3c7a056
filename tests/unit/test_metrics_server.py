"""The metrics endpoint: what it serves, that port 0 turns it off, that a busy port never stops serve."""

from __future__ import annotations

import socket

import httpx
import pytest

from reconnect_pbx import metrics
from reconnect_pbx.ari import AriClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def client():
    ari = AriClient("http://127.0.0.1:9", "user", "secret", "reconnect-pbx")
    yield ari
    await ari.close()


async def test_the_endpoint_serves_the_counters_and_the_ari_client_state(client: AriClient) -> None:
    port = free_port()
    server = metrics.MetricsServer("127.0.0.1", port, client, flows=["deposit", "access"])
    client.reconnections = 3
    client.requests_sent = 7
    client.events_received.update({"StasisStart": 2, "PlaybackFinished": 5})
    before = metrics.REGISTRY.get_sample_value("reconnect_messages_stored_total")
    metrics.MESSAGES_STORED.inc()
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        await server.stop()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert f"reconnect_messages_stored_total {before + 1}" in text
    assert "reconnect_ari_reconnections_total 3.0" in text
    assert "reconnect_ari_connected 0.0" in text
    assert "reconnect_ari_requests_total 7.0" in text
    assert 'reconnect_ari_events_total{type="PlaybackFinished"} 5.0' in text
    assert 'reconnect_ari_events_total{type="StasisStart"} 2.0' in text
    assert 'reconnect_calls_in_progress{flow="access"} 0.0' in text
    # Stopped: the ARI collector is gone with the server, ready for the next one.
    assert metrics.REGISTRY.get_sample_value("reconnect_ari_reconnections_total") is None


async def test_port_zero_serves_nothing(client: AriClient) -> None:
    server = metrics.MetricsServer("127.0.0.1", 0, client)
    await server.start()
    assert not server.enabled
    assert metrics.REGISTRY.get_sample_value("reconnect_ari_connected") is None
    await server.stop()


async def test_a_busy_port_is_logged_and_serve_goes_on(client: AriClient, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = metrics.MetricsServer("127.0.0.1", busy.getsockname()[1], client)
        await server.start()
    assert "serving calls without metrics" in caplog.text
    assert metrics.REGISTRY.get_sample_value("reconnect_ari_connected") is None
    await server.stop()
