"""Placeholders in the Asterisk config files: ``{{NAME}}``.

Only addresses, ports and secrets are placeholders: the files in
``asterisk-conf/`` are what a sysadmin installs once rendered. ``{{`` never
appears in Asterisk config or dialplan syntax (``${VAR}``, ``$[expr]``), so the
two cannot be confused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

PLACEHOLDER = re.compile(r"\{\{([A-Z][A-Z0-9_]*)\}\}")


class TemplateError(ValueError):
    """A placeholder has no value, or a value matches no placeholder."""


def placeholders(text: str) -> set[str]:
    """The placeholder names used in ``text``."""
    return set(PLACEHOLDER.findall(text))


def render(text: str, values: Mapping[str, object], source: str = "<template>") -> str:
    """Replace every ``{{NAME}}`` in ``text``; a name without a value is an error."""
    missing = sorted(placeholders(text) - values.keys())
    if missing:
        raise TemplateError(f"{source}: no value for {', '.join(missing)}")
    rendered = PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)
    if "{{" in rendered or "}}" in rendered:
        raise TemplateError(f"{source}: malformed placeholder (use {{{{UPPER_CASE}}}})")
    return rendered


def check_all_used(texts: Iterable[str], values: Mapping[str, object]) -> None:
    """A value that no file uses is a typo in a key name: refuse it."""
    used: set[str] = set()
    for text in texts:
        used |= placeholders(text)
    unknown = sorted(values.keys() - used)
    if unknown:
        raise TemplateError(f"no placeholder named {', '.join(unknown)}")
