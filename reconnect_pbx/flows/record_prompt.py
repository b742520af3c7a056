"""``reconnect-pbx prompts record``: the service calls an operator and records one prompt.

Operators only: it is started from the CLI on the server (root, the service's ARI password), and
calls the number the operator gives, on the trunk, after the destination policy of callbacks
(no premium, short or international number: services/destination_policy.py). The call is
capped (CALL_LIMIT_SECONDS, Asterisk's TIMEOUT(absolute)) so that a forgotten handset costs
nothing more. The operator hears the prompt as it is now (what to say), then a beep; they say
it and press # (or stop talking). It runs as an ARI application of its own (RECORD_APP): the
calls of ``serve`` are not touched, and no dialplan leads to it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence

from reconnect_pbx.ari.client import AriClient
from reconnect_pbx.ari.errors import AriError
from reconnect_pbx.ari.errors import EventTimeout

log = logging.getLogger(__name__)

RECORD_APP = "reconnect-pbx-record"
MAX_RECORDING_SECONDS = 60
MAX_SILENCE_SECONDS = 4  # after the words: the end of the recording, as "#"
CALL_LIMIT_SECONDS = 180


class RecordingNotMade(Exception):
    """The call was not answered, or ended before anything was recorded."""


async def record_by_phone(
    client: AriClient, endpoint: str, reference: Sequence[str], *, caller_id: str | None, ring_seconds: int = 30
) -> bytes:
    """Call ``endpoint``, play ``reference`` (the prompt as it is), record after a beep; the WAV bytes."""
    channel_id = f"record-{uuid.uuid4().hex}"
    started = client.events.expect(["StasisStart"], channel_id)
    await client.originate(
        endpoint,
        channel_id=channel_id,
        caller_id=caller_id,
        timeout_seconds=ring_seconds,
        variables={"TIMEOUT(absolute)": str(CALL_LIMIT_SECONDS)},
    )
    try:
        try:
            await started.wait(ring_seconds + 5)
        except EventTimeout:
            raise RecordingNotMade(f"no answer within {ring_seconds} s") from None
        log.info("channel %s: answered; playing the prompt to record", channel_id)
        playback_id = f"{channel_id}-reference"
        played = client.events.expect(["PlaybackFinished"], playback_id)
        await client.play(channel_id, reference, playback_id)
        await played.wait(MAX_RECORDING_SECONDS)
        name = f"prompt-{channel_id}"
        finished = client.events.expect(["RecordingFinished", "RecordingFailed"], name)
        await client.record(
            channel_id, name, format="wav", max_duration_seconds=MAX_RECORDING_SECONDS,
            max_silence_seconds=MAX_SILENCE_SECONDS, terminate_on="#", beep=True, if_exists="overwrite",
        )  # fmt: skip
        event = await finished.wait(MAX_RECORDING_SECONDS + 10)
        if event.type != "RecordingFinished":
            raise RecordingNotMade(f"Asterisk could not record ({event['recording'].get('cause', 'no cause given')})")
        try:
            return await client.stored_recording_file(name)
        finally:
            await client.delete_stored_recording(name)
    except (AriError, EventTimeout) as error:
        raise RecordingNotMade(f"the call ended before the recording was made: {error}") from None
    finally:
        await client.hangup(channel_id)


def make_client(url: str, username: str, password: str, request_timeout: float) -> AriClient:
    return AriClient(url, username, password, RECORD_APP, request_timeout=request_timeout)


async def connected(client: AriClient, timeout: float) -> asyncio.Task[None]:
    """The client's event websocket, running; its task (cancel it, then close the client)."""
    task = asyncio.create_task(client.run())
    await client.wait_connected(timeout)
    return task
