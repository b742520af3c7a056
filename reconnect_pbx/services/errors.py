"""The domain's exceptions, written down once.

Services raise these; each entry point translates them at its boundary (the CLI prints one line and
exits 2, the phone menu plays a prompt). Lower-level errors (SQLAlchemy, phonenumbers, argon2) never
leave a service untranslated when they describe a caller's mistake.

    DomainError
    ├── InvalidInput        the request itself is wrong (malformed number, weak PIN, bad range)
    │   ├── phone.InvalidNumber
    │   └── pin_policy.WeakPin
    ├── NotFound            it names something that does not exist (centre, person, number)
    └── Conflict            it clashes with the current state (duplicate, already closed, taken)
        └── PoolExhausted   no free number left in a centre's pool
"""

from __future__ import annotations

# The base of the tree is one layer down (reconnect_pbx/errors.py), because phone.py and
# pin_policy.py raise InvalidInput; re-exported here for the services and the entry points.
from reconnect_pbx.errors import DomainError, InvalidInput

__all__ = ["DomainError", "InvalidInput", "NotFound", "Conflict", "PoolExhausted"]


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class PoolExhausted(Conflict):
    pass

