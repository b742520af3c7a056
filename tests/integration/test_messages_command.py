"""messages list: what staff see of a mailbox."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import select

from reconnect_pbx.models import Mailbox, Message, MessageState


def _add_messages(db_session, person_id: int, number: str) -> list[int]:
    mailbox = db_session.scalar(select(Mailbox).where(Mailbox.beneficiary_id == person_id))
    rows = [
        Message(mailbox_id=mailbox.id, caller_number="+33612345678", called_number=number,
                received_at=datetime(2026, 7, 14, 8, 30, tzinfo=timezone.utc), duration_ms=12_400, state=MessageState.NEW),
        Message(mailbox_id=mailbox.id, caller_number=None, called_number=number,
                received_at=datetime(2026, 1, 10, 23, 15, tzinfo=timezone.utc), duration_ms=3_000, state=MessageState.SAVED),
        Message(mailbox_id=mailbox.id, caller_number="+33612345679", called_number=number,
                received_at=datetime(2026, 1, 9, 12, 0, tzinfo=timezone.utc), duration_ms=5_000, state=MessageState.DELETED),
    ]
    db_session.add_all(rows)
    db_session.commit()
    return [m.id for m in rows]


def test_messages_list_shows_paris_time_caller_or_withheld_duration_and_state(cli_runner, enrolled, db_session) -> None:
    person = enrolled()
    ids = _add_messages(db_session, person["id"], person["number"])
    lines = cli_runner("messages", "list", person["number"]).stdout.splitlines()
    assert lines[0].split() == ["ID", "RECEIVED", "CALLER", "DURATION", "STATE"]
    # Summer time (UTC+2) in July, winter time (UTC+1) in January; the deleted message is hidden.
    assert lines[2].split() == [str(ids[0]), "2026-07-14", "10:30", "+33612345678", "12", "s", "new"]
    assert lines[3].split() == [str(ids[1]), "2026-01-11", "00:15", "withheld", "3", "s", "saved"]
    assert len(lines) == 4
    shown = json.loads(cli_runner("show", str(person["id"]), "--json").stdout)
    assert (shown["new_messages"], shown["saved_messages"]) == (1, 1)


def test_messages_list_json_and_all(cli_runner, enrolled, db_session) -> None:
    person = enrolled()
    ids = _add_messages(db_session, person["id"], person["number"])
    listed = json.loads(cli_runner("messages", "list", str(person["id"]), "--all", "--json").stdout)
    assert [m["id"] for m in listed] == ids
    assert listed[0] == {"id": ids[0], "received_at": "2026-07-14T10:30:00+02:00", "caller": "+33612345678", "duration_seconds": 12.4, "state": "new"}
    assert listed[1]["caller"] is None
    assert listed[2]["state"] == "deleted"


def test_an_empty_mailbox_says_so(cli_runner, enrolled) -> None:
    person = enrolled()
    result = cli_runner("messages", "list", str(person["id"]))
    assert (result.exit_code, result.stdout.strip()) == (0, "no messages")
