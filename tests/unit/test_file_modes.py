"""doctor's "file modes" check: each settings file readable by its own user only, the PIN pepper by
the services' group, the settings folder writable by root only (docs/deploy.md's layout).

Real files with real owners (the tests run as root): ``nobody`` and ``daemon`` stand for the
service users, ``nogroup`` for their group."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import pytest

from reconnect_pbx import doctor, file_modes
from reconnect_pbx.file_modes import FileRule

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="gives files to other users: needs root")

RULES = (
    FileRule("reconnect-pbx.conf", "root", 0o600),
    FileRule("serve.conf", "nobody", 0o600),
    FileRule("web.conf", "daemon", 0o600),
    FileRule("pin-pepper", "root", 0o640, group="nogroup"),
)


def _file(folder: Path, name: str, owner: str = "root", mode: int = 0o600, group: str = "root") -> Path:
    path = folder / name
    path.write_text("# settings\n")
    os.chown(path, pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)
    path.chmod(mode)
    return path


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """The layout of docs/deploy.md, right."""
    folder = tmp_path / "etc"
    folder.mkdir(mode=0o755)
    _file(folder, "reconnect-pbx.conf")
    _file(folder, "serve.conf", "nobody")
    _file(folder, "web.conf", "daemon")
    _file(folder, "pin-pepper", mode=0o640, group="nogroup")
    return folder


def test_the_deploy_guide_s_layout_passes(layout: Path) -> None:
    wrong, checked = file_modes.problems(layout / "reconnect-pbx.conf", RULES)
    assert wrong == []
    assert checked == ["reconnect-pbx.conf root 0600", "serve.conf nobody 0600", "web.conf daemon 0600", "pin-pepper root 0640"]


@pytest.mark.parametrize(
    "name,owner,mode,group,said",
    [
        ("serve.conf", "nobody", 0o640, "root", "serve.conf is 0640, more than 0600: chown nobody"),
        ("serve.conf", "root", 0o600, "root", "serve.conf belongs to root, not nobody"),
        ("web.conf", "daemon", 0o604, "root", "web.conf is 0604, more than 0600"),
        ("reconnect-pbx.conf", "nobody", 0o600, "root", "reconnect-pbx.conf belongs to nobody, not root"),
        ("pin-pepper", "root", 0o640, "root", "pin-pepper is readable by group root, not nogroup"),
        ("pin-pepper", "root", 0o644, "nogroup", "pin-pepper is 0644, more than 0640"),
    ],
)
def test_a_file_readable_beyond_its_owner_or_owned_by_another_fails_with_the_fix(layout: Path, name, owner, mode, group, said) -> None:  # type: ignore[no-untyped-def]
    _file(layout, name, owner, mode, group)
    wrong, _checked = file_modes.problems(layout / "reconnect-pbx.conf", RULES)
    assert len(wrong) == 1 and said in wrong[0], wrong


def test_a_settings_file_of_another_name_must_not_be_readable_by_everybody(layout: Path) -> None:
    config = _file(layout, "elsewhere.conf", mode=0o644)
    wrong, _checked = file_modes.problems(config, RULES)
    assert wrong == [f"{config} is 0644, readable by every user: chmod o= {config}"]
    config.chmod(0o640)
    assert file_modes.problems(config, RULES)[0] == []


def test_a_settings_folder_others_may_write_fails(layout: Path) -> None:
    layout.chmod(0o775)
    wrong, _checked = file_modes.problems(layout / "reconnect-pbx.conf", RULES)
    assert wrong == [f"{layout} must be root's and writable by root only (chown root: ; chmod go-w)"]


def test_doctor_says_which_file_is_wrong_and_skips_without_a_settings_file(layout: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(file_modes, "RULES", RULES)
    assert doctor.check_file_modes(layout / "reconnect-pbx.conf").status == doctor.OK
    _file(layout, "web.conf", "daemon", 0o644)
    result = doctor.check_file_modes(layout / "reconnect-pbx.conf")
    assert result.status == doctor.FAIL and "web.conf is 0644" in result.detail
    assert doctor.check_file_modes(Path(os.devnull)).status == doctor.SKIP
    assert doctor.check_file_modes(None).status == doctor.SKIP
