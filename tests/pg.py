"""The tests' PostgreSQL helpers live in the package (the demo uses them too): see
``reconnect_pbx/sandbox/postgres.py``. Run as a script for CI: ``python tests/pg.py check-migrations``."""

import sys

from reconnect_pbx.sandbox.postgres import *  # noqa: F401,F403
from reconnect_pbx.sandbox.postgres import _main

if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
