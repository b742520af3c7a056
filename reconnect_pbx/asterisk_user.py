"""The ``asterisk`` user of an Asterisk chroot must not share its uid or gid with a host user.

Debian's asterisk package creates its user with the first free system id of the chroot: 101 in a
fresh debootstrap, which is ``postgres`` (or another daemon) on many hosts. The kernel knows only
numbers: Asterisk's files would then belong to that host user, and a process of either could read
and write the other's files (recordings, the database's). The chroot's user and group get an id
of their own, free both in the chroot and on the host (``give_own_ids``, run by the sandbox when
it builds or reuses its chroot; ``docs/deploy.md`` for a production chroot), and ``doctor`` checks
it (``clashes``).

Only the files' text is read (``/etc/passwd`` and ``/etc/group`` of each side), never NSS: the
host's users are those of its own files, the chroot's those of the chroot's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

USER = "asterisk"
# The id given when 101 (or whatever the package took) clashes: the highest free one from here
# down, in the range of system ids (100-999) that Debian's adduser leaves to packages' users.
OWN_ID_START = 960
SYSTEM_ID_MIN = 100
# Never walked when files change owner: the sandbox's instance dirs (root's) and kernel mounts.
SKIPPED_DIRS = ("proc", "sys", "dev", "srv/reconnect-pbx")


@dataclass(frozen=True)
class Clash:
    kind: str  # "uid" or "gid"
    id: int
    host_name: str

    def __str__(self) -> str:
        what = "user" if self.kind == "uid" else "group"
        return f"{self.kind} {self.id} is the host's {what} {self.host_name}"


def read_ids(path: Path) -> dict[str, int]:
    """name -> id of a passwd or group file (the third field); {} when the file is missing."""
    ids: dict[str, int] = {}
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ids
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit() and not line.startswith("#"):
            ids.setdefault(fields[0], int(fields[2]))
    return ids


def asterisk_ids(root: Path) -> tuple[int, int] | None:
    """(uid, gid) of the chroot's asterisk user and group; None when it has none."""
    uid = read_ids(root / "etc/passwd").get(USER)
    gid = read_ids(root / "etc/group").get(USER)
    return None if uid is None or gid is None else (uid, gid)


def clashes(root: Path, host_etc: Path = Path("/etc")) -> list[Clash]:
    """The host users and groups (other than the host's own ``asterisk``) with the chroot's ids."""
    ids = asterisk_ids(root)
    if ids is None:
        return []
    found = []
    for kind, own_id, table in (("uid", ids[0], "passwd"), ("gid", ids[1], "group")):
        for name, host_id in read_ids(host_etc / table).items():
            if host_id == own_id and name != USER:
                found.append(Clash(kind, own_id, name))
                break
    return found


def give_own_ids(root: Path, host_etc: Path = Path("/etc")) -> int | None:
    """Give the chroot's asterisk user and group one id that nobody else has, here or on the host,
    when theirs clash; its files follow. Returns the new id, None when nothing needed a change.
    Idempotent. Asterisk must not run as that user meanwhile (the sandbox runs it as root)."""
    if not clashes(root, host_etc):
        return None
    old_uid, old_gid = asterisk_ids(root)  # type: ignore[misc]  (clashes found it)
    taken = set()
    for base in (root / "etc", host_etc):
        for table in ("passwd", "group"):
            taken |= set(read_ids(base / table).values())
    new_id = next((i for i in range(OWN_ID_START, SYSTEM_ID_MIN - 1, -1) if i not in taken), None)
    if new_id is None:
        raise RuntimeError(f"no free system id for the {USER} user of {root}")
    _set_id(root / "etc/passwd", USER, {2: new_id, 3: new_id})
    _set_id(root / "etc/group", USER, {2: new_id})
    _chown_tree(root, old_uid, old_gid, new_id)
    return new_id


def _set_id(path: Path, name: str, fields_to_set: dict[int, int]) -> None:
    lines = path.read_text().splitlines(keepends=True)
    for number, line in enumerate(lines):
        fields = line.rstrip("\n").split(":")
        if fields[0] == name:
            for index, value in fields_to_set.items():
                fields[index] = str(value)
            lines[number] = ":".join(fields) + "\n"
    stat = path.stat()
    temporary = path.with_name(path.name + ".reconnect-pbx")
    temporary.write_text("".join(lines))
    os.chmod(temporary, stat.st_mode & 0o7777)
    os.chown(temporary, stat.st_uid, stat.st_gid)
    os.replace(temporary, path)


def _chown_tree(root: Path, old_uid: int, old_gid: int, new_id: int) -> None:
    device = root.stat().st_dev
    skipped = {root / d for d in SKIPPED_DIRS}
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        subdirs[:] = [d for d in subdirs if here / d not in skipped and (here / d).lstat().st_dev == device]
        for name in [".", *files, *subdirs] if here == root else [*files, *subdirs]:
            path = here / name
            stat = path.lstat()
            uid = new_id if stat.st_uid == old_uid else -1
            gid = new_id if stat.st_gid == old_gid else -1
            if uid != -1 or gid != -1:
                os.lchown(path, uid, gid)
