"""``python -m reconnect_pbx.sandbox up|down|status [name]``: prints JSON."""

from __future__ import annotations

import json
import logging
import sys

from . import down, status, up

COMMANDS = {"up": up, "down": down, "status": status}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m reconnect_pbx.sandbox {'|'.join(COMMANDS)} [name]", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(json.dumps(COMMANDS[argv[0]](*argv[1:]), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
