"""The sandbox's install of the shipped prompt sets leaves the association's own sets alone."""

from __future__ import annotations

from pathlib import Path

from reconnect_pbx.sandbox.chroot import AsteriskRoot
from reconnect_pbx.sandbox.instance import SOUNDS_DIR, SOUNDS_STAMP, SOUNDS_TARGET, install_sounds


def test_reinstalling_the_shipped_sets_keeps_a_set_made_by_prompts_import(tmp_path: Path) -> None:
    root = AsteriskRoot(tmp_path)
    target = root.host_path(SOUNDS_TARGET)
    (target / "association" / "fr").mkdir(parents=True)
    (target / "association" / "fr" / "goodbye.wav").write_bytes(b"the association's voice")
    (target / "std" / "fr").mkdir(parents=True)
    (target / "std" / "fr" / "left-over.wav").write_bytes(b"a prompt that left the catalogue")

    assert install_sounds(root) == target

    assert (target / "association" / "fr" / "goodbye.wav").read_bytes() == b"the association's voice"
    assert sorted(p.name for p in target.iterdir()) == ["association", "short", "std"]
    for set_name, source in (("std", SOUNDS_DIR), ("short", SOUNDS_DIR / "short")):
        for language in ("fr", "en"):
            shipped = sorted(p.name for p in (source / language).glob("*.wav"))
            assert sorted(p.name for p in (target / set_name / language).iterdir()) == shipped


def test_a_set_already_installed_is_left_in_place_and_a_changed_one_is_replaced(tmp_path: Path) -> None:
    # Parallel test workers start sandboxes while others play prompts: an identical set is not swapped.
    root = AsteriskRoot(tmp_path)
    target = install_sounds(root)
    std = target / "std"
    inode = std.stat().st_ino
    install_sounds(root)
    assert std.stat().st_ino == inode
    # A file changed in place (another checkout's prompts, then this one's again): replaced whole.
    some_prompt = next((std / "fr").glob("*.wav"))
    some_prompt.write_bytes(b"another checkout's prompt")
    (std / SOUNDS_STAMP).write_text("another checkout's digest")
    install_sounds(root)
    assert (target / "std" / "fr" / some_prompt.name).read_bytes() == (SOUNDS_DIR / "fr" / some_prompt.name).read_bytes()
