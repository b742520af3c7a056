"""``reconnect-pbx serve``: wires ARI, the database, the playback files and the call flows together.

This is the one place where transport and domain meet; everything it builds is passed down.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from .ari import AriClient
from .config import ConfigError, Settings
from .db import make_engine, make_session_factory
from .flows.context import FlowContext
from .media import PlaybackFiles
from .reconcile import Recovery
from .metrics import MetricsServer
from .phone_calls import PhoneCalls
from .services import credentials, schema
from .stasis import StasisApplication
from .storage import PostgresAudioStore

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run the Stasis application until SIGTERM/SIGINT (or ``stop`` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):
            pass  # not the main thread (tests)

    # connect_timeout: an unreachable database must fail a query in seconds, not hold a caller for
    # TCP's minutes (a deposit then goes on without it).
    engine = make_engine(settings.database.url, pool_size=10, max_overflow=5, connect_args={"connect_timeout": 3})
    # Refuse to start on a database that is unreachable or not migrated: one clear line.
    with engine.connect() as connection:
        schema.ensure_current(connection)
    # Refuse to start without the PIN pepper rather than fail each login.
    credentials.use_pepper_file(settings.pin.pepper_file)
    credentials.load_pepper()
    session_factory = make_session_factory(engine)
    store = PostgresAudioStore()
    media = PlaybackFiles(
        session_factory,
        store,
        directory=settings.media.playback_dir,
        asterisk_directory=settings.media.asterisk_playback_dir,
    )
    # Copies of personal audio a crash left behind (the folder is on tmpfs in production).
    try:
        media.clear()
    except OSError as exc:
        raise ConfigError(f"media.playback_dir {settings.media.playback_dir}: {exc.strerror}") from None
    client = AriClient(
        settings.ari.url,
        settings.ari.username,
        settings.ari.password,
        settings.ari.app,
        request_timeout=settings.ari.request_timeout_seconds,
        reconnect_initial=settings.ari.reconnect_initial_seconds,
        reconnect_max=settings.ari.reconnect_max_seconds,
        rest_over_websocket=settings.ari.rest_over_websocket,
        # No flow waits for these, and they are most of what Asterisk sends about a call
        # (a prompt list sends PlaybackStarted and PlaybackContinuing for each file). A deposit
        # call then brings 6 events instead of ~42 (bench/load.py prints them per call).
        ignored_events=(
            "ChannelDialplan",
            "ChannelStateChange",
            "ChannelVarset",
            "PlaybackContinuing",
            "PlaybackStarted",
            "RecordingStarted",
        ),
    )
    ctx = FlowContext(
        client=client, settings=settings, session_factory=session_factory, store=store, media=media
    )
    application = StasisApplication(ctx)
    # Reconcile on every (re)connection, sweep the recording spool at each one and periodically.
    recovery = Recovery(application)
    recovery.install()
    metrics = MetricsServer(settings.metrics.listen_address, settings.metrics.listen_port, client, application.flows)
    await metrics.start()
    websocket = asyncio.create_task(client.run(), name="ari-websocket")
    sweeper = asyncio.create_task(recovery.run(stop), name="spool-sweep")
    phone_calls = asyncio.create_task(PhoneCalls(application).run(stop), name="phone-calls")
    log.info("serving ARI application %s on %s", settings.ari.app, settings.ari.url)
    try:
        await stop.wait()
    finally:
        log.info("stopping: letting %d call(s) finish", len(application.calls))
        await application.drain(timeout=30)
        await client.close()
        websocket.cancel()
        sweeper.cancel()
        phone_calls.cancel()
        await asyncio.gather(websocket, sweeper, phone_calls, return_exceptions=True)
        media.clear()
        await metrics.stop()
        ctx.executor.shutdown(wait=False)
        engine.dispose()
