"""The web application's English catalogue covers every French source string of its code and
templates (a string added without its translation fails here, not in front of an English reader)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "reconnect_pbx" / "web"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def _catalogue():  # type: ignore[no-untyped-def]
    with (WEB / "translations/en/LC_MESSAGES/messages.po").open("rb") as stream:
        return read_po(stream, locale="en")


def test_every_french_string_of_the_web_application_has_an_english_translation() -> None:
    catalogue = _catalogue()
    missing = []
    extracted = 0
    for _filename, _line, message, _comments, _context in extract_from_dir(str(WEB), METHODS, keywords=KEYWORDS):
        key = message[0] if isinstance(message, tuple) else message
        extracted += 1
        found = catalogue.get(message if isinstance(message, str) else key)
        if found is None or not found.string or (isinstance(found.string, tuple) and not all(found.string)):
            missing.append(key)
    assert extracted > 100
    assert not missing, f"untranslated: {missing}"


def test_english_translations_keep_the_placeholders_of_the_french() -> None:
    import re

    for message in _catalogue():
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        target = message.string if isinstance(message.string, str) else message.string[0]
        assert sorted(re.findall(r"%\(\w+\)\w", source)) == sorted(re.findall(r"%\(\w+\)\w", target)), source
