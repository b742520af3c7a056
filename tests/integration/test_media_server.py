"""The media server Asterisk fetches stored audio from: a URL with a wrong signature is refused (404),
as is one for audio that does not exist; only the signed URL serves the audio."""

from __future__ import annotations

import socket

import httpx
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.db import run_in_transaction
from reconnect_pbx.media import MediaServer
from reconnect_pbx.storage import PostgresAudioStore



async def _serve(session_factory: sessionmaker[Session]) -> MediaServer:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = MediaServer(session_factory, PostgresAudioStore(), listen_address="127.0.0.1", listen_port=port)
    await server.start()
    return server


async def test_the_media_server_serves_audio_only_at_its_signed_url(session_factory: sessionmaker[Session]) -> None:
    audio = b"RIFF" + b"\x00" * 60
    audio_id = run_in_transaction(session_factory, PostgresAudioStore().put, audio)
    server = await _serve(session_factory)
    try:
        url = server.url_for(audio_id)
        signature = url.rsplit("/", 1)[1].removesuffix(".wav")
        forged = "0" * len(signature) if signature != "0" * len(signature) else "1" * len(signature)
        async with httpx.AsyncClient() as client:
            served = await client.get(url)
            wrong_signature = await client.get(url.replace(signature, forged))
            another_id = await client.get(url.replace(f"/audio/{audio_id}/", f"/audio/{audio_id + 1}/"))
            truncated = await client.get(url.replace(signature, signature[:-1]))
        assert served.status_code == 200
        assert served.content == audio
        assert served.headers["content-type"] == "audio/wav"
        # The signature of one id does not open another, and a wrong or shortened one opens nothing.
        assert [wrong_signature.status_code, another_id.status_code, truncated.status_code] == [404, 404, 404]
    finally:
        await server.stop()


async def test_a_signed_url_for_audio_that_no_longer_exists_is_refused(session_factory: sessionmaker[Session]) -> None:
    store = PostgresAudioStore()
    audio_id = run_in_transaction(session_factory, store.put, b"RIFF" + b"\x01" * 60)
    run_in_transaction(session_factory, store.delete, audio_id)
    server = await _serve(session_factory)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(server.url_for(audio_id))
        assert response.status_code == 404
    finally:
        await server.stop()
