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
