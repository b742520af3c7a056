"""deploy/install's values file: the example is complete, and a wrong value is named in one line."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

from reconnect_pbx import installer

EXAMPLE = Path(installer.__file__).resolve().parents[1] / "deploy/site.example.toml"


def filled(**replacements: str) -> str:
    text = EXAMPLE.read_text().replace('password = "change-me"', 'password = "a-real-long-password"')
    for pattern, value in replacements.items():
        text, count = re.subn(pattern, value, text, count=1, flags=re.M)
        assert count == 1, pattern
    return text


def test_the_example_is_refused_until_the_trunk_password_is_set() -> None:
    with pytest.raises(installer.SiteError, match="trunk.password is still the example's placeholder"):
        installer.parse_site(EXAMPLE.read_text())
    site = installer.parse_site(filled())
    assert site.trunk_match == ("198.51.100.0/28",) and site.asterisk_root == "/srv/asterisk-root"
    assert not site.firewall and site.database_port == 5432


@pytest.mark.parametrize(
    ("pattern", "value", "message"),
    [
        (r"^public_address = .*$", 'public_address = "sip.example.org"', "sip.public_address = 'sip.example.org' is not an IP address"),
        (r"^port = .*$", "port = 70000", "sip.port = 70000 is not a port"),
        (r"^rtp_end = .*$", "rtp_end = 9000", "sip.rtp_start (10000) must be below sip.rtp_end (9000)"),
        (r"^server = .*$", 'server = "a;b"', "trunk.server = 'a;b': empty, or holds ';'"),
        (r"^match = .*$", 'match = ["carrier"]', "trunk.match = 'carrier' is not an IP address or network"),
        (r"^selftest_number = .*$", 'selftest_number = "0970009999"', "must differ"),
        (r"^firewall = .*$", 'firewall = "yes"', "options.firewall must be a bool"),
        (r"^\[options\]$", "[option]", "unknown section [option]"),
        (r"^range = .*$", 'range = ["0970000000"]', "numbers.range is [first, last]"),
    ],
)
def test_a_wrong_value_is_named(pattern: str, value: str, message: str) -> None:
    with pytest.raises(installer.SiteError) as raised:
        installer.parse_site(filled(**{pattern: value}))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_installer_imports_only_the_standard_library_and_the_chroot_helpers() -> None:
    """It runs with the system's python3, before the virtualenv exists."""
    tree = ast.parse(Path(installer.__file__).read_text())
    names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert names - {"reconnect_pbx", "__future__"} <= set(sys.stdlib_module_names)


def test_the_sites_own_settings_are_checked_by_the_applications_rules() -> None:
    site = installer.parse_site(filled() + "\n[settings.retention]\naudit_retention_days = 400\n[settings.pin]\nlength = 6\n")
    assert site.settings == {"retention": {"audit_retention_days": 400}, "pin": {"length": 6}}
    for extra, message in [
        ("[settings.pin]\nlength = 3\n", "pin.length"),
        ("[settings.pin]\ncolour = 1\n", "unknown setting pin.colour"),
        ("[settings.nope]\nx = 1\n", "unknown section [nope]"),
        ("[settings.pin]\npepper_file = '/tmp/p'\n", "settings.pin.pepper_file is written by the installer"),
        ("[settings.database]\nurl = 'postgresql://x'\n", "settings.database.url is written by the installer"),
        ("[settings]\nretention = 3\n", "[settings] holds tables only"),
    ]:
        with pytest.raises(installer.SiteError) as raised:
            installer.parse_site(filled() + "\n" + extra)
        assert message in str(raised.value) and "\n" not in str(raised.value), extra


def test_settings_are_written_as_toml_that_reads_back() -> None:
    sections = {"retention": {"audit_retention_days": 400}, "web": {"base_url": 'https://a.example/"q"', "trusted_proxies": 1},
                "x": {"flag": True, "ratio": 0.5, "hours": [8, 21]}, "empty": {}}
    assert tomllib.loads(installer.render_settings(sections)) == {k: v for k, v in sections.items() if v}
