"""Settings: defaults < file < environment, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconnect_pbx.config import ConfigError, load_settings


def test_defaults_apply_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"RECONNECT_CONFIG": str(_empty(tmp_path))})
    assert settings.numbers.default_region == "FR"
    assert settings.numbers.allowed_regions == ("FR",)
    assert settings.numbers.quarantine_days == 90
    assert settings.pin.length == 6


def test_the_file_overrides_defaults_and_the_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "reconnect.conf"
    path.write_text('[numbers]\nquarantine_days = 30\nallowed_regions = ["FR", "BE"]\n[pin]\nlength = 8\n')
    settings = load_settings(path, environ={"RECONNECT_PIN_LENGTH": "5"})
    assert settings.numbers.quarantine_days == 30
    assert settings.numbers.allowed_regions == ("FR", "BE")
    assert settings.pin.length == 5


def test_environment_lists_are_comma_separated(tmp_path: Path) -> None:
    settings = load_settings(_empty(tmp_path), environ={"RECONNECT_NUMBERS_ALLOWED_REGIONS": "FR, BE"})
    assert settings.numbers.allowed_regions == ("FR", "BE")


def test_the_database_url_comes_from_the_environment(tmp_path: Path) -> None:
    url = "postgresql+psycopg2://u@db:5432/x"
    assert load_settings(_empty(tmp_path), environ={"RECONNECT_DATABASE_URL": url}).database.url == url


def test_test_suite_variables_are_ignored(tmp_path: Path) -> None:
    load_settings(_empty(tmp_path), environ={"RECONNECT_TEST_DATABASE_URL": "whatever"})


def test_the_sandbox_chroot_variable_is_not_a_setting(tmp_path: Path) -> None:
    # It reads like asterisk.chroot; with it set (a private chroot for tests), serve refused to start.
    settings = load_settings(_empty(tmp_path), environ={"RECONNECT_ASTERISK_CHROOT": "/srv/chroot"})
    assert not hasattr(settings.asterisk, "chroot")


def test_variables_that_name_no_section_are_not_settings_and_are_left_alone(tmp_path: Path) -> None:
    # The demo's own directory once made serve exit ("unknown environment variable").
    settings = load_settings(
        _empty(tmp_path), environ={"RECONNECT_DEMO_DIR": "/tmp/demo", "RECONNECT_NOPE_X": "1", "RECONNECT_PIN_LENGTH": "5"}
    )
    assert settings.pin.length == 5


@pytest.mark.parametrize(
    ("content", "environ", "message"),
    [
        ("[pin]\nlength = 3\n", {}, "at least 4"),
        ("", {"RECONNECT_PIN_LENGTH": "3"}, "at least 4"),
        ("[nope]\nx = 1\n", {}, "unknown section"),
        ("[pin]\ncolour = 1\n", {}, "unknown setting pin.colour"),
        ("[pin]\nlength = 'six'\n", {}, "pin.length"),
        ("", {"RECONNECT_PIN_LENGTH": "six"}, "pin.length"),
        ("", {"RECONNECT_PIN_COLOUR": "1"}, "unknown environment variable RECONNECT_PIN_COLOUR"),
        ("not toml [", {}, "not valid TOML"),
    ],
)
def test_bad_settings_are_refused_with_one_line(tmp_path: Path, content: str, environ: dict[str, str], message: str) -> None:
    path = tmp_path / "reconnect.conf"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as refused:
        load_settings(path, environ=environ)
    assert "\n" not in str(refused.value)


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.conf", environ={})


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.conf"
    path.write_text("")
    return path


def _numeric_settings() -> list[str]:
    import dataclasses
    import typing

    from reconnect_pbx.config import Settings

    keys = []
    for section in dataclasses.fields(Settings):
        section_type = typing.get_type_hints(Settings)[section.name]
        hints = typing.get_type_hints(section_type)
        keys += [f"{section.name}.{f.name}" for f in dataclasses.fields(section_type) if hints[f.name] in (int, float)]
    return keys


def test_every_numeric_setting_has_a_range_and_its_default_is_in_it() -> None:
    from reconnect_pbx.config import RANGES, Settings, check_ranges

    assert sorted(set(_numeric_settings()) - set(RANGES)) == []
    assert sorted(set(RANGES) - set(_numeric_settings())) == []
    check_ranges(Settings())


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RECONNECT_ACCESS_LOCK_MAX_MINUTES": "0"}, "access.lock_max_minutes = 0 is out of range: it must be from 1 to 1440"),
        ({"RECONNECT_ACCESS_LOCK_AFTER_FAILURES": "0"}, "access.lock_after_failures = 0 is out of range"),
        ({"RECONNECT_ACCESS_SUSPEND_AFTER_FAILURES": "1000"}, "access.suspend_after_failures = 1000 is out of range"),
        ({"RECONNECT_ACCESS_MAX_PIN_ATTEMPTS_PER_CALL": "0"}, "access.max_pin_attempts_per_call = 0"),
        ({"RECONNECT_ACCESS_BRAKE_FAILURES_SERVICE": "0"}, "access.brake_failures_service = 0"),
        ({"RECONNECT_ACCESS_ALERT_AFTER_FAILURES": "3"}, "lock_after_failures < access.alert_after_failures"),
        ({"RECONNECT_ACCESS_BRAKE_FAILURES_PER_CALLER": "500"}, "brake_failures_per_caller must not be above"),
        ({"RECONNECT_VOICEMAIL_MAILBOX_CAPACITY": "-1"}, "voicemail.mailbox_capacity = -1"),
        ({"RECONNECT_ARI_REQUEST_TIMEOUT_SECONDS": "0"}, "ari.request_timeout_seconds = 0 is out of range: it must be from 1 to 300"),
        ({"RECONNECT_NUMBERS_QUARANTINE_DAYS": "0"}, "numbers.quarantine_days = 0"),
        ({"RECONNECT_VOICEMAIL_PROMPT_SET": "../loud"}, "voicemail.prompt_set = '../loud' must be a folder name"),
        ({"RECONNECT_CALLBACK_MAX_CALL_SECONDS": "30", "RECONNECT_CALLBACK_WARNING_SECONDS": "60"}, "callback.warning_seconds must be below"),
    ],
)
def test_a_setting_that_would_disable_a_safeguard_is_refused_with_one_line(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_empty(tmp_path), environ=environ)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
