"""Files in the recording spool that the sweep cannot take: one that is not audio, and a fallback
recording whose name says nobody's number. Each is reported once, as an error for an operator, and
left where it is: never deleted, never stored in somebody's mailbox."""

from __future__ import annotations

import secrets
import time

import pytest
from sqlalchemy import func, select

from reconnect_pbx.models import Message

from fault_helpers import log_lines, spool_names


# The last line of every spool sweep (reconnect_pbx/reconcile.py).
SWEPT = r"spool: swept \d+ file"


@pytest.mark.serve_errors(
    r"ERROR reconnect_pbx\.reconcile: channel \S+: deposit spool file is not audio",
    r"ERROR reconnect_pbx\.reconcile: spool: a fallback recording has a name nobody can attribute",
    reason="the test drops such files into the spool",
)
async def test_spool_files_that_are_not_audio_or_cannot_be_attributed_are_reported_once_and_kept(
    running_app, sandbox, observer, enrol, db
):
    person = enrol()
    spool = sandbox.pbx.host_dir / "spool/recording"
    (spool / "fallback").mkdir(exist_ok=True)
    token = secrets.token_hex(4)
    millis = int(time.time() * 1000)
    # A deposit file for a real person, from a channel long gone, whose content is not a WAV.
    not_audio = f"deposit-{person.number.lstrip('+')}-33142685300-{millis}-1700000000-{secrets.randbelow(10**6)}"
    # A fallback recording whose name is not one the dialplan writes.
    unattributable = f"fallback/fallback-{token}-by-hand"
    files = [spool / f"{not_audio}.wav", spool / f"{unattributable}.wav"]
    files[0].write_bytes(b"this is not a recording " * 40)
    files[1].write_bytes(b"RIFF" + bytes(100))
    try:
        await running_app.wait_for_log("deposit spool file is not audio")
        await running_app.wait_for_log("a fallback recording has a name nobody can attribute")
        # Two more complete sweeps after the reports: neither file is reported again, taken or deleted.
        await running_app.wait_for_log(SWEPT, count=len(running_app.log_lines(SWEPT)) + 2, timeout=45)
        log = running_app.log_text()
        assert len(log_lines(log, r"ERROR .*deposit spool file is not audio")) == 1
        assert len(log_lines(log, r"ERROR .*a fallback recording has a name nobody can attribute")) == 1
        # The name of a recording is personal data: the log does not carry it.
        assert token not in log and not_audio not in log
        assert all(f.exists() for f in files)
        assert {not_audio, unattributable} <= set(await spool_names(observer))
        db.expire_all()
        assert db.scalar(select(func.count()).select_from(Message).where(Message.mailbox_id == person.mailbox_id)) == 0
    finally:
        for f in files:
            f.unlink(missing_ok=True)
