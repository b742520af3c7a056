"""Enrol 1,000 people into a pool of 1,000 numbers on a throwaway database, and print the time.

    .venv/bin/python bench/enrol.py [--count 1000]

Each enrolment runs as ``reconnect-pbx enrol`` does (one transaction: find the centre, lock a free
number with SKIP LOCKED, generate and hash a PIN, create person, credential, mailbox, assignment,
audit event), without the process start-up (about 0.5 s a command, measured separately). The
server is the one tests use (tests/pg.py: RECONNECT_TEST_DATABASE_URL, the local server, or a
private cluster); the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import pg  # noqa: E402

from reconnect_pbx.db import make_engine, make_session_factory, transaction  # noqa: E402
from reconnect_pbx.models import Language  # noqa: E402
from reconnect_pbx.services import centres, credentials, numbers, people, schema  # noqa: E402

FIRST_NUMBER = 33970000000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    count = parser.parse_args().count
    # A pepper for this run (a real install reads pin.pepper_file).
    credentials.use_pepper(secrets.token_hex(32).encode())

    with pg.available_server() as server, pg.throwaway_database(server, prefix="reconnect_bench") as url:
        schema.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with transaction(factory) as session:
            centre = centres.add_centre(session, "Bench", actor="bench")
            pool = numbers.expand_range(f"+{FIRST_NUMBER}", f"+{FIRST_NUMBER + count - 1}", "FR", ("FR",))
            numbers.import_numbers(session, pool, centre=centre, trunk="trunk", actor="bench", source="bench")

        started = time.perf_counter()
        given = set()
        for i in range(count):
            with transaction(factory) as session:
                enrolment = people.enrol(
                    session,
                    centre=centres.find_centre(session, "Bench"),
                    display_name=f"Person {i}",
                    language=Language.FR,
                    pin_length=6,
                    actor="bench",
                )
            given.add(enrolment.e164)
        elapsed = time.perf_counter() - started
        engine.dispose()
        assert len(given) == count, "a number was given twice"

    hashing_started = time.perf_counter()
    for _ in range(50):
        credentials.hash_pin("483920")
    hash_ms = (time.perf_counter() - hashing_started) / 50 * 1000

    print(f"{count} enrolments in {elapsed:.1f} s: {elapsed / count * 1000:.1f} ms each, of which argon2id hashing {hash_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
