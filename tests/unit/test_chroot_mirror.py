"""The sandbox's chroot takes its Debian mirror from the host's apt sources."""

from pathlib import Path

import pytest

from reconnect_pbx.sandbox.chroot import ChrootError, host_debian_mirror


def test_the_mirror_is_read_from_a_deb822_sources_file(tmp_path: Path) -> None:
    folder = tmp_path / "sources.list.d"
    folder.mkdir()
    (folder / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
    )
    assert host_debian_mirror((tmp_path / "sources.list", folder)) == "http://mirror.example/debian"


def test_the_mirror_is_read_from_a_one_line_entry_with_options(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list"
    sources.write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://other.example/node nodistro main\n"
        "deb [ trusted=yes ] http://mirror.example/debian bookworm main\n"
    )
    assert host_debian_mirror((sources,)) == "http://mirror.example/debian"


def test_a_host_without_a_debian_archive_is_told_what_to_do(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list"
    sources.write_text("deb http://other.example/node nodistro main\n")
    with pytest.raises(ChrootError, match="apt sources"):
        host_debian_mirror((sources,))
