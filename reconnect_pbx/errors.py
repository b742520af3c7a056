"""The base of the domain's exception tree, below the services layer.

``phone.py`` and ``pin_policy.py`` (used by the services, the CLI and the call flows alike) raise
``InvalidInput`` errors, so the base classes live here, where they may import them without importing
``services``. The whole tree is written down in ``services/errors.py``, which re-exports these two:
services and entry points keep importing from there.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the service refuses; the message is one line meant for a person."""


class InvalidInput(DomainError):
    pass
