"""Asterisk cannot write a recording (spool not writable, disk full): the caller is told, an error is
logged, and the service stays up for the next call."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconnect_pbx.sandbox import STASIS_APP

from deposit_helpers import leave_message, media_names, wait_for_messages
from fault_helpers import dialplan_watch  # noqa: F401  (a fixture)
from fault_helpers import log_lines, module_unloaded, new_caller
from harness import place_call, release_app_name


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """A file where the folder should be: nothing can be created in it, not even by root."""
    aside = folder.with_name(folder.name + ".aside")
    folder.rename(aside)
    folder.write_text("")
    try:
        yield
    finally:
        folder.unlink()
        aside.rename(folder)


@pytest.mark.serve_errors(
    r"ERROR .*(could not record|recording failed|kept no file)",
    reason="the test makes the spool unwritable: the lost recording is an error, and the test checks it is logged",
)
async def test_a_recording_that_cannot_be_written_is_told_to_the_caller_and_logged(running_app, sandbox, carrier, observer, enrol, db):
    person = enrol()
    caller = new_caller()
    with unwritable(sandbox.pbx.host_dir / "spool/recording"):
        call = await place_call(carrier, person.national, caller)
        await call.wait_hung_up(timeout=20)
    observed = await observer.call_from(caller)
    assert media_names(observed.media)[-1] == "technical-problem"
    assert log_lines(running_app.log_text(), rf"ERROR .*channel {observed.channel_id}: .*(could not record|recording failed|kept no file)")
    # The service is still up: the next caller leaves a message.
    await leave_message(carrier, observer, person.national, new_caller())
    await wait_for_messages(db, person.mailbox_id, 1)


@pytest.mark.serve_errors(
    r"ERROR reconnect_pbx\.flows\.channel: channel \S+: playback failed",
    r"ERROR reconnect_pbx\.flows\.deposit: channel \S+: Asterisk could not record the message",
    reason="format_wav is unloaded on purpose: neither playing nor recording WAV works",
)
async def test_a_recording_asterisk_refuses_to_start_ends_the_call_and_keeps_the_service_up(running_app, sandbox, carrier, observer, enrol, db):
    person = enrol()
    caller = new_caller()
    # Without its WAV format, Asterisk refuses the recording request itself (422: unknown format).
    with module_unloaded(sandbox, "format_wav.so"):
        call = await place_call(carrier, person.national, caller)
        await call.wait_hung_up(timeout=30)
    observed = await observer.call_from(caller)
    assert log_lines(running_app.log_text(), rf"ERROR .*channel {observed.channel_id}: Asterisk could not record the message")
    assert observed.recordings == []
    await leave_message(carrier, observer, person.national, new_caller())
    await wait_for_messages(db, person.mailbox_id, 1)


async def test_the_dialplan_voicemail_tells_the_caller_when_it_cannot_record(app_process, speech_sounds, sandbox, carrier, dialplan_watch, enrol):
    release_app_name(STASIS_APP)
    person = enrol()
    caller = new_caller()
    fallback = sandbox.pbx.host_dir / "spool/recording/fallback"
    fallback.mkdir(exist_ok=True)
    with unwritable(fallback):
        call = await place_call(carrier, person.national, caller)
        await call.wait_answered(timeout=15)
        steps = await dialplan_watch.wait_for(caller, "Record", timeout=30)
        await call.wait_hung_up(timeout=30)
    assert steps.media()[-2:] == ["technical-problem", "technical-problem"]
