"""Messages recovered from Asterisk's recording spool: whose they are, and storing them once.

Two kinds of file wait there when a message could not be stored as the call went:

- ``fallback/fallback-<DID>-<caller>-<epoch ms>-<channel>``: recorded by the dialplan alone while the
  application was not connected, or had no database (``dialplan/fallback.conf``). ``<caller>`` is
  the digits Asterisk had, ``00`` standing for a leading ``+``, or ``withheld``.
- ``deposit-<DID>-<caller>-<epoch ms>-<channel>``: recorded by the deposit flow
  (``flows/deposit.py``) of an application that died, or could not reach the database, before
  storing it. ``<DID>`` and ``<caller>`` are E.164 without the ``+``.

``<channel>`` is the Asterisk channel id with ``.`` written ``-``. The name is all there is: the
message goes to whoever held the DID **at the time of the call** (not now: the number may have
changed hands since), and is stored once per channel (``NewMessage.source_channel_id``), so a file
ingested twice (two sweeps, or a sweep and the call itself) is one message.

No transport here: ``reconnect_pbx/reconcile.py`` lists, fetches and deletes the files over ARI.
"""

from __future__ import annotations

import enum
import logging
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import FollowSettings
from ..models import CallDirection, CallRecord
from ..phone import caller_e164
from ..storage import AudioStore, wav_duration_ms
from . import outbound, voicemail

log = logging.getLogger(__name__)

# The folder (under Asterisk's recording spool) and file name prefix of the dialplan's recordings.
FALLBACK_DIR = "fallback"
FALLBACK_PREFIX = "fallback"
# The deposit flow's recordings (flows/deposit.py, _recording_name).
DEPOSIT_PREFIX = "deposit"
WITHHELD = "withheld"

# A recording cut by a crash (its header never finished) is kept from this length, even below the
# usual minimum: the end of what the caller said is lost, the beginning may be all there is.
CUT_MINIMUM_MS = 500

# Any length of digits: a name the dialplan wrote is always read (a DID nobody can hold is then
# dropped as such, a caller too long for a number is withheld), never left in the spool.
_NAME = re.compile(
    r"^(?P<kind>fallback|deposit)-(?P<did>[0-9]{1,200})-(?P<caller>[0-9]{1,200}|withheld)-(?P<time>[0-9]{9,14})-(?P<channel>[A-Za-z0-9-]{1,80})$"
)
# Asterisk's unique ids: "<epoch>.<sequence>", optionally "<system name>-" before.
_CHANNEL = re.compile(r"^(?P<head>.*[0-9])-(?P<seq>[0-9]+)$")


class Outcome(enum.Enum):
    STORED = "stored"
    # The same channel's message is already in the database: only the file is left to delete.
    ALREADY_STORED = "already stored"
    # Nobody held the number at the time (unassigned, quarantined, closed): dropped, logged.
    NO_HOLDER = "no holder at that time"
    TOO_SHORT = "too short"


@dataclass(frozen=True)
class SpoolMessage:
    """What a spool file's name says about the call that left it."""

    # The recording name as ARI lists it ("fallback/fallback-...", "deposit-...").
    name: str
    kind: str
    # The number dialled, E.164 for a French number (as the dialplan passes DIDs).
    dialled: str
    # The caller in E.164; None when withheld, or not a phone number.
    caller: str | None
    received_at: datetime
    channel_id: str


def parse_spool_name(name: str, region: str = "FR") -> SpoolMessage | None:
    """The call behind a recording name; None for a name that is not one of ours."""
    folder, _, base = name.rpartition("/")
    match = _NAME.match(base)
    if match is None:
        return None
    kind = match["kind"]
    if (kind == FALLBACK_PREFIX) != (folder == FALLBACK_DIR) or folder not in ("", FALLBACK_DIR):
        return None
    stamp = int(match["time"])
    # Milliseconds (a time in seconds, 10 digits, is read as such): the holder of a number is
    # looked up at that moment, and a second's rounding could fall before an assignment began.
    seconds = stamp / 1000 if len(match["time"]) > 10 else float(stamp)
    try:
        received_at = datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    raw_caller = match["caller"]
    if raw_caller == WITHHELD:
        caller = None
    elif kind == DEPOSIT_PREFIX:
        caller = caller_e164("+" + raw_caller, "allowed", region)
    else:
        # The caller ID as Asterisk had it, read by the application's own rule: the same caller is
        # stored whether the application or the dialplan took the call. Too long, or anything else
        # that is no number, is a withheld caller: the message is still the person's.
        caller = caller_e164("+" + raw_caller[2:] if raw_caller.startswith("00") else raw_caller, "allowed", region)
    return SpoolMessage(
        name=name,
        kind=kind,
        dialled="+" + match["did"],
        caller=caller,
        received_at=received_at,
        channel_id=channel_id_from_name(match["channel"]),
    )


def channel_id_from_name(written: str) -> str:
    """``1795735575-12`` -> ``1795735575.12``: the channel id as Asterisk knows it."""
    match = _CHANNEL.match(written)
    return f"{match['head']}.{match['seq']}" if match else written


def repair_wav(data: bytes) -> bytes:
    """A WAV whose header was never finished (Asterisk stopped while writing it) made whole.

    Asterisk writes the sizes in the header when it closes the file; a file left open by a crash
    says 0 bytes of audio. What was written is all there: sizes are set from the file's length.
    Returns ``data`` itself when nothing needed repair (``repaired is data`` tells)."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return data
    position = 12
    while position + 8 <= len(data):
        chunk, size = data[position : position + 4], struct.unpack_from("<I", data, position + 4)[0]
        if chunk == b"data":
            actual = len(data) - position - 8
            if size == actual:
                return data
            if size > actual or size == 0:
                fixed = bytearray(data)
                struct.pack_into("<I", fixed, position + 4, actual)
                struct.pack_into("<I", fixed, 4, len(data) - 8)
                return bytes(fixed)
            return data
        position += 8 + size + (size & 1)
    return data


def ingest(
    session: Session,
    store: AudioStore,
    message: SpoolMessage,
    audio: bytes,
    *,
    min_duration_ms: int,
    capacity: int,
    source_channel_id: str | None = None,
    alert_rules: FollowSettings | None = None,
) -> tuple[Outcome, int | None]:
    """Store one recovered message in the mailbox of whoever held the number at the time.

    Returns what happened and the message id (when stored). Raises ``InvalidAudio`` for a file
    that is not audio at all: the caller keeps it in the spool and says so. A full mailbox
    (``capacity``) takes it all the same: nobody could tell the caller it was full."""
    repaired = repair_wav(audio)
    duration_ms = wav_duration_ms(repaired)
    if duration_ms < (CUT_MINIMUM_MS if repaired is not audio else min_duration_ms):
        return Outcome.TOO_SHORT, None
    audio = repaired
    target = voicemail.find_mailbox_for_number(session, message.dialled, message.received_at)
    if target is None:
        return Outcome.NO_HOLDER, None
    if target.message_count >= capacity:
        log.warning("mailbox %s is full; a recovered message is stored beyond its capacity", target.mailbox_id)
    message_id = voicemail.store_message(
        session,
        store,
        voicemail.NewMessage(
            mailbox_id=target.mailbox_id,
            caller_number=message.caller,
            called_number=target.number,
            received_at=message.received_at,
            duration_ms=duration_ms,
            source_channel_id=source_channel_id or message.channel_id,
        ),
        audio,
        alert_rules=alert_rules,
    )
    if message_id is None:
        return Outcome.ALREADY_STORED, None
    return Outcome.STORED, message_id


def finish_orphan_call(session: Session, channel_id: str, ended_at: datetime) -> int | None:
    """Write the end of the outgoing call whose channel was ``channel_id``: its driver died, the
    next process watched the conversation to its end (``ended_at``). Outcome ``interrupted``,
    billed up to that end. Returns the billable seconds; None when no such call is in progress."""
    call_id = session.scalar(
        select(CallRecord.id).where(
            CallRecord.channel_id == channel_id,
            CallRecord.direction == CallDirection.OUTBOUND,
            CallRecord.outcome == outbound.IN_PROGRESS,
            CallRecord.ended_at.is_(None),
        )
    )
    if call_id is None:
        return None
    return outbound.finish_call(session, call_id, outcome=outbound.INTERRUPTED, ended_at=ended_at)
