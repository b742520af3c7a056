"""Placeholders in the Asterisk config files: ``{{NAME}}``.

Only addresses, ports and secrets are placeholders: the files in
``asterisk-conf/`` are what a sysadmin installs once rendered. ``{{`` never
appears in Asterisk config or dialplan syntax (``${VAR}``, ``$[expr]``), so the
two cannot be confused.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Iterable, Mapping

PLACEHOLDER = re.compile(r"\{\{([A-Z][A-Z0-9_]*)\}\}")
# Placeholders a file holds as a crypt(3) hash of the value, never the value itself (ari.conf:
# password_format = crypt). deploy/install-asterisk-config.sh does the same.
CRYPTED: dict[str, frozenset[str]] = {"ari.conf": frozenset({"ARI_PASSWORD"})}


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


def crypt_password(plain: str) -> str:
    """A SHA-512 crypt of ``plain`` (``$6$rounds=1000$salt$hash``), as Asterisk's
    ``password_format = crypt`` checks it. openssl rather than Python's ``crypt`` module, removed
    in Python 3.13. 1000 rounds, the least allowed: Asterisk crypts the password of every ARI
    request again, and our passwords are random."""
    salt = f"rounds=1000${secrets.token_hex(8)}"
    try:
        result = subprocess.run(
            ["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
            input=plain + "\n",
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise TemplateError(f"cannot crypt a password with openssl: {exc}") from None
    return result.stdout.strip()


def values_for(name: str, values: Mapping[str, object]) -> dict[str, object]:
    """The values to render the file ``name`` with: crypted where that file wants a hash."""
    crypted = CRYPTED.get(name, frozenset()) & values.keys()
    return {**values, **{key: crypt_password(str(values[key])) for key in crypted}}


def check_all_used(texts: Iterable[str], values: Mapping[str, object]) -> None:
    """A value that no file uses is a typo in a key name: refuse it."""
    used: set[str] = set()
    for text in texts:
        used |= placeholders(text)
    unknown = sorted(values.keys() - used)
    if unknown:
        raise TemplateError(f"no placeholder named {', '.join(unknown)}")
