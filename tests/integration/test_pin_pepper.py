"""PIN hashes need the pepper (a key outside the database) to be checked, and hashes made before the
pepper still log in and are upgraded at that login."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from reconnect_pbx import doctor
from reconnect_pbx.config import DatabaseSettings, PinSettings, Settings
from reconnect_pbx.db import transaction
from reconnect_pbx.models import Credential
from reconnect_pbx.services import access, credentials
from reconnect_pbx.services.access import LockPolicy, LoginOutcome

POLICY = LockPolicy(lock_after_failures=5, lock_max_minutes=60, suspend_after_failures=20)
ARGON2_AS_BEFORE = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)


@pytest.fixture
def other_pepper(tmp_path: Path, pin_pepper_file: Path):
    """Switch this process to another pepper file (a dump read elsewhere); switched back after."""

    def use() -> None:
        path = tmp_path / "another-pepper"
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
        credentials.use_pepper_file(path)

    yield use
    credentials.use_pepper_file(pin_pepper_file)


def stored_hash(session_factory, person_id: int) -> str:
    with session_factory() as session:
        return session.get(Credential, person_id).pin_hash


def test_a_pin_hash_is_marked_peppered_and_checks_only_with_the_pepper(other_pepper) -> None:
    pin_hash = credentials.hash_pin("482913")
    assert pin_hash.startswith("$pepper1$argon2id$")
    assert credentials.verify_pin(pin_hash, "482913")
    assert not credentials.needs_rehash(pin_hash)
    # What a dump gives: the argon2 string. Searched as a plain PIN hash, the right PIN fails.
    argon2_part = pin_hash.removeprefix("$pepper1")
    assert not credentials.verify_pin(argon2_part, "482913")
    # And with another pepper the right PIN fails too.
    other_pepper()
    assert not credentials.verify_pin(pin_hash, "482913")


def test_a_dumped_hash_found_by_an_offline_search_of_all_pins_is_not_found(enrolled, session_factory) -> None:
    person = enrolled()
    argon2_part = stored_hash(session_factory, person["id"]).removeprefix("$pepper1")
    # The attacker's check for each candidate, without the pepper: the right PIN does not match.
    for candidate in {person["pin"], "0" * len(person["pin"])}:
        assert not credentials.verify_pin(argon2_part, candidate)


def test_a_hash_made_before_the_pepper_still_logs_in_and_is_upgraded(enrolled, session_factory) -> None:
    person = enrolled()
    with transaction(session_factory) as session:
        session.execute(
            update(Credential)
            .where(Credential.beneficiary_id == person["id"])
            .values(pin_hash=ARGON2_AS_BEFORE.hash(person["pin"]))
        )
    with transaction(session_factory) as session:
        assert access.attempt_login(session, person["id"], person["pin"], POLICY).outcome == LoginOutcome.ACCEPTED

    upgraded = stored_hash(session_factory, person["id"])
    assert upgraded.startswith("$pepper1$")
    assert credentials.verify_pin(upgraded, person["pin"])
    with transaction(session_factory) as session:
        assert access.attempt_login(session, person["id"], person["pin"], POLICY).outcome == LoginOutcome.ACCEPTED


def test_a_wrong_pin_leaves_an_old_hash_as_it_is(enrolled, session_factory) -> None:
    person = enrolled()
    old = ARGON2_AS_BEFORE.hash(person["pin"])
    with transaction(session_factory) as session:
        session.execute(update(Credential).where(Credential.beneficiary_id == person["id"]).values(pin_hash=old))
    wrong = "".join(str((int(d) + 1) % 10) for d in person["pin"])
    with transaction(session_factory) as session:
        assert access.attempt_login(session, person["id"], wrong, POLICY).outcome == LoginOutcome.REFUSED
    assert stored_hash(session_factory, person["id"]) == old


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        (None, 0o640, "does not exist"),
        ("short", 0o640, "fewer than 32"),
        (secrets.token_hex(32), 0o644, "readable by anyone"),
    ],
    # Ids without the random pepper: parallel workers must collect the same test names.
    ids=["missing", "short", "open"],
)
def test_a_missing_weak_or_open_pepper_file_is_refused_in_one_line(cli_process, enrolled, tmp_path, content, mode, message):
    person = enrolled()
    path = tmp_path / "pin-pepper"
    if content is not None:
        path.write_text(content)
        path.chmod(mode)
    done = cli_process("pin", "reset", str(person["id"]), env={"RECONNECT_PIN_PEPPER_FILE": str(path)})
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_doctor_checks_the_pepper_file_and_counts_the_hashes_made_before_it(
    database_url, enrolled, session_factory, pin_pepper_file, tmp_path
) -> None:
    person = enrolled()
    with transaction(session_factory) as session:
        session.execute(
            update(Credential).where(Credential.beneficiary_id == person["id"]).values(pin_hash=ARGON2_AS_BEFORE.hash("1234"))
        )
    settings = Settings(database=DatabaseSettings(url=database_url), pin=PinSettings(pepper_file=str(pin_pepper_file)))
    result = doctor.check_pepper(settings)
    assert result.status == doctor.OK
    assert "PIN hash(es) made before it" in result.detail

    missing = Settings(database=DatabaseSettings(url=database_url), pin=PinSettings(pepper_file=str(tmp_path / "none")))
    result = doctor.check_pepper(missing)
    assert result.status == doctor.FAIL and "does not exist" in result.detail
