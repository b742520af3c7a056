"""The bench's rig: a sandbox pbx with the native-voicemail baseline, a database, and ``serve``.

- The sandbox is the harness's own (``reconnect_pbx.sandbox``), in a slot of its own. Its pbx runs
  the repository's config plus ``bench/asterisk/`` (``AsteriskInstance.extra_files``): DIDs
  ``+3399...`` reach Asterisk's ``VoiceMail()``, ``+3398...`` its ``VoiceMailMain()``. SIPp replaces
  the carrier simulator as the far end of the trunk: it sends from the carrier's address, which the
  pbx's ``identify`` recognises.
- The database is a throwaway one on the tests' server (``tests/pg.py``), so that
  ``pg_stat_database`` counts the bench's work only. People get the DIDs ``+3397...``.
- ``serve`` runs as in production (INFO logging), with the prompt set chosen.
"""

from __future__ import annotations

import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from reconnect_pbx.db import make_engine, make_session_factory, transaction
from reconnect_pbx.models import Credential, Language, Mailbox
from reconnect_pbx.sandbox import STASIS_APP, Sandbox
from reconnect_pbx.sandbox.chroot import asterisk_root
from reconnect_pbx.services import centres, credentials, numbers, people, schema
from reconnect_pbx.services.voicemail import NewMessage, store_message
from reconnect_pbx.storage import PostgresAudioStore

BENCH_DIR = Path(__file__).resolve().parents[1]
ASTERISK_FILES = BENCH_DIR / "asterisk"
CLI = str(Path(sys.executable).with_name("reconnect-pbx"))

# DIDs: the application's people, Asterisk's VoiceMail() boxes, Asterisk's VoiceMailMain().
APP_FIRST = 33970000000
NATIVE_FIRST = 33990000000
NATIVE_LOGIN_FIRST = 33980000000
# Callers: deposits and logins, unique per call within a run (the observer tells calls apart).
DEPOSIT_CALLER_FIRST = 33610000000
LOGIN_CALLER_FIRST = 33620000000
# The PIN of every bench person (not a secret: the database is dropped at the end), and of the
# native boxes.
BENCH_PIN = "270513"
NATIVE_PIN = "4826"


def did(first: int, index: int) -> str:
    return f"+{first + index}"


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def start_bench_sandbox(
    octet: int, name: str, mailboxes: int, owner_pid: int | None = None, *, work: Path, native_format: str = "wav",
    customise: Callable[[Sandbox], None] | None = None,
) -> Sandbox:
    """The sandbox of the harness, its pbx with ``mailboxes`` native voicemail boxes added, which
    store their messages in ``native_format`` (voicemail.conf's ``format``). ``customise``: a
    scenario's own additions, before the start (loadbench/follow.py)."""
    sandbox = Sandbox.create(name, octet, asterisk_root(), owner_pid=owner_pid)
    pbx = sandbox.pbx
    voicemail_conf = work / "voicemail.conf"
    voicemail_conf.write_text(
        (ASTERISK_FILES / "voicemail.conf").read_text().replace("\nformat = wav\n", f"\nformat = {native_format}\n")
    )
    pbx.extra_files = {
        "bench-voicemail.conf": ASTERISK_FILES / "bench-voicemail.conf",
        "voicemail.conf": voicemail_conf,
    }
    pbx.appended_lines = {
        "extensions.conf": ['#include "bench-voicemail.conf"'],
        "modules.conf": ["load = app_voicemail.so"],
        "voicemail.conf": [f"{NATIVE_FIRST + i} => {NATIVE_PIN},Bench {i}" for i in range(mailboxes)],
    }
    if customise is not None:
        customise(sandbox)
    sandbox.start()
    return sandbox


def native_spool(sandbox: Sandbox) -> Path:
    """Where VoiceMail() keeps the bench boxes (host path)."""
    return sandbox.pbx.host_dir / "spool/voicemail/bench"


@dataclass
class ServeProcess:
    """``reconnect-pbx serve`` against the bench pbx."""

    sandbox: Sandbox
    database_url: str
    log_path: Path
    prompt_set: str = "short"
    extra_env: dict[str, str] = field(default_factory=dict)
    # Added to the niceness serve inherits (negative needs root): every thread of it gets it.
    nice: int = 0
    process: subprocess.Popen[bytes] | None = None
    # Another serve (a test session's) may hold the default metrics port.
    metrics_port: int = field(default_factory=free_port)

    def start(self, timeout: float = 20) -> None:
        pbx = self.sandbox.pbx
        env = {
            **os.environ,
            "RECONNECT_CONFIG": os.devnull,
            "RECONNECT_DATABASE_URL": self.database_url,
            "RECONNECT_ARI_URL": pbx.ari_url,
            "RECONNECT_ARI_USERNAME": pbx.ari_user,
            "RECONNECT_ARI_PASSWORD": pbx.ari_password,
            # Stored audio plays from files that exist only while they play (reconnect_pbx/media.py).
            "RECONNECT_MEDIA_PLAYBACK_DIR": str(pbx.host_dir / "play"),
            "RECONNECT_MEDIA_ASTERISK_PLAYBACK_DIR": f"{pbx.dir}/play",
            "RECONNECT_VOICEMAIL_PROMPT_SET": self.prompt_set,
            "RECONNECT_LOGGING_LEVEL": "INFO",
            "RECONNECT_METRICS_LISTEN_PORT": str(self.metrics_port),
            **self.extra_env,
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [CLI, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}; see {self.log_path}")
            try:
                response = httpx.get(
                    f"{pbx.ari_url}/ari/applications/{STASIS_APP}", auth=(pbx.ari_user, pbx.ari_password), timeout=2
                )
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not register {STASIS_APP} in {timeout} s; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def ari_traffic(self) -> dict[str, float]:
        """serve's own ARI counters (its metrics): "requests", and "events:<type>" for each type."""
        response = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5)
        response.raise_for_status()
        traffic = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == "reconnect_ari_requests_total":
                    traffic["requests"] = sample.value
                elif sample.name == "reconnect_ari_events_total":
                    traffic[f"events:{sample.labels['type']}"] = sample.value
        return traffic

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass(frozen=True)
class BenchPerson:
    index: int
    number: str
    mailbox_id: int


def use_bench_pepper() -> Path:
    """The bench's PIN pepper file, for this process and for serve (through the environment).

    The one already named in the environment is kept: run inside the test suite, the bench must not
    change the pepper under the tests that come after it (their PINs would no longer verify)."""
    configured = os.environ.get("RECONNECT_PIN_PEPPER_FILE")
    if configured and Path(configured).is_file():
        credentials.use_pepper_file(configured)
        return Path(configured)
    path = Path(tempfile.gettempdir()) / "reconnect-pbx-bench-pin-pepper"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
    path.chmod(0o600)
    os.environ["RECONNECT_PIN_PEPPER_FILE"] = str(path)
    credentials.use_pepper_file(path)
    return path


def prepare_database(database_url: str, count: int, listened: int, message_wav: bytes) -> list[BenchPerson]:
    """Migrate, enrol ``count`` people (+3397...), onboarded, PIN ``BENCH_PIN``; the last
    ``listened`` of them get one message (``message_wav``) for the login calls to hear."""
    schema.upgrade(database_url)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    use_bench_pepper()
    pin_hash = credentials.hash_pin(BENCH_PIN)
    created: list[BenchPerson] = []
    with transaction(factory) as session:
        centre = centres.add_centre(session, "Bench", actor="bench")
        pool = [did(APP_FIRST, i) for i in range(count)]
        numbers.import_numbers(session, pool, centre=centre, trunk="trunk", actor="bench", source="bench")
        for i, number in enumerate(pool):
            enrolment = people.enrol(
                session, centre=centre, display_name=f"Bench {i}", language=Language.FR,
                pin_length=6, actor="bench", number=number,
            )
            mailbox_id = session.scalar(select(Mailbox.id).where(Mailbox.beneficiary_id == enrolment.beneficiary_id))
            created.append(BenchPerson(i, number, mailbox_id))
        session.execute(update(Mailbox).values(onboarded=True))
        session.execute(update(Credential).values(pin_hash=pin_hash, pin_must_change=False))
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    with transaction(factory) as session:
        for person in created[count - listened :]:
            store_message(
                session,
                PostgresAudioStore(),
                NewMessage(person.mailbox_id, "+33142685300", person.number, yesterday,
                           wav_duration(message_wav), f"bench-listen-{person.index}"),
                message_wav,
            )
    engine.dispose()
    return created


def wav_duration(data: bytes) -> int:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes() * 1000 // wav.getframerate()


def prepare_native_messages(sandbox: Sandbox, first: int, count: int, message_wav: bytes) -> None:
    """One message in native boxes ``first`` .. ``first + count - 1``, for VoiceMailMain() logins."""
    spool = native_spool(sandbox)
    when = int(time.time()) - 86400
    for i in range(first, first + count):
        inbox = spool / str(NATIVE_FIRST + i) / "INBOX"
        inbox.mkdir(parents=True, exist_ok=True)
        (inbox / "msg0000.wav").write_bytes(message_wav)
        (inbox / "msg0000.txt").write_text(
            "[message]\n"
            f"origmailbox={NATIVE_FIRST + i}\ncontext=bench-native\nmacrocontext=\nexten=+{NATIVE_FIRST + i}\n"
            "rdnis=unknown\npriority=1\ncallerchan=PJSIP/trunk\ncallerid=+33142685300\n"
            f"origdate=bench\norigtime={when}\ncategory=\nmsg_id={when}-{i:08d}\nflag=\n"
            f"duration={wav_duration(message_wav) // 1000}\n"
        )
