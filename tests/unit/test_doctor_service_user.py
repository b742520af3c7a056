"""doctor's "service user" check: serve's user reads its config and the pepper, and has ids of its own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconnect_pbx import doctor
from reconnect_pbx.config import Settings, PinSettings, AsteriskSettings

UID = 54321


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A folder every user may enter (pytest's own sit in root's 0700 folder)."""
    path = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="doctor-service-user-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def host(tmp_path: Path, extra_users: str = "") -> Path:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text(f"root:x:0:0::/root:/bin/sh\nreconnect-pbx:x:{UID}:{UID}::/nonexistent:/usr/sbin/nologin\n{extra_users}")
    (etc / "group").write_text(f"root:x:0:\nreconnect-pbx:x:{UID}:\n")
    return etc


def settings_with(tmp_path: Path, folder_mode: int, file_group: int) -> tuple[Settings, Path]:
    folder = tmp_path / "conf"
    folder.mkdir()
    config, pepper = folder / "reconnect-pbx.conf", folder / "pin-pepper"
    for path in (config, pepper):
        path.write_text("x")
        os.chown(path, 0, file_group)
        path.chmod(0o640)
    os.chown(folder, 0, UID)
    folder.chmod(folder_mode)
    return Settings(pin=PinSettings(pepper_file=str(pepper)), asterisk=AsteriskSettings(cli_command="")), config


def test_the_check_passes_when_the_service_user_reads_its_files(tmp_path: Path) -> None:
    settings, config = settings_with(tmp_path, 0o750, UID)
    result = doctor.check_service_user(settings, config, host(tmp_path))
    assert result.status == doctor.OK, result.detail


def test_a_config_folder_re_moded_0700_fails(tmp_path: Path) -> None:
    settings, config = settings_with(tmp_path, 0o700, UID)
    result = doctor.check_service_user(settings, config, host(tmp_path))
    assert result.status == doctor.FAIL and "cannot read" in result.detail


def test_a_file_left_root_root_0640_fails(tmp_path: Path) -> None:
    settings, config = settings_with(tmp_path, 0o750, 0)
    result = doctor.check_service_user(settings, config, host(tmp_path))
    assert result.status == doctor.FAIL and str(config) in result.detail


def test_another_user_with_the_same_uid_fails(tmp_path: Path) -> None:
    settings, config = settings_with(tmp_path, 0o750, UID)
    result = doctor.check_service_user(settings, config, host(tmp_path, f"someone:x:{UID}:100::/:/bin/sh\n"))
    assert result.status == doctor.FAIL and f"uid {UID} is also someone's" in result.detail


def test_without_the_service_user_the_check_is_skipped(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\n")
    assert doctor.check_service_user(Settings(), tmp_path / "none.conf", etc).status == doctor.SKIP


WEB_UID = UID + 1


def test_serve_reads_serve_conf_and_the_web_user_web_conf_not_the_operators_file(tmp_path: Path) -> None:
    settings, operators = settings_with(tmp_path, 0o750, UID)
    os.chown(operators, 0, 0)
    operators.chmod(0o600)  # root's only, as deploy/install leaves it
    serve_file, web_file = operators.parent / "serve.conf", operators.parent / "web.conf"
    for path, uid in ((serve_file, UID), (web_file, WEB_UID)):
        path.write_text("x")
        os.chown(path, uid, uid)
        path.chmod(0o600)
    etc = host(tmp_path, f"reconnect-pbx-web:x:{WEB_UID}:{WEB_UID}::/nonexistent:/usr/sbin/nologin\n")
    (etc / "group").write_text(f"root:x:0:\nreconnect-pbx:x:{UID}:reconnect-pbx-web\nreconnect-pbx-web:x:{WEB_UID}:\n")
    assert doctor.service_settings_file(operators) == serve_file
    result = doctor.check_service_user(settings, doctor.service_settings_file(operators), etc)
    assert result.status == doctor.OK, result.detail
    os.chown(web_file, 0, 0)
    result = doctor.check_service_user(settings, doctor.service_settings_file(operators), etc)
    assert result.status == doctor.FAIL and f"reconnect-pbx-web cannot read {web_file}" in result.detail
