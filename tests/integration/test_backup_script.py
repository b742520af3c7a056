"""deploy/reconnect-pbx-backup: every artefact encrypted, every artefact rotated, secrets left out.

Runs the real script against the test database (pg_dump), with gpg."""

from __future__ import annotations

import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "reconnect-pbx-backup"
SPOKEN = b"voice-of-a-person-" * 64
PASSWORD = "ari-password-not-in-clear"
DAY = 24 * 3600


@pytest.fixture
def layout(tmp_path: Path, database_url: str) -> dict[str, Path | str]:
    spool = tmp_path / "spool" / "recording"
    (spool / "fallback").mkdir(parents=True)
    (spool / "fallback" / "message.wav").write_bytes(SPOKEN)
    etc = tmp_path / "etc" / "reconnect-pbx"
    etc.mkdir(parents=True)
    (etc / "reconnect-pbx.conf").write_text(f'[ari]\npassword = "{PASSWORD}"\n')
    (etc / "pin-pepper").write_text("p" * 64)
    key = etc / "backup.key"
    key.write_text("k" * 48)
    key.chmod(0o600)
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    return {"dest": tmp_path / "backups", "key": key, "spool": spool, "etc": etc, "database": url}


def run(layout: dict, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [str(SCRIPT), "--pg-user", ""]
    for name in ("dest", "key", "spool", "etc", "database"):
        args += [f"--{name}", str(layout[name])]
    return subprocess.run([*args, *extra], capture_output=True, text=True, timeout=120, check=False)


def decrypt(path: Path, key: Path, tmp_path: Path) -> bytes:
    home = tmp_path / "gnupg-reader"
    home.mkdir(mode=0o700, exist_ok=True)
    return subprocess.run(
        ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase-file", str(key), "-d", str(path)],
        capture_output=True, check=True, env={**os.environ, "GNUPGHOME": str(home)},
    ).stdout


def test_the_backup_writes_the_database_the_spool_and_the_settings_encrypted(layout, tmp_path) -> None:
    done = run(layout)
    assert done.returncode == 0, done.stderr
    made = sorted(p.name for p in layout["dest"].iterdir())
    assert [name.split("-")[0] for name in made] == ["etc", "reconnect_pbx", "spool"]
    assert all(name.endswith(".gpg") for name in made)
    for path in layout["dest"].iterdir():
        data = path.read_bytes()
        assert SPOKEN[:64] not in data and PASSWORD.encode() not in data and b"PGDMP" not in data
        assert path.stat().st_mode & 0o077 == 0

    dump = decrypt(next(layout["dest"].glob("reconnect_pbx-*")), layout["key"], tmp_path)
    listing = subprocess.run(["pg_restore", "--list"], input=dump, capture_output=True, check=True).stdout
    assert b"TABLE public messages" in listing
    spool = tmp_path / "spool.tar.gz"
    spool.write_bytes(decrypt(next(layout["dest"].glob("spool-*")), layout["key"], tmp_path))
    with tarfile.open(spool) as archive:
        assert archive.extractfile("recording/fallback/message.wav").read() == SPOKEN
    etc = tmp_path / "etc.tar.gz"
    etc.write_bytes(decrypt(next(layout["dest"].glob("etc-*")), layout["key"], tmp_path))
    with tarfile.open(etc) as archive:
        # The secrets that protect the backups and the PINs are never inside them.
        assert sorted(archive.getnames()) == ["reconnect-pbx", "reconnect-pbx/reconnect-pbx.conf"]


def test_every_kind_of_artefact_past_the_retention_is_deleted_and_the_rest_kept(layout) -> None:
    dest = layout["dest"]
    dest.mkdir(mode=0o700)
    old = [
        "reconnect_pbx-2026-01-01.dump.gpg", "spool-2026-01-01.tar.gz.gpg", "etc-2026-01-01.tar.gz.gpg",
        # Unencrypted, from the earlier procedure: they rotate too.
        "reconnect_pbx-2025-12-01.dump", "spool-2025-12-01.tar.gz", "etc-2025-12-01.tar.gz",
    ]
    recent = ["reconnect_pbx-2026-02-01.dump.gpg", "spool-2026-02-01.tar.gz.gpg", "etc-2026-02-01.tar.gz.gpg"]
    now = time.time()
    for name in old + recent:
        (dest / name).write_bytes(b"x")
        age = 11 if name in old else 9
        os.utime(dest / name, (now - age * DAY, now - age * DAY))
    (dest / "README").write_text("not ours")

    done = run(layout, "--keep-days", "10")

    assert done.returncode == 0, done.stderr
    left = {p.name for p in dest.iterdir()}
    assert not left & set(old)
    assert set(recent) | {"README"} <= left
    assert len(left) == len(recent) + 1 + 3  # and today's three
    assert sorted(line.split("/")[-1] for line in done.stdout.splitlines() if line.startswith("removed ")) == sorted(old)


@pytest.mark.parametrize(
    ("mode", "content", "message"),
    [(0o644, "k" * 48, "readable by others"), (0o600, "short", "too short"), (None, "", "no key file")],
)
def test_a_key_file_missing_short_or_readable_by_others_is_refused_and_nothing_is_written(
    layout, mode, content, message
) -> None:
    key: Path = layout["key"]
    if mode is None:
        key.unlink()
    else:
        key.write_text(content)
        key.chmod(mode)
    done = run(layout)
    assert done.returncode != 0
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not layout["dest"].exists()


def test_a_failed_dump_leaves_no_partial_artefact(layout) -> None:
    layout["database"] = "postgresql://nobody@127.0.0.1:1/none"
    done = run(layout)
    assert done.returncode != 0
    assert list(layout["dest"].iterdir()) == []
