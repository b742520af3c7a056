"""A PostgreSQL server for the tests and the demo: the one given, the local one, or a private cluster.

Used by tests/conftest.py (through tests/pg.py), bench/, the demo and CI scripts::

    python tests/pg.py server-url            # prints a server URL that answers (may start a cluster)
    python tests/pg.py start DIR             # starts a private cluster in DIR, prints its URL
    python tests/pg.py stop DIR
    python tests/pg.py check-migrations      # exit 1 if models and migrations disagree (throwaway DB)

The server URL comes from RECONNECT_TEST_DATABASE_URL, else postgresql+psycopg2://postgres@127.0.0.1:5432/postgres.
If nothing answers there, a private cluster is created with initdb/pg_ctl from
/usr/lib/postgresql/*/bin (Debian's ``postgresql`` package is installed with apt-get when missing),
listening on 127.0.0.1 on a free port, trust authentication, no fsync.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
from sqlalchemy.engine import URL, make_url

DEFAULT_SERVER_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
SERVER_URL_VARIABLE = "RECONNECT_TEST_DATABASE_URL"
_SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    pass


def configured_server_url() -> str:
    return os.environ.get(SERVER_URL_VARIABLE) or DEFAULT_SERVER_URL


def server_answers(url: str, timeout_seconds: int = 3) -> bool:
    try:
        psycopg2.connect(_dsn(make_url(url)), connect_timeout=timeout_seconds).close()
    except psycopg2.Error:
        return False
    return True


def create_database(server_url: str, prefix: str = "reconnect_test") -> str:
    """Create an empty database with a random name on the server; returns its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with _autocommit(server_url) as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    url = make_url(database_url)
    server_url = url.set(database="postgres").render_as_string(hide_password=False)
    with _autocommit(server_url) as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


@contextlib.contextmanager
def throwaway_database(server_url: str, prefix: str = "reconnect_test") -> Iterator[str]:
    url = create_database(server_url, prefix)
    try:
        yield url
    finally:
        drop_database(url)


@contextlib.contextmanager
def member_login(database_url: str, role: str) -> Iterator[str]:
    """A throwaway login role that is a member of ``role`` (the NOLOGIN serve or web role that
    migration 0007 grants to): yields ``database_url`` logging in as it, drops it afterwards.

    Roles are shared by the whole cluster, so each caller gets a login of its own; its rights are
    exactly ``role``'s, as for a production login made a member of it (docs/deploy.md)."""
    url = make_url(database_url)
    login = f"reconnect_test_{role}_{secrets.token_hex(4)}"[:63]
    server_url = url.set(database="postgres").render_as_string(hide_password=False)
    with _autocommit(server_url) as cursor:
        cursor.execute(f'CREATE ROLE "{login}" LOGIN IN ROLE "{role}"')
    try:
        yield url.set(username=login, password=None).render_as_string(hide_password=False)
    finally:
        with _autocommit(server_url) as cursor:
            # Its sessions first (a pool may still hold one), then the role.
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (login,))
            cursor.execute(f'DROP ROLE IF EXISTS "{login}"')


@contextlib.contextmanager
def available_server() -> Iterator[str]:
    """The configured server if it answers, else a private cluster for the duration."""
    url = configured_server_url()
    if server_answers(url):
        yield url
        return
    directory = Path(tempfile.mkdtemp(prefix="reconnect-pg-"))
    try:
        yield start_cluster(directory)
    finally:
        stop_cluster(directory)
        shutil.rmtree(directory, ignore_errors=True)


def start_cluster(directory: Path) -> str:
    """initdb + pg_ctl start in ``directory``; returns the server URL."""
    bin_dir = _postgres_bin_dir()
    directory.mkdir(parents=True, exist_ok=True)
    data, sockets, port = directory / "data", directory / "sockets", _free_port()
    sockets.mkdir(exist_ok=True)
    _give_to_postgres_user(directory)
    if not (data / "PG_VERSION").exists():
        _run_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", _SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync"])
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    _run_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(directory / "server.log"), "-o", options, "-w", "start"])
    (directory / "port").write_text(str(port))
    return f"postgresql+psycopg2://{_SUPERUSER}@127.0.0.1:{port}/postgres"


def stop_cluster(directory: Path) -> None:
    data = directory / "data"
    if not (data / "postmaster.pid").exists():
        return
    _run_as_postgres([str(_postgres_bin_dir() / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])


def _postgres_bin_dir() -> Path:
    found = _installed_bin_dirs()
    if not found:
        _install_postgres()
        found = _installed_bin_dirs()
    if not found:
        raise PostgresUnavailable("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
    return found[-1]


def _installed_bin_dirs() -> list[Path]:
    dirs = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").exists()]
    return sorted(dirs, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _install_postgres() -> None:
    if os.geteuid() != 0:
        raise PostgresUnavailable("PostgreSQL is not installed and installing it needs root: apt-get install postgresql")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    # The Debian package starts its own cluster on 5432; ours runs on a free port beside it.
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def _give_to_postgres_user(directory: Path) -> None:
    # initdb refuses to run as root: as root, the cluster belongs to the "postgres" system user.
    if os.geteuid() != 0:
        return
    import pwd

    user = pwd.getpwnam("postgres")
    for path in (directory, *directory.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid)


def _run_as_postgres(command: list[str]) -> None:
    program = Path(command[0]).name
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, cwd="/")
    if result.returncode != 0:
        raise PostgresUnavailable(f"{program} failed: {result.stderr.strip() or result.stdout.strip()}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _dsn(url: URL) -> str:
    parts = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or _SUPERUSER,
        "dbname": url.database or "postgres",
    }
    if url.password:
        parts["password"] = url.password
    return " ".join(f"{key}='{value}'" for key, value in parts.items())


@contextlib.contextmanager
def _autocommit(server_url: str) -> Iterator[psycopg2.extensions.cursor]:
    connection = psycopg2.connect(_dsn(make_url(server_url)), connect_timeout=5)
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def _main(argv: list[str]) -> int:
    if argv[:1] == ["server-url"]:
        url = configured_server_url()
        if not server_answers(url):
            url = start_cluster(Path(tempfile.mkdtemp(prefix="reconnect-pg-")))
        print(url)
        return 0
    if argv[:1] == ["check-migrations"]:
        return _check_migrations()
    if len(argv) == 2 and argv[0] == "start":
        print(start_cluster(Path(argv[1]).resolve()))
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        stop_cluster(Path(argv[1]).resolve())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


def _check_migrations() -> int:
    from reconnect_pbx.services import schema

    with available_server() as server, throwaway_database(server, prefix="reconnect_check") as url:
        schema.upgrade(url)
        try:
            schema.check(url)
        except schema.SchemaError as exc:
            print(f"check-migrations: {exc}", file=sys.stderr)
            return 1
    print("check-migrations: models and migrations agree")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
