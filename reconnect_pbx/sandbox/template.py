"""Placeholders in the Asterisk config files: ``{{NAME}}``.

Only addresses, ports and secrets are placeholders: the files in
``asterisk-conf/`` are what a sysadmin installs once rendered. ``{{`` never
appears in Asterisk config or dialplan syntax (``${VAR}``, ``$[expr]``), so the
two cannot be confused.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import secrets
import sys
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


# sha1crypt (NetBSD's: salted HMAC-SHA1, iterated) at 16 rounds. Asterisk checks the password of
# every ARI request against this hash, over HTTP and over the event websocket alike (measured:
# bench/ari_auth.py): SHA-512 crypt at its least 1000 rounds cost Asterisk 0.55 ms per request,
# 4 ms per deposit call; this costs it 0.01 ms. Rounds only slow down guessing a weak password,
# and the ARI password is random (`openssl rand -hex 24`, 192 bits; the installer refuses short
# ones), so nobody who reads ari.conf can find it either way (docs/deploy.md, "ARI_PASSWORD").
CRYPT_ROUNDS = 16
_CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# libxcrypt's struct crypt_data, the work area of crypt_rn().
_CRYPT_DATA_SIZE = 32768


def crypt_password(plain: str, made_before: str | None = None) -> str:
    """A crypt(3) hash of ``plain`` that Asterisk's ``password_format = crypt`` checks:
    ``$sha1$16$<salt>$<hash>``, made by the system's libcrypt (libxcrypt, which Asterisk uses too).
    Python's ``crypt`` module is gone in 3.13, and openssl makes no sha1crypt.

    With ``made_before`` (a hash made earlier), its salt and rounds: the result equals it exactly
    when ``plain`` is its password, so a re-install with the same password keeps the same file."""
    if made_before is None:
        salt = "".join(secrets.choice(_CRYPT_ALPHABET) for _ in range(20))
        setting = f"$sha1${CRYPT_ROUNDS}${salt}$".encode()
    else:
        setting = made_before.encode()
    try:
        libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    except OSError as exc:
        raise TemplateError(f"cannot crypt a password: no libcrypt ({exc})") from None
    crypt_rn = libcrypt.crypt_rn
    crypt_rn.restype = ctypes.c_char_p
    crypt_rn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    work = ctypes.create_string_buffer(_CRYPT_DATA_SIZE)
    hashed = crypt_rn(plain.encode(), setting, work, _CRYPT_DATA_SIZE)
    if not hashed or hashed.startswith(b"*") or (made_before is None and not hashed.startswith(setting[:-1])):
        raise TemplateError("cannot crypt a password: this libcrypt makes no sha1crypt")
    return hashed.decode()


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


if __name__ == "__main__":
    # deploy/install-asterisk-config.sh: the password on standard input, its hash on standard output
    # (with the salt of the hash given as argument, if any).
    try:
        print(crypt_password(sys.stdin.readline().rstrip("\n"), *sys.argv[1:2]))
    except TemplateError as exc:
        sys.exit(str(exc))
