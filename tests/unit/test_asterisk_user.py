"""The chroot's asterisk user gets ids no host user has, and doctor says when it shares one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconnect_pbx import asterisk_user
from reconnect_pbx.config import load_settings
from reconnect_pbx.doctor import FAIL, OK, SKIP, check_asterisk_user, chroot_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing file owners needs root")

HOST_PASSWD = "root:x:0:0:root:/root:/bin/bash\nmessagebus:x:100:102::/nonexistent:/usr/sbin/nologin\npostgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n"
HOST_GROUP = "root:x:0:\n_ssh:x:101:\nmessagebus:x:102:\npostgres:x:104:\n"
CHROOT_PASSWD = "root:x:0:0:root:/root:/bin/bash\nasterisk:x:101:101:Asterisk PBX daemon:/var/lib/asterisk:/usr/sbin/nologin\n"
CHROOT_GROUP = "root:x:0:\ndialout:x:20:asterisk\nasterisk:x:101:\n"


def fake_host(tmp_path: Path) -> tuple[Path, Path]:
    """A host /etc where uid 101 is postgres (gid 101 _ssh), and a fresh chroot whose asterisk is 101."""
    host_etc = tmp_path / "host-etc"
    host_etc.mkdir()
    (host_etc / "passwd").write_text(HOST_PASSWD)
    (host_etc / "group").write_text(HOST_GROUP)
    root = tmp_path / "root"
    for sub in ("etc", "var/lib/asterisk/keys", "var/spool/asterisk/recording", "srv/reconnect-pbx/x"):
        (root / sub).mkdir(parents=True)
    (root / "etc/passwd").write_text(CHROOT_PASSWD)
    (root / "etc/group").write_text(CHROOT_GROUP)
    (root / "var/lib/asterisk/astdb.sqlite3").write_text("")
    for path in (root / "var/lib/asterisk", root / "var/lib/asterisk/keys", root / "var/lib/asterisk/astdb.sqlite3",
                 root / "var/spool/asterisk/recording"):
        os.chown(path, 101, 101)
    os.chown(root / "srv/reconnect-pbx/x", 101, 101)  # an instance dir: not the package's
    return root, host_etc


def settings_for(root: Path):
    return load_settings(None, environ={"RECONNECT_CONFIG": "/dev/null", "RECONNECT_ASTERISK_CLI_COMMAND": f"chroot {root} asterisk"})


def test_a_chroot_asterisk_with_a_host_users_uid_is_found(tmp_path: Path) -> None:
    root, host_etc = fake_host(tmp_path)
    assert [str(c) for c in asterisk_user.clashes(root, host_etc)] == [
        "uid 101 is the host's user postgres",
        "gid 101 is the host's group _ssh",
    ]
    result = check_asterisk_user(settings_for(root), host_etc)
    assert result.status == FAIL
    assert "postgres" in result.detail and "\n" not in result.detail


def test_the_install_gives_the_chroot_asterisk_ids_of_its_own_and_its_files_follow(tmp_path: Path) -> None:
    root, host_etc = fake_host(tmp_path)
    new_id = asterisk_user.give_own_ids(root, host_etc)
    assert new_id == asterisk_user.OWN_ID_START
    assert asterisk_user.asterisk_ids(root) == (new_id, new_id)
    assert "asterisk:x:960:960:Asterisk PBX daemon:/var/lib/asterisk:/usr/sbin/nologin\n" in (root / "etc/passwd").read_text()
    assert "dialout:x:20:asterisk\n" in (root / "etc/group").read_text()
    for path in ("var/lib/asterisk", "var/lib/asterisk/keys", "var/lib/asterisk/astdb.sqlite3", "var/spool/asterisk/recording"):
        stat = (root / path).stat()
        assert (stat.st_uid, stat.st_gid) == (new_id, new_id), path
    assert (root / "srv/reconnect-pbx/x").stat().st_uid == 101
    assert asterisk_user.clashes(root, host_etc) == []
    assert check_asterisk_user(settings_for(root), host_etc).status == OK
    # Idempotent: nothing to do the second time.
    assert asterisk_user.give_own_ids(root, host_etc) is None


def test_ids_already_free_on_the_host_are_kept(tmp_path: Path) -> None:
    root, host_etc = fake_host(tmp_path)
    (host_etc / "passwd").write_text(HOST_PASSWD.replace(":101:", ":111:"))
    (host_etc / "group").write_text(HOST_GROUP.replace(":101:", ":111:"))
    assert asterisk_user.give_own_ids(root, host_etc) is None
    assert asterisk_user.asterisk_ids(root) == (101, 101)


@pytest.mark.parametrize(
    ("command", "root"),
    [("chroot /srv/asterisk-root asterisk", "/srv/asterisk-root"),
     ("/usr/sbin/chroot /var/cache/x /usr/sbin/asterisk -C /srv/a.conf", "/var/cache/x"),
     ("asterisk", None), ("", None), ("chroot --userspec=1:1 /srv/r asterisk", None)],
)
def test_the_chroot_is_read_from_the_cli_command(command: str, root: str | None) -> None:
    assert chroot_of(command) == (Path(root) if root else None)


def test_an_asterisk_installed_on_the_host_is_not_checked(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"RECONNECT_CONFIG": "/dev/null", "RECONNECT_ASTERISK_CLI_COMMAND": "asterisk"})
    assert check_asterisk_user(settings).status == SKIP
