"""deploy/reconnect-pbx-restore: the dump is read and restored into a new database before anything
is renamed; a bad dump or a database in use changes nothing. Real pg_dump/pg_restore and gpg."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
BACKUP = REPO / "deploy" / "reconnect-pbx-backup"
RESTORE = REPO / "deploy" / "reconnect-pbx-restore"


@pytest.fixture
def server(fresh_database_url: str) -> Iterator[dict[str, str]]:
    """libpq's variables for the test server, and a target name dropped afterwards. The source
    database is a migrated one with half a megabyte that does not compress: a dump larger than a
    pipe's buffer, as any with messages in it (the check once failed on those only)."""
    url = make_url(fresh_database_url)
    connection = psycopg2.connect(fresh_database_url.replace("+psycopg2", ""))
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE ballast AS SELECT string_agg(md5(random()::text), '') AS noise FROM generate_series(1, 16000)"
            )
    finally:
        connection.close()
    env = {**os.environ, "PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432), "PGUSER": url.username or "postgres"}
    target = f"restore_target_{secrets.token_hex(4)}"
    yield {**env, "TARGET": target, "SOURCE": url.database or ""}
    connection = psycopg2.connect(host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"], dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (target + "%",))
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP DATABASE "{name}"')
    connection.close()


def backup(tmp_path: Path, server: dict[str, str]) -> tuple[Path, Path]:
    key = tmp_path / "backup.key"
    key.write_text("k" * 48)
    key.chmod(0o600)
    (tmp_path / "spool/recording").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    url = f"postgresql://{server['PGUSER']}@{server['PGHOST']}:{server['PGPORT']}/{server['SOURCE']}"
    done = subprocess.run(
        [str(BACKUP), "--pg-user", "", "--dest", str(tmp_path / "backups"), "--key", str(key), "--database", url,
         "--spool", str(tmp_path / "spool/recording"), "--etc", str(tmp_path / "etc")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    return next((tmp_path / "backups").glob("reconnect_pbx-*.dump.gpg")), key


def restore(server: dict[str, str], key: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RESTORE), "--pg-user", "", "--owner", server["PGUSER"], "--database", server["TARGET"], "--key", str(key), *map(str, files)],
        capture_output=True, text=True, timeout=120, env=server, check=False,
    )


def databases(server: dict[str, str]) -> list[str]:
    out = subprocess.run(
        ["psql", "-Atq", "-d", "postgres", "-c", f"SELECT datname FROM pg_database WHERE datname LIKE '{server['TARGET']}%' ORDER BY 1"],
        capture_output=True, text=True, env=server, check=True,
    ).stdout
    return out.split()


def tables(server: dict[str, str], name: str) -> int:
    return int(subprocess.run(
        ["psql", "-Atq", "-d", name, "-c", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"],
        capture_output=True, text=True, env=server, check=True,
    ).stdout)


def test_a_restore_goes_through_a_new_database_and_keeps_the_previous_one(tmp_path, server) -> None:
    dump, key = backup(tmp_path, server)
    first = restore(server, key, dump)
    assert first.returncode == 0, first.stderr
    assert databases(server) == [server["TARGET"]]
    assert tables(server, server["TARGET"]) > 5
    second = restore(server, key, dump)
    assert second.returncode == 0, second.stderr
    names = databases(server)
    assert server["TARGET"] in names and len(names) == 2
    assert any("_before_restore_" in name for name in names)


def test_an_unreadable_dump_changes_nothing(tmp_path, server) -> None:
    dump, key = backup(tmp_path, server)
    assert restore(server, key, dump).returncode == 0
    truncated = tmp_path / "truncated.dump.gpg"
    truncated.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    garbage = tmp_path / "garbage.dump.gpg"
    subprocess.run(
        ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase-file", str(key), "--symmetric", "-o", str(garbage)],
        input=b"not a dump", check=True, env={**os.environ, "GNUPGHOME": str(tmp_path)},
    )
    for bad, why in ((truncated, "does not decrypt"), (garbage, "not a dump pg_restore can read")):
        result = restore(server, key, bad)
        assert result.returncode == 1 and why in result.stderr and "nothing changed" in result.stderr
        assert databases(server) == [server["TARGET"]]
        assert tables(server, server["TARGET"]) > 5


def test_a_database_in_use_is_not_swapped(tmp_path, server) -> None:
    dump, key = backup(tmp_path, server)
    assert restore(server, key, dump).returncode == 0
    connection = psycopg2.connect(host=server["PGHOST"], port=server["PGPORT"], user=server["PGUSER"], dbname=server["TARGET"])
    try:
        result = restore(server, key, dump)
    finally:
        connection.close()
    assert result.returncode == 1 and "stop reconnect-pbx.service" in result.stderr
    assert databases(server) == [server["TARGET"]]
