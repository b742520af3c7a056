"""PIN hashing: HMAC-SHA256 with a secret key held outside the database (the pepper), then argon2id.

Parameters: argon2id, memory 19 MiB, 2 passes, 1 lane (the OWASP minimum for argon2id), about 20 ms a
hash on one core here. A 6-digit PIN has only a million values, so no hash cost alone makes a stolen
hash safe against an offline search (hours per hash per core). Hence the pepper: the PIN goes
through HMAC-SHA256 keyed with ``pin.pepper_file`` (generated at install, readable by root and the
``reconnect-pbx`` group only, never in the database nor in its backups) before argon2. A database
dump alone then gives nothing to search: without the pepper no candidate PIN can be checked.
What protects a mailbox over the phone is the lockout after wrong PINs (``access.*`` settings).

A peppered hash is argon2's own string behind a version mark, ``$pepper1$argon2id$v=19$...``.
Hashes made before the pepper (plain argon2 strings) still verify; ``needs_rehash`` is then true,
so the login flow replaces them at the next right PIN (as it does when argon2 parameters change).

The pepper file is named once per process by ``use_pepper_file`` (the CLI's settings, ``serve``)
and read at the first hash or check; a missing or weak file is a ``PepperError`` (one line).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..config import ConfigError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)

# The version mark of hashes made with the pepper.
PEPPERED = "$pepper1"
# A pepper shorter than this is refused: 32 hex characters are 128 bits.
MIN_PEPPER_CHARS = 32

_pepper_file: Path | None = None
_pepper: bytes | None = None


class PepperError(ConfigError):
    """The pepper file is missing, unreadable, too short or readable by anyone."""


def use_pepper_file(path: str | Path) -> None:
    """Name the pepper file (``pin.pepper_file``); it is read at the first hash or check."""
    global _pepper_file, _pepper
    if _pepper_file != Path(path):
        _pepper_file, _pepper = Path(path), None


def use_pepper(key: bytes) -> None:
    """Use ``key`` as the pepper (benchmarks; everything else names a file)."""
    global _pepper_file, _pepper
    _pepper_file, _pepper = None, key


def read_pepper_file(path: str | Path) -> bytes:
    """The key in a pepper file (its text, surrounding whitespace removed). Raises PepperError."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            key = file.read().strip()
    except FileNotFoundError:
        raise PepperError(
            f"pin.pepper_file {path} does not exist: generate it at install (docs/deploy.md)"
        ) from None
    except OSError as exc:
        raise PepperError(f"pin.pepper_file {path}: cannot read: {exc.strerror}") from None
    if mode & stat.S_IRWXO:
        raise PepperError(f"pin.pepper_file {path} is readable by anyone: chmod 640 it")
    if len(key) < MIN_PEPPER_CHARS:
        raise PepperError(f"pin.pepper_file {path} holds {len(key)} characters, fewer than {MIN_PEPPER_CHARS}")
    return key


def load_pepper() -> bytes:
    global _pepper
    if _pepper is None:
        if _pepper_file is None:
            raise PepperError("no pin.pepper_file given")
        _pepper = read_pepper_file(_pepper_file)
    return _pepper


def _keyed(pin: str, pepper: bytes) -> bytes:
    return hmac.new(pepper, pin.encode(), hashlib.sha256).digest()


def hash_pin(pin: str) -> str:
    return PEPPERED + _HASHER.hash(_keyed(pin, load_pepper()))


def verify_pin(pin_hash: str, pin: str) -> bool:
    """True if ``pin`` matches; False for a wrong PIN and for a damaged hash (fails closed)."""
    try:
        if pin_hash.startswith(PEPPERED + "$"):
            return _HASHER.verify(pin_hash[len(PEPPERED) :], _keyed(pin, load_pepper()))
        # Made before the pepper: upgraded at the next right PIN (needs_rehash).
        return _HASHER.verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(pin_hash: str) -> bool:
    if not pin_hash.startswith(PEPPERED + "$"):
        return True
    return _HASHER.check_needs_rehash(pin_hash[len(PEPPERED) :])
