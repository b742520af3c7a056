"""The demo on a fresh machine: PostgreSQL, the Asterisk sandbox, ``serve`` and a demo person.

``reconnect-pbx demo up`` brings it all up (idempotent) and says how to try it;
``reconnect-pbx demo call NUMBER`` has the simulated carrier call a personal number and leave a
spoken message; ``reconnect-pbx demo down`` stops what ``up`` started. Everything the demo keeps
(its config with the sandbox's passwords, the serve log, a private PostgreSQL if the machine has
none) lives in one directory, ``RECONNECT_DEMO_DIR`` (default /var/tmp/reconnect-pbx-demo).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg2
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ..ari import AriClient, Event, EventTimeout
from ..db import make_engine, make_session_factory, transaction
from ..models import Centre, Language, NumberAssignment, PhoneNumber, StaffAccount, StaffRole
from ..services import centres, credentials, numbers, people, schema, staff
from . import postgres
from .chroot import asterisk_root
from .instance import CARRIER_APP, STASIS_APP, Sandbox, process_alive, write_private
from .speech import render_speech
from . import up as sandbox_up, down as sandbox_down, DEV_SANDBOX

DEMO_DIR = Path(os.environ.get("RECONNECT_DEMO_DIR", "/var/tmp/reconnect-pbx-demo"))
DEMO_DATABASE = "reconnect_demo"
DEMO_CENTRE = "Centre de démonstration"
DEMO_NUMBERS = [f"+3397000{n:04d}" for n in range(10)]
DEMO_ACCESS_NUMBER = "+33970009999"
DEMO_WEB_PORT = 8070
DEMO_STAFF_EMAIL = "demo@reconnect.invalid"
SPEECH_INSIDE = "/usr/share/asterisk/sounds/demo"


class DemoError(Exception):
    """The demo cannot do what was asked; the message says what to do."""


@dataclass(frozen=True)
class DemoState:
    config_path: Path
    database_url: str
    person_id: int
    number: str
    pin: str | None  # only on the run that enrolled the person
    web_url: str = ""
    staff_email: str = ""
    staff_password: str = ""


def config_path() -> Path:
    return DEMO_DIR / "demo.conf"


def up() -> DemoState:
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    database_url = _ensure_database()
    schema.upgrade(database_url)
    sandbox_up()
    ari = _sandbox().pbx
    config = config_path()
    pepper = DEMO_DIR / "pin-pepper"
    if not pepper.exists():
        write_private(pepper, secrets.token_hex(32) + "\n")
    credentials.use_pepper_file(pepper)
    write_private(
        config,
        "# Written by `reconnect-pbx demo up`: the demo's settings (holds the sandbox's ARI password).\n"
        f'[database]\nurl = "{database_url}"\n\n'
        f'[ari]\nurl = "{ari.ari_url}"\nusername = "{ari.ari_user}"\npassword = "{ari.ari_password}"\n\n'
        f'[media]\nplayback_dir = "{ari.host_dir / "play"}"\nasterisk_playback_dir = "{ari.dir}/play"\n\n'
        f'[pin]\npepper_file = "{pepper}"\n\n'
        f'[access]\naccess_number = "{DEMO_ACCESS_NUMBER}"\n\n'
        + web_settings(DEMO_WEB_PORT),
    )
    _start_serve(config, ari.ari_url, ari.ari_user, ari.ari_password)
    person_id, number, pin = _ensure_demo_person(database_url)
    staff_email, staff_password = ensure_demo_staff(database_url)
    web_url = start_web(config, DEMO_WEB_PORT)
    return DemoState(config, database_url, person_id, number, pin, web_url, staff_email, staff_password)


def down() -> None:
    stop_web()
    _stop_background("serve")
    sandbox_down()
    cluster = DEMO_DIR / "postgres"
    if (cluster / "port").exists():
        postgres.stop_cluster(cluster)


def _ensure_database() -> str:
    server_url = postgres.configured_server_url()
    if not postgres.server_answers(server_url):
        # No PostgreSQL on this machine: a private cluster kept in the demo directory.
        server_url = postgres.start_cluster(DEMO_DIR / "postgres")
    url = make_url(server_url).set(database=DEMO_DATABASE)
    admin = make_url(server_url)
    connection = psycopg2.connect(
        host=admin.host, port=admin.port or 5432, user=admin.username, dbname=admin.database or "postgres"
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DEMO_DATABASE,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
    finally:
        connection.close()
    return url.render_as_string(hide_password=False)


def _sandbox() -> Sandbox:
    sandbox = Sandbox.load(DEV_SANDBOX, asterisk_root())
    if sandbox is None or not sandbox.is_running():
        raise DemoError("the demo is not running: start it with `reconnect-pbx demo up`")
    return sandbox


def _pid_of(name: str) -> int | None:
    """The pid of the demo's background process ``name`` (serve, web) if it is alive."""
    try:
        pid = int((DEMO_DIR / f"{name}.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if process_alive(pid) else None


def _serve_pid() -> int | None:
    return _pid_of("serve")


def _start_background(name: str, args: list[str], ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Run ``reconnect-pbx ARGS`` detached (log: NAME.log, pid: NAME.pid) until ``ready()``."""
    cli = str(Path(sys.executable).with_name("reconnect-pbx"))
    log_path = DEMO_DIR / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [cli, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command
        )
    (DEMO_DIR / f"{name}.pid").write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"{name} exited at start; see {log_path}")
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise DemoError(f"{what} in {timeout:.0f} s; see {log_path}")


def _start_serve(config: Path, ari_url: str, user: str, password: str) -> None:
    if _serve_pid() is not None:
        return

    def connected() -> bool:
        response = httpx.get(f"{ari_url}/ari/applications/{STASIS_APP}", auth=(user, password), timeout=2)
        return response.status_code == 200

    _start_background("serve", ["--config", str(config), "serve"], connected, 20, "serve did not connect to Asterisk")


# -- the staff web application -------------------------------------------------------------------


def web_settings(port: int) -> str:
    """The demo config's [web] section: plain HTTP on loopback, a secret kept in the demo folder."""
    secret_file = DEMO_DIR / "web-secret"
    if not secret_file.exists():
        write_private(secret_file, secrets.token_hex(32))
    return (
        f'[web]\nlisten_address = "127.0.0.1"\nlisten_port = {port}\nbase_url = "http://127.0.0.1:{port}"\n'
        f'secret_key = "{secret_file.read_text().strip()}"\n'
        "# Plain HTTP on loopback for the demo only: behind TLS, cookies stay Secure.\ncookie_secure = false\n"
    )


def ensure_demo_staff(database_url: str) -> tuple[str, str]:
    """An admin account of the demo centre, with a password kept (private) in the demo folder."""
    password_file = DEMO_DIR / "web-staff-password"
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            exists = session.scalar(select(StaffAccount.id).where(StaffAccount.email == DEMO_STAFF_EMAIL))
            if exists is not None and password_file.exists():
                return DEMO_STAFF_EMAIL, password_file.read_text().strip()
            password = "demo " + secrets.token_urlsafe(12)
            if exists is None:
                centre = session.scalar(select(Centre).where(Centre.name == DEMO_CENTRE))
                if centre is None:
                    centre = centres.add_centre(session, DEMO_CENTRE, "Paris", actor="demo")
                made = staff.add_account(
                    session, email=DEMO_STAFF_EMAIL, centre=centre, role=StaffRole.ADMIN, actor="demo", link_hours=1
                )
                token = made.token
            else:
                token = staff.new_password_link(session, DEMO_STAFF_EMAIL, actor="demo", link_hours=1).token
            staff.set_password_with_token(session, token, password)
        write_private(password_file, password)
        return DEMO_STAFF_EMAIL, password
    finally:
        engine.dispose()


def _web_pid() -> int | None:
    return _pid_of("web")


def start_web(config: Path, port: int) -> str:
    """`reconnect-pbx web` in the background (log: web.log); its URL once it accepts connections."""
    url = f"http://127.0.0.1:{port}"
    if _web_pid() is None:
        _start_background(
            "web",
            ["--config", str(config), "web", "--workers", "1"],
            lambda: httpx.get(f"{url}/login", timeout=2).status_code == 200,
            30,
            "the web application did not answer",
        )
    return url


def stop_web() -> None:
    _stop_background("web")


def _stop_background(name: str) -> None:
    """SIGTERM the demo's background process ``name`` and wait (10 s at most) for it to end."""
    pid = _pid_of(name)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not process_alive(pid):
                break
            time.sleep(0.1)
    (DEMO_DIR / f"{name}.pid").unlink(missing_ok=True)


def _ensure_demo_person(database_url: str) -> tuple[int, str, str | None]:
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            centre = session.scalar(select(Centre).where(Centre.name == DEMO_CENTRE))
            if centre is None:
                centre = centres.add_centre(session, DEMO_CENTRE, "Paris", actor="demo")
                numbers.import_numbers(
                    session, DEMO_NUMBERS, centre=centre, trunk="trunk", actor="demo", source="demo"
                )
            holder = session.execute(
                select(NumberAssignment.beneficiary_id, PhoneNumber.e164)
                .join(PhoneNumber, NumberAssignment.phone_number_id == PhoneNumber.id)
                .where(PhoneNumber.centre_id == centre.id, NumberAssignment.ended_at.is_(None))
                .order_by(NumberAssignment.id)
                .limit(1)
            ).first()
            if holder is not None:
                return holder[0], holder[1], None
            enrolment = people.enrol(
                session, centre=centre, display_name="Camille Démo", language=Language.FR, pin_length=6, actor="demo"
            )
            return enrolment.beneficiary_id, enrolment.e164, enrolment.pin
    finally:
        engine.dispose()


# -- a call from the simulated carrier -----------------------------------------------------------


def install_speech(sandbox: Sandbox, text: str) -> str:
    """Speech for the caller to say, installed in the carrier's sounds; returns its media URI."""
    name = f"message-{uuid.uuid4().hex[:8]}"
    # A second of silence after the words: the caller keeps sending audio until it hangs up.
    render_speech(text, sandbox.carrier.root.host_path(SPEECH_INSIDE) / f"{name}.wav", pad_after=1)
    return f"sound:demo/{name}"


async def call(number: str, caller: str, text: str, timeout: float = 60) -> None:
    """The carrier calls ``number`` from ``caller``, waits for the tone, says ``text``, hangs up."""
    sandbox = _sandbox()
    speech = install_speech(sandbox, text)
    carrier_ari, pbx_ari = sandbox.carrier, sandbox.pbx
    carrier = AriClient(carrier_ari.ari_url, carrier_ari.ari_user, carrier_ari.ari_password, CARRIER_APP)
    # A second application on the pbx that sees every event: it tells when the recording starts.
    watcher = AriClient(pbx_ari.ari_url, pbx_ari.ari_user, pbx_ari.ari_password, "demo-watcher", subscribe_all=True)
    recording_started = asyncio.Event()
    pbx_channels: set[str] = set()

    def on_channel_created(event: Event) -> None:
        if event["channel"]["caller"]["number"] == caller:
            pbx_channels.add(event["channel"]["id"])

    def on_recording_started(event: Event) -> None:
        if event["recording"].get("target_uri", "").removeprefix("channel:") in pbx_channels:
            recording_started.set()

    watcher.events.on("ChannelCreated", on_channel_created)
    watcher.events.on("RecordingStarted", on_recording_started)
    tasks = [asyncio.create_task(carrier.run()), asyncio.create_task(watcher.run())]
    channel_id = f"demo-{uuid.uuid4().hex}"
    try:
        await carrier.wait_connected(10)
        await watcher.wait_connected(10)
        answered = carrier.expect({"StasisStart"}, channel_id)
        ended = carrier.expect({"ChannelDestroyed"}, channel_id)
        await carrier.originate(f"PJSIP/{number}@pbx", channel_id=channel_id, caller_id=caller, app_args=["demo"])
        await answered.wait(timeout)
        await asyncio.wait_for(recording_started.wait(), timeout)
        playback_id = f"demo-{uuid.uuid4().hex}"
        finished = carrier.expect({"PlaybackFinished"}, playback_id)
        await carrier.play(channel_id, [speech], playback_id)
        await finished.wait(timeout)
        await carrier.hangup(channel_id)
        await ended.wait(10)
    except (asyncio.TimeoutError, EventTimeout) as exc:
        raise DemoError("the call did not go as expected (is `reconnect-pbx demo up` running?)") from exc
    finally:
        await carrier.close()
        await watcher.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
