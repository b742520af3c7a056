"""PIN hashing with argon2id.

Parameters: argon2id, memory 19 MiB, 2 passes, 1 lane (the OWASP minimum for argon2id), about 20 ms a
hash on one core here. A 6-digit PIN has only a million values, so no hash cost makes a stolen
hash safe against an offline search; what protects a mailbox is the lockout after a few wrong PINs
over the phone (``access.*`` settings). The cost is therefore kept moderate: enough to make bulk
offline search of a leaked table slow (hours per hash per core), cheap enough that enrolling a
thousand people or a burst of logins stays fast. Changing the parameters is safe: ``needs_rehash``
tells the login flow to rehash an old hash after a successful check.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


def hash_pin(pin: str) -> str:
    return _HASHER.hash(pin)


def verify_pin(pin_hash: str, pin: str) -> bool:
    """True if ``pin`` matches; False for a wrong PIN and for a damaged hash (fails closed)."""
    try:
        return _HASHER.verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(pin_hash: str) -> bool:
    return _HASHER.check_needs_rehash(pin_hash)
