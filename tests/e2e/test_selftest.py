"""``reconnect-pbx selftest`` against the real pbx and the real ``serve``: a Local channel into the
trunk's context, a spoken message stored in the test mailbox, then erased; and one FAIL line when
``serve`` is not there to take the call."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.models import CallRecord, Message
from reconnect_pbx.services import reports, selftest
from reconnect_pbx.services.numbers import reserved_numbers

from app_process import CLI, AppProcess

STEPS = ["mailbox", "ari", "call", "record", "stored", "erased"]


def run_selftest(app: AppProcess, number: str, timeout: int = 30) -> subprocess.CompletedProcess[str]:
    env = {**app.env, "RECONNECT_ACCESS_SELFTEST_NUMBER": number}
    return subprocess.run([CLI, "selftest", "--timeout", str(timeout)], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_selftest_stores_a_spoken_message_in_the_test_mailbox_then_erases_it(
    running_app: AppProcess, session_factory: sessionmaker[Session], number_block: Callable[[], str]
) -> None:
    number = number_block() + "99"
    log_start = running_app.log_size()
    result = run_selftest(running_app, number)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["ok", step] for step in STEPS]
    # serve took the call as a caller's: the deposit flow stored the message it recorded.
    stored = [line for line in running_app.log_text(log_start).splitlines() if " stored (" in line]
    assert len(stored) == 1
    message_id = lines[4].split()[3].rstrip(",")
    assert f"message {message_id} stored" in stored[0]
    with session_factory() as session:
        mailbox = selftest.ensure_test_mailbox(session, number, reports.datetime.now(reports.ZoneInfo("UTC")))
        assert session.scalar(select(func.count()).select_from(Message).where(Message.mailbox_id == mailbox.mailbox_id)) == 0
        assert session.scalar(
            select(func.count()).select_from(CallRecord).where(CallRecord.beneficiary_id == mailbox.beneficiary_id)
        ) == 0
        session.rollback()


def test_a_second_selftest_uses_the_same_test_mailbox(
    running_app: AppProcess, session_factory: sessionmaker[Session], number_block: Callable[[], str]
) -> None:
    number = number_block() + "98"
    assert run_selftest(running_app, number).returncode == 0
    assert run_selftest(running_app, number).returncode == 0
    with session_factory() as session:
        people = session.scalars(
            select(selftest.NumberAssignment.beneficiary_id)
            .join(selftest.PhoneNumber, selftest.PhoneNumber.id == selftest.NumberAssignment.phone_number_id)
            .where(selftest.PhoneNumber.e164 == number)
        ).all()
    assert len(people) == 1


def test_the_selftest_number_is_reserved() -> None:
    assert reserved_numbers("+33980000001", "FR", "09 80 00 00 02") == {"+33980000001", "+33980000002"}


def test_without_serve_the_selftest_says_which_step_failed_and_exits_1(
    running_app: AppProcess, number_block: Callable[[], str]
) -> None:
    running_app.stop()
    try:
        result = run_selftest(running_app, number_block() + "97", timeout=5)
    finally:
        running_app.start()
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok    mailbox")
    assert lines[-1].startswith("FAIL  ari") and "is `serve` running?" in lines[-1]
