"""numbers import / list: normalisation, ranges, and every refused import writes nothing."""

from __future__ import annotations

import json

import pytest


def _listed(cli_runner, *args: str) -> dict[str, dict]:
    result = cli_runner("numbers", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return {n["number"]: n for n in json.loads(result.stdout)}


def test_a_file_in_mixed_forms_is_stored_in_e164(cli_runner, centre, number_block, tmp_path) -> None:
    prefix = number_block()  # +339NNNNNN
    national = "0" + prefix[3:]
    path = tmp_path / "numbers.txt"
    path.write_text(
        f"# pool delivered by the carrier\n{national}00\n\n{national[:2]} {national[2:]}01\n00{prefix[1:]}02\n"
        f"+33 {prefix[3:]} 03   # trailing comment\n",
        encoding="utf-8",
    )
    result = cli_runner("numbers", "import", str(path), "--centre", centre, "--trunk", "ovh")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"4 numbers imported into the pool of centre '{centre}'"
    listed = _listed(cli_runner, "--centre", centre)
    assert sorted(listed) == [f"{prefix}{i:02d}" for i in range(4)]
    assert {n["state"] for n in listed.values()} == {"free"}
    assert {n["trunk"] for n in listed.values()} == {"ovh"}


def test_the_sample_number_is_stored_in_e164_whatever_its_form(cli_runner, centre, db_session) -> None:
    from sqlalchemy import delete

    from reconnect_pbx.models import AuditEvent, PhoneNumber

    result = cli_runner("numbers", "import", "-", "--centre", centre, input="01 42 68 53 00\n")
    assert result.exit_code == 0, result.output
    try:
        assert "+33142685300" in _listed(cli_runner, "--centre", centre)
        for same in ("0033142685300", "+33 1 42 68 53 00"):
            again = cli_runner("numbers", "import", "-", "--centre", centre, input=same + "\n")
            assert again.exit_code == 2
            assert "+33142685300" in again.stderr
    finally:
        db_session.execute(delete(PhoneNumber).where(PhoneNumber.e164 == "+33142685300"))
        db_session.execute(delete(AuditEvent).where(AuditEvent.details["first"].astext == "+33142685300"))
        db_session.commit()


def test_a_range_is_imported_inclusively(cli_runner, centre, number_block) -> None:
    prefix = number_block()
    national = "0" + prefix[3:]
    result = cli_runner("numbers", "import", "--range", f"{national}10", f"+33{prefix[3:]}19", "--centre", centre, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"centre": centre, "imported": 10, "first": f"{prefix}10", "last": f"{prefix}19"}
    assert sorted(_listed(cli_runner, "--centre", centre)) == [f"{prefix}{i}" for i in range(10, 20)]


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("0142685300", "0142785300", "more than 10000"),
        ("0142685399", "0142685300", "comes before"),
        ("0142685300", "+32 2 555 12 12", "region BE"),
        ("0142685300", "+33 6 12 34 56 78 9", "not a valid number"),
        ("0142685300", "abc", "not a phone number"),
    ],
)
def test_a_bad_range_is_refused(cli_runner, centre, unchanged, first, last, message) -> None:
    with unchanged():
        result = cli_runner("numbers", "import", "--range", first, last, "--centre", centre)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_ranges_of_different_lengths_are_refused(cli_runner, centre, unchanged) -> None:
    with unchanged():
        result = cli_runner("numbers", "import", "--range", "+3225551212", "+33142685300", "--centre", centre, env={"RECONNECT_NUMBERS_ALLOWED_REGIONS": "FR,BE"})
    assert result.exit_code == 2
    assert "same length" in result.stderr


def test_a_foreign_number_is_refused_by_default(cli_runner, centre, number_block, unchanged) -> None:
    with unchanged():
        result = cli_runner("numbers", "import", "-", "--centre", centre, input=f"{number_block()}00\n+32 2 555 12 12\n")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: line 2: '+32 2 555 12 12' is a number of region BE, not allowed here (allowed: FR)"


def test_a_foreign_number_is_accepted_when_its_region_is_allowed(cli_runner, centre, db_session) -> None:
    from sqlalchemy import delete

    from reconnect_pbx.models import PhoneNumber

    result = cli_runner(
        "numbers", "import", "-", "--centre", centre, input="+32 2 555 12 13\n", env={"RECONNECT_NUMBERS_ALLOWED_REGIONS": "FR,BE"}
    )
    try:
        assert result.exit_code == 0, result.output
        assert "+3225551213" in _listed(cli_runner, "--centre", centre)
    finally:
        db_session.execute(delete(PhoneNumber).where(PhoneNumber.e164 == "+3225551213"))
        db_session.commit()


def test_invalid_lines_are_named_and_nothing_is_imported(cli_runner, centre, number_block, unchanged) -> None:
    good = f"{number_block()}00"
    with unchanged():
        result = cli_runner("numbers", "import", "-", "--centre", centre, input=f"{good}\n0142\nhello\n")
    assert result.exit_code == 2
    assert "line 2:" in result.stderr and "line 3:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_numbers_given_twice_are_named_and_nothing_is_imported(cli_runner, centre, number_block, unchanged) -> None:
    prefix = number_block()
    with unchanged():
        result = cli_runner("numbers", "import", "-", "--centre", centre, input=f"{prefix}00\n{prefix}01\n0{prefix[3:]}00\n")
    assert result.exit_code == 2
    assert f"given twice in the import: {prefix}00" in result.stderr


def test_already_imported_numbers_are_named_with_their_centre_and_nothing_is_imported(cli_runner, centre, pool, unchanged) -> None:
    existing = pool(centre, 2)
    new = existing[0][:-2] + "99"
    with unchanged():
        result = cli_runner("numbers", "import", "-", "--centre", centre, input=f"{new}\n{existing[1]}\n")
    assert result.exit_code == 2
    assert f"{existing[1]} (centre {centre})" in result.stderr
    assert new not in _listed(cli_runner, "--centre", centre)


def test_an_unknown_centre_is_refused(cli_runner, number_block, unchanged) -> None:
    with unchanged():
        result = cli_runner("numbers", "import", "-", "--centre", "No Such Centre", input=f"{number_block()}00\n")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: unknown centre 'No Such Centre' (see `centre list`)"


@pytest.mark.parametrize("content", ["", "# only a comment\n\n"])
def test_an_empty_import_is_refused(cli_runner, centre, unchanged, content) -> None:
    with unchanged():
        result = cli_runner("numbers", "import", "-", "--centre", centre, input=content)
    assert result.exit_code == 2
    assert "no numbers to import" in result.stderr


def test_a_file_that_is_not_text_is_refused(cli_runner, centre, tmp_path, unchanged) -> None:
    path = tmp_path / "numbers.bin"
    path.write_bytes(b"\xff\xfe\x00\x01")
    with unchanged():
        result = cli_runner("numbers", "import", str(path), "--centre", centre)
    assert result.exit_code == 2
    assert "not UTF-8" in result.stderr


@pytest.mark.parametrize("args", [[], ["-", "--range", "0142685300", "0142685301"]])
def test_file_and_range_are_exclusive_and_one_is_needed(cli_runner, centre, args) -> None:
    result = cli_runner("numbers", "import", *args, "--centre", centre, input="")
    assert result.exit_code == 2
    assert "either FILE or --range" in result.stderr


def test_a_bad_trunk_name_is_refused(cli_runner, centre, number_block, unchanged) -> None:
    with unchanged():
        result = cli_runner("numbers", "import", "-", "--centre", centre, "--trunk", "my trunk!", input=f"{number_block()}00\n")
    assert result.exit_code == 2
    assert "trunk name" in result.stderr


def test_numbers_list_filters_by_state(cli_runner, centre, pool) -> None:
    numbers = pool(centre, 3)
    enrolled = json.loads(cli_runner("enrol", "--centre", centre, "--name", "A", "--number", numbers[0], "--json").stdout)
    assert cli_runner("close", str(enrolled["id"])).exit_code == 0
    enrolled = json.loads(cli_runner("enrol", "--centre", centre, "--name", "B", "--number", numbers[1], "--json").stdout)
    assert set(_listed(cli_runner, "--centre", centre, "--state", "free")) == {numbers[2]}
    assigned = _listed(cli_runner, "--centre", centre, "--state", "assigned")
    assert set(assigned) == {numbers[1]}
    assert assigned[numbers[1]]["beneficiary_id"] == enrolled["id"]
    quarantined = _listed(cli_runner, "--centre", centre, "--state", "quarantined")
    assert set(quarantined) == {numbers[0]}
    assert quarantined[numbers[0]]["quarantine_until"] is not None
    table = cli_runner("numbers", "list", "--centre", centre).stdout
    assert table.splitlines()[0].split()[:3] == ["NUMBER", "NATIONAL", "CENTRE"]
    assert "quarantined" in table


def test_importing_is_audited(cli_runner, centre, pool, db_session) -> None:
    from sqlalchemy import select

    from reconnect_pbx.models import AuditEvent

    numbers = pool(centre, 2)
    event = db_session.scalar(
        select(AuditEvent).where(AuditEvent.action == "numbers.import", AuditEvent.details["first"].astext == numbers[0])
    )
    assert event.actor == "pytest"
    assert event.details["count"] == 2
    assert event.details["centre"] == centre


def test_a_range_holding_the_access_number_is_refused(cli_runner, centre, number_block, unchanged) -> None:
    prefix = number_block()
    access = {"RECONNECT_ACCESS_ACCESS_NUMBER": f"0{prefix[3:]} 05"}
    with unchanged():
        result = cli_runner("numbers", "import", "--range", f"{prefix}00", f"{prefix}09", "--centre", centre, env=access)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {prefix}05 is the access number, not a personal number; nothing imported "
        "(leave it out of the file or range)"
    )
