"""``reconnect-pbx doctor`` against the real sandbox: all green when healthy, one failure per fault.

Each fault is injected without touching what other tests rely on: a wrong password in the
doctor's own settings, the application stopped (the next test restarts it), a database without
schema of its own, a prompt set of its own with one file missing, the trunk unregistered and
registered again, a copy of the pbx's http.conf, an item put into the media cache and deleted.
"""

from __future__ import annotations

import functools
import http.server
import json
import secrets
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconnect_pbx import prompts
from reconnect_pbx.sandbox import Sandbox
from reconnect_pbx.sandbox.instance import SOUNDS_TARGET

from app_process import ACCESS_NUMBER, CLI, AppProcess

CHECKS = [
    "database", "pin pepper", "file modes", "access number", "ari", "stasis app", "prompts", "trunk", "asterisk user",
    "service user", "media cache", "listening",
]

# The sandbox runs serve as the developer, not as the service user deploy/install makes (its check
# runs in tests/e2e/test_install.py and tests/unit/test_doctor_service_user.py).
HEALTHY = {name: "skip" if name == "service user" else "ok" for name in CHECKS}


_settings_file: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def settings_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A settings file as an install leaves it (its own user's only); the settings themselves come
    from the environment, as for the application."""
    path = tmp_path_factory.mktemp("doctor-settings") / "reconnect-pbx.conf"
    path.write_text("")
    path.chmod(0o600)
    _settings_file[:] = [path]
    return path


def doctor_env(sandbox: Sandbox, app: AppProcess, **settings: str) -> dict[str, str]:
    """The application's own settings, plus where the doctor finds the pbx's CLI and config."""
    pbx = sandbox.pbx
    env = {
        **app.env,
        "RECONNECT_CONFIG": str(_settings_file[0]),
        "RECONNECT_ASTERISK_CLI_COMMAND": shlex.join(pbx.root.command("-C", pbx.conf_file)),
        "RECONNECT_ASTERISK_CONFIG_DIR": str(pbx.host_dir / "etc"),
    }
    env.update({f"RECONNECT_{key.upper()}": value for key, value in settings.items()})
    return env


def run_doctor(env: dict[str, str]) -> tuple[int, dict[str, tuple[str, str]]]:
    result = subprocess.run([CLI, "doctor", "--json"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert not result.stderr, result.stderr
    checks = {entry["check"]: (entry["status"], entry["detail"]) for entry in json.loads(result.stdout)}
    assert list(checks) == CHECKS
    return result.returncode, checks


def statuses(checks: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {name: status for name, (status, _) in checks.items()}


def only_failure(checks: dict[str, tuple[str, str]], name: str, **others: str) -> dict[str, str]:
    """What the statuses should be: ``name`` failed, ``others`` as given, every other check ok."""
    return {check: "FAIL" if check == name else others.get(check.replace(" ", "_"), HEALTHY[check]) for check in checks}


def test_doctor_passes_every_check_on_a_healthy_installation(sandbox: Sandbox, running_app: AppProcess) -> None:
    code, checks = run_doctor(doctor_env(sandbox, running_app))
    assert statuses(checks) == HEALTHY, checks
    assert code == 0
    assert "Registered" in checks["trunk"][1]
    assert checks["access number"][1] == f"{ACCESS_NUMBER} is assigned to nobody"


def test_the_text_output_has_one_line_per_check(sandbox: Sandbox, running_app: AppProcess) -> None:
    env = doctor_env(sandbox, running_app)
    result = subprocess.run([CLI, "doctor"], env=env, capture_output=True, text=True, timeout=60, check=False)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout
    assert [line.split()[0] for line in lines] == list(HEALTHY.values())
    assert all(name in line for name, line in zip(CHECKS, lines))


def test_doctor_fails_on_a_wrong_ari_password(sandbox: Sandbox, running_app: AppProcess) -> None:
    code, checks = run_doctor(doctor_env(sandbox, running_app, ari_password="not-the-password"))
    assert code == 1
    assert statuses(checks) == only_failure(checks, "ari", stasis_app="skip", prompts="skip")
    assert "refused user 'reconnect'" in checks["ari"][1]
    assert "not-the-password" not in json.dumps(checks)


def test_doctor_fails_when_the_application_is_not_running(sandbox: Sandbox, app_process: AppProcess) -> None:
    app_process.stop()  # the next test that needs it starts it again
    code, checks = run_doctor(doctor_env(sandbox, app_process))
    assert code == 1
    assert statuses(checks) == only_failure(checks, "stasis app")
    assert "serve" in checks["stasis app"][1]


def test_doctor_fails_on_a_database_without_schema(
    sandbox: Sandbox, running_app: AppProcess, empty_database_url: str
) -> None:
    code, checks = run_doctor(doctor_env(sandbox, running_app, database_url=empty_database_url))
    assert code == 1
    assert statuses(checks) == only_failure(checks, "database", access_number="skip")
    assert "db upgrade" in checks["database"][1]


def test_doctor_fails_when_the_access_number_is_a_persons_number(
    sandbox: Sandbox, running_app: AppProcess, enrol
) -> None:
    # As if the access number had been configured after the person was given it.
    person = enrol()
    code, checks = run_doctor(doctor_env(sandbox, running_app, access_access_number=person.number))
    assert code == 1
    assert statuses(checks) == only_failure(checks, "access number")
    assert checks["access number"][1].startswith(f"{person.number} (person {person.id}): the access number is assigned")


@pytest.fixture
def prompt_set_missing_one(sandbox: Sandbox) -> Iterator[tuple[str, str]]:
    """A prompt set of this test's own, a copy of "short" without one French prompt."""
    sounds = sandbox.pbx.root.host_path(SOUNDS_TARGET)
    name = f"doctor-{secrets.token_hex(3)}"
    missing = "goodbye"
    shutil.copytree(sounds / "short", sounds / name)
    (sounds / name / "fr" / f"{missing}.wav").unlink()
    try:
        yield name, missing
    finally:
        shutil.rmtree(sounds / name, ignore_errors=True)


def test_doctor_fails_when_a_prompt_file_is_missing(
    sandbox: Sandbox, running_app: AppProcess, prompt_set_missing_one: tuple[str, str]
) -> None:
    prompt_set, missing = prompt_set_missing_one
    code, checks = run_doctor(doctor_env(sandbox, running_app, voicemail_prompt_set=prompt_set))
    assert code == 1
    assert statuses(checks) == only_failure(checks, "prompts")
    total = len(prompts.CATALOGUE) * len(prompts.LANGUAGES)
    assert checks["prompts"][1].startswith(f"1 of {total} prompts missing")
    assert checks["prompts"][1].endswith(f": fr/{missing}")


def test_doctor_fails_when_the_trunk_is_not_registered(sandbox: Sandbox, running_app: AppProcess) -> None:
    pbx = sandbox.pbx
    pbx.rx("pjsip send unregister trunk")
    try:
        deadline = time.monotonic() + 10
        while pbx.registration_status() == "Registered" and time.monotonic() < deadline:
            time.sleep(0.05)
        code, checks = run_doctor(doctor_env(sandbox, running_app))
    finally:
        pbx.rx("pjsip send register trunk")
        sandbox.wait_registered(timeout=15)
    assert code == 1
    assert statuses(checks) == only_failure(checks, "trunk")
    assert "is Unregistered" in checks["trunk"][1]


def test_doctor_fails_when_ari_listens_beyond_loopback(
    sandbox: Sandbox, running_app: AppProcess, tmp_path: Path
) -> None:
    etc = sandbox.pbx.host_dir / "etc"
    for name in ("http.conf", "manager.conf"):
        shutil.copy(etc / name, tmp_path / name)
    http_conf = tmp_path / "http.conf"
    http_conf.write_text(http_conf.read_text().replace(f"bindaddr = {sandbox.pbx.address}", "bindaddr = 0.0.0.0"))
    code, checks = run_doctor(doctor_env(sandbox, running_app, asterisk_config_dir=str(tmp_path)))
    assert code == 1
    assert statuses(checks) == only_failure(checks, "listening")
    assert "ARI/HTTP listens on 0.0.0.0" in checks["listening"][1]


def test_doctor_fails_when_asterisk_s_media_cache_holds_audio_fetched_over_http(
    sandbox: Sandbox, running_app: AppProcess, tmp_path: Path
) -> None:
    # What an older version left: a message served over HTTP, fetched and kept by Asterisk.
    (tmp_path / "message.wav").write_bytes(b"RIFF-an-old-message")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pbx = sandbox.pbx
    name = f"bucket-doctor-{secrets.token_hex(4)}.wav"
    (pbx.host_dir / "cache" / name).write_bytes(b"")  # Asterisk fills the file it is given
    cached = f"{pbx.dir}/cache/{name}"
    uri = f"http://127.0.0.1:{server.server_address[1]}/message.wav"
    try:
        assert "Created" in pbx.rx(f"media cache create {uri} {cached}")
        code, checks = run_doctor(doctor_env(sandbox, running_app))
    finally:
        pbx.rx(f"media cache delete {uri}")
        server.shutdown()
        server.server_close()
    assert code == 1
    assert statuses(checks) == only_failure(checks, "media cache")
    assert checks["media cache"][1].startswith("1 audio file(s) fetched over HTTP left in Asterisk's media cache")
    assert "http" not in pbx.rx("media cache show all")
    assert not (pbx.host_dir / "cache" / name).exists()
