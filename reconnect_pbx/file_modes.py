"""Who may read the settings and secrets files: the layout of docs/deploy.md, checked by `doctor`.

Each process has its own settings file, readable by its own user only: the operators' (the
database owner's URL, for root's CLI and the purge), `serve`'s (the ARI password, the serve role's
URL) and the web application's (its secret key, the web role's URL). The PIN pepper is read by
both services through their shared group. A file of these names in the settings folder is checked
against its rule; the settings file in use, whatever its name, must at least not be readable by
everybody; the folder must not be writable by anyone but root.
"""

from __future__ import annotations

import grp
import pwd
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "reconnect-pbx"
WEB_USER = "reconnect-pbx-web"


@dataclass(frozen=True)
class FileRule:
    name: str
    owner: str
    # The most a file may allow (0o600: its owner reads and writes, nobody else anything).
    mode: int
    # The group it must belong to when its group may read it; None when the group gets nothing.
    group: str | None = None


RULES: tuple[FileRule, ...] = (
    FileRule("reconnect-pbx.conf", "root", 0o600),
    FileRule("serve.conf", SERVICE_USER, 0o600),
    FileRule("web.conf", WEB_USER, 0o600),
    FileRule("pin-pepper", "root", 0o640, group=SERVICE_USER),
    FileRule("backup.key", "root", 0o600),
    FileRule("asterisk.values", "root", 0o600),  # the ARI and trunk passwords in clear
)


def problems(config_file: Path, rules: Sequence[FileRule] | None = None) -> tuple[list[str], list[str]]:
    """(what is wrong, what was checked) for the settings file in use and its folder."""
    rules = RULES if rules is None else rules
    folder = config_file.parent
    wrong: list[str] = []
    checked: list[str] = []
    info = folder.stat()
    if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        wrong.append(f"{folder} must be root's and writable by root only (chown root: ; chmod go-w)")
    by_name = {rule.name: rule for rule in rules}
    if config_file.name not in by_name:
        mode = stat.S_IMODE(config_file.stat().st_mode)
        if mode & stat.S_IRWXO:
            wrong.append(f"{config_file} is {mode:04o}, readable by every user: chmod o= {config_file}")
        else:
            checked.append(f"{config_file.name} {mode:04o}")
    for rule in rules:
        path = folder / rule.name
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        found = _file_problem(path, info, rule)
        if found:
            wrong.append(found)
        else:
            checked.append(f"{rule.name} {_user(info.st_uid)} {stat.S_IMODE(info.st_mode):04o}")
    return wrong, checked


def _file_problem(path: Path, info: object, rule: FileRule) -> str | None:
    st_mode, st_uid, st_gid = info.st_mode, info.st_uid, info.st_gid  # type: ignore[attr-defined]
    mode = stat.S_IMODE(st_mode)
    expected_owner = f"{rule.owner}:{rule.group}" if rule.group else rule.owner
    fix = f"chown {expected_owner} {path} && chmod {rule.mode:o} {path}"
    if _user(st_uid) != rule.owner:
        return f"{path} belongs to {_user(st_uid)}, not {rule.owner}: {fix}"
    if rule.group is not None and mode & stat.S_IRWXG and _group(st_gid) != rule.group:
        return f"{path} is readable by group {_group(st_gid)}, not {rule.group}: {fix}"
    if mode & ~rule.mode:
        return f"{path} is {mode:04o}, more than {rule.mode:04o}: {fix}"
    return None


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"
