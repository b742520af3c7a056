"""Recovered spool files reach the mailbox of whoever held the number when the call was made."""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from reconnect_pbx.models import (
    Beneficiary,
    CallDirection,
    CallRecord,
    Centre,
    Language,
    Mailbox,
    Message,
    PhoneNumber,
)
from reconnect_pbx.phone import caller_e164
from reconnect_pbx.services import centres, numbers, people
from reconnect_pbx.services.recovery import (
    Outcome,
    SpoolMessage,
    finish_orphan_call,
    ingest,
    parse_spool_name,
    repair_wav,
)
from reconnect_pbx.storage import PostgresAudioStore, wav_duration_ms

NOW = datetime.now(timezone.utc).replace(microsecond=0)
MIN_MS = 2000


def wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x10\x00" * int(8000 * seconds))
    return buffer.getvalue()


@pytest.fixture
def centre_id(session_factory: sessionmaker[Session], unique_name: Callable[[str], str]) -> int:
    with session_factory() as session, session.begin():
        return centres.add_centre(session, unique_name("Spool centre"), "Lyon", actor="pytest").id


@pytest.fixture
def holder(session_factory: sessionmaker[Session], centre_id: int) -> Callable[..., int]:
    """``holder(number, since=..., until=None)`` -> the mailbox id of a person who held ``number``."""

    def make(number: str, *, since: datetime, until: datetime | None = None) -> int:
        with session_factory() as session, session.begin():
            centre = session.get(Centre, centre_id)
            if session.scalar(select(PhoneNumber.id).where(PhoneNumber.e164 == number)) is None:
                numbers.import_numbers(session, [number], centre=centre, trunk="trunk", actor="pytest", source="test")
            enrolment = people.enrol(
                session, centre=centre, display_name="Spool Person", language=Language.FR, pin_length=6,
                actor="pytest", number=number, now=since,
            )
            if until is not None:
                person = session.get(Beneficiary, enrolment.beneficiary_id)
                people.close(session, person, actor="pytest", quarantine_days=1, now=until)
            return session.scalar(select(Mailbox.id).where(Mailbox.beneficiary_id == enrolment.beneficiary_id))

    return make


@pytest.fixture
def ingest_now(session_factory: sessionmaker[Session]) -> Iterator[Callable[..., tuple[Outcome, int | None]]]:
    def run(message: SpoolMessage, audio: bytes, capacity: int = 50) -> tuple[Outcome, int | None]:
        with session_factory() as session, session.begin():
            return ingest(session, PostgresAudioStore(), message, audio, min_duration_ms=MIN_MS, capacity=capacity)

    yield run


def fallback_file(number: str, caller: str, at: datetime, channel: str) -> SpoolMessage:
    name = f"fallback/fallback-{number.lstrip('+')}-{caller}-{int(at.timestamp())}-{channel}"
    parsed = parse_spool_name(name)
    assert parsed is not None, name
    return parsed


def messages_in(db: Session, mailbox_id: int) -> list[Message]:
    db.expire_all()
    return list(db.scalars(select(Message).where(Message.mailbox_id == mailbox_id)))


def test_a_fallback_recording_is_stored_with_the_caller_number_and_time_of_the_call(holder, ingest_now, number_block, db_session):
    number = number_block() + "11"
    mailbox = holder(number, since=NOW - timedelta(days=3))
    at = NOW - timedelta(minutes=5)
    outcome, message_id = ingest_now(fallback_file(number, "0142685300", at, "1795735575-7"), wav(4))
    assert outcome is Outcome.STORED
    [message] = messages_in(db_session, mailbox)
    assert message.id == message_id
    assert message.caller_number == "+33142685300"
    assert message.called_number == number
    assert message.received_at == at
    assert message.duration_ms == 4000
    assert message.source_channel_id == "1795735575.7"


def test_an_international_caller_written_with_00_and_a_withheld_caller_are_read_back(holder, ingest_now, number_block, db_session):
    number = number_block() + "12"
    mailbox = holder(number, since=NOW - timedelta(days=3))
    ingest_now(fallback_file(number, "0032475123456", NOW - timedelta(minutes=2), "1795735575-8"), wav(3))
    ingest_now(fallback_file(number, "withheld", NOW - timedelta(minutes=1), "1795735575-9"), wav(3))
    callers = sorted(m.caller_number or "withheld" for m in messages_in(db_session, mailbox))
    assert callers == ["+32475123456", "withheld"]


def test_a_fallback_caller_too_long_for_a_number_is_stored_as_withheld(holder, ingest_now, number_block, db_session):
    # The dialplan once kept every digit of the caller ID: a name nobody could read stayed in the spool.
    number = number_block() + "21"
    mailbox = holder(number, since=NOW - timedelta(days=3))
    outcome, _ = ingest_now(fallback_file(number, "1" * 40, NOW - timedelta(minutes=1), "1795735575-21"), wav(3))
    assert outcome is Outcome.STORED
    assert [m.caller_number for m in messages_in(db_session, mailbox)] == [None]


@pytest.mark.parametrize(
    ("in_name", "raw"),
    [("0142685300", "0142685300"), ("0033142685300", "+33142685300"), ("0032475123456", "+32475123456"),
     ("00" + "3" * 20, "+" + "3" * 20), ("5", "5")],
)
def test_a_fallback_caller_is_read_by_the_rule_of_the_application(in_name, raw):
    # The dialplan writes the digits, "00" for a leading "+": the same caller as the app stores.
    message = fallback_file("+33980001142", in_name, NOW, "1795735575-22")
    assert message.caller == caller_e164(raw, "allowed", "FR")


def test_a_message_left_before_the_number_changed_hands_never_reaches_the_new_holder(holder, ingest_now, number_block, db_session):
    number = number_block() + "13"
    holder(number, since=NOW - timedelta(days=10), until=NOW - timedelta(days=5))
    new_mailbox = holder(number, since=NOW - timedelta(days=2))
    # Left while the first holder had it (closed since: their number is in no one's hands for them).
    outcome, _ = ingest_now(fallback_file(number, "0142685300", NOW - timedelta(days=7), "1795000000-1"), wav(3))
    assert outcome is Outcome.NO_HOLDER
    # Left during the quarantine: nobody held it.
    outcome, _ = ingest_now(fallback_file(number, "0142685300", NOW - timedelta(days=4), "1795000000-2"), wav(3))
    assert outcome is Outcome.NO_HOLDER
    # Left once the new holder had it.
    outcome, _ = ingest_now(fallback_file(number, "0142685300", NOW - timedelta(days=1), "1795000000-3"), wav(3))
    assert outcome is Outcome.STORED
    assert len(messages_in(db_session, new_mailbox)) == 1


def test_a_number_nobody_ever_held_is_dropped(ingest_now, number_block):
    outcome, message_id = ingest_now(fallback_file(number_block() + "14", "0142685300", NOW, "1795000000-4"), wav(3))
    assert (outcome, message_id) == (Outcome.NO_HOLDER, None)
    # Even one too long to be a number: dropped as such, not left in the spool.
    outcome, _ = ingest_now(fallback_file("+" + "3" * 40, "0142685300", NOW, "1795000000-24"), wav(3))
    assert outcome is Outcome.NO_HOLDER


def test_the_same_file_ingested_twice_is_one_message(holder, ingest_now, number_block, db_session):
    number = number_block() + "15"
    mailbox = holder(number, since=NOW - timedelta(days=1))
    message = fallback_file(number, "0142685300", NOW, "1795000000-5")
    assert ingest_now(message, wav(3))[0] is Outcome.STORED
    assert ingest_now(message, wav(3))[0] is Outcome.ALREADY_STORED
    assert len(messages_in(db_session, mailbox)) == 1


def test_a_recording_shorter_than_the_minimum_is_not_stored(holder, ingest_now, number_block, db_session):
    number = number_block() + "16"
    mailbox = holder(number, since=NOW - timedelta(days=1))
    assert ingest_now(fallback_file(number, "0142685300", NOW, "1795000000-6"), wav(1))[0] is Outcome.TOO_SHORT
    assert messages_in(db_session, mailbox) == []


def test_a_full_mailbox_still_gets_a_recovered_message(holder, ingest_now, number_block, db_session):
    number = number_block() + "17"
    mailbox = holder(number, since=NOW - timedelta(days=1))
    ingest_now(fallback_file(number, "0142685300", NOW, "1795000000-7"), wav(3), capacity=1)
    outcome, _ = ingest_now(fallback_file(number, "0142685300", NOW, "1795000000-8"), wav(3), capacity=1)
    assert outcome is Outcome.STORED
    assert len(messages_in(db_session, mailbox)) == 2


def test_a_deposit_recording_left_by_a_dead_process_is_read_from_its_name(holder, ingest_now, number_block, db_session):
    number = number_block() + "18"
    mailbox = holder(number, since=NOW - timedelta(days=1))
    millis = int(NOW.timestamp() * 1000) + 123
    message = parse_spool_name(f"deposit-{number.lstrip('+')}-33612345678-{millis}-1795735575-42")
    assert message is not None
    assert (message.caller, message.channel_id) == ("+33612345678", "1795735575.42")
    assert ingest_now(message, wav(3))[0] is Outcome.STORED
    [stored] = messages_in(db_session, mailbox)
    assert stored.received_at == datetime.fromtimestamp(millis / 1000, timezone.utc)


def test_a_wav_whose_header_was_never_finished_is_repaired(holder, ingest_now, number_block, db_session):
    audio = bytearray(wav(3))
    data_at = audio.index(b"data")
    struct.pack_into("<I", audio, data_at + 4, 0)  # Asterisk died before writing the sizes
    assert wav_duration_ms(bytes(audio)) == 0
    assert wav_duration_ms(repair_wav(bytes(audio))) == 3000
    number = number_block() + "19"
    mailbox = holder(number, since=NOW - timedelta(days=1))
    assert ingest_now(fallback_file(number, "0142685300", NOW, "1795000000-9"), bytes(audio))[0] is Outcome.STORED
    assert messages_in(db_session, mailbox)[0].duration_ms == 3000


@pytest.mark.parametrize(
    "name",
    [
        "deposit-greeting-1",  # not one of ours
        "fallback-33980001142-0142685300-1795735575-1795735575-0",  # a fallback name outside its folder
        "other/deposit-33980001142-withheld-1795735575123-1-2",  # a deposit name in another folder
        "fallback/fallback-33980001142-01../../x-1795735575-1-2",
    ],
)
def test_names_that_are_not_spool_messages_are_left_alone(name):
    assert parse_spool_name(name) is None


def test_a_recording_cut_by_a_crash_is_kept_even_when_shorter_than_the_minimum(holder, ingest_now, number_block, db_session):
    audio = bytearray(wav(1))
    struct.pack_into("<I", audio, audio.index(b"data") + 4, 0)
    number = number_block() + "20"
    mailbox = holder(number, since=NOW - timedelta(days=1))
    assert ingest_now(fallback_file(number, "0142685300", NOW, "1795000000-10"), bytes(audio))[0] is Outcome.STORED
    assert messages_in(db_session, mailbox)[0].duration_ms == 1000


def test_an_outgoing_call_watched_to_its_end_after_a_crash_is_billed_to_that_end(session_factory, holder, number_block, db_session):
    mailbox = holder(number_block() + "21", since=NOW - timedelta(days=1))
    with session_factory() as session, session.begin():
        person_id = session.scalar(select(Mailbox.beneficiary_id).where(Mailbox.id == mailbox))
        record = CallRecord(
            direction=CallDirection.OUTBOUND, flow="callback", channel_id="callback-test-orphan-leg",
            beneficiary_id=person_id, started_at=NOW - timedelta(seconds=100),
            answered_at=NOW - timedelta(seconds=90), outcome="in-progress",
        )
        session.add(record)
        session.flush()
        record_id = record.id
    with session_factory() as session, session.begin():
        assert finish_orphan_call(session, "callback-test-orphan-leg", NOW) == 90
        assert finish_orphan_call(session, "callback-test-orphan-leg", NOW) is None
    db_session.expire_all()
    finished = db_session.get(CallRecord, record_id)
    assert (finished.outcome, finished.ended_at, finished.billable_seconds) == ("interrupted", NOW, 90)
