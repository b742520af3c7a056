"""The follow path under load (``bench/load.py --scenario follow``, issue #13).

Every deposit call goes to a number whose person has a confirmed current phone with follow on; the
phone never answers, so each call rings it for ``ring_seconds`` and then falls back to the greeting
and the recording, as a call to a person whose phone is off.

- The application: ``serve`` rings the phone (an outgoing leg on the trunk under the callback
  limits), then the deposit flow as usual.
- The baseline, on the same pbx in the same run: Asterisk's own ``FollowMe()`` (``followme.conf``,
  one entry per box, the same phone and ring time), then the same greeting and ``VoiceMail()``.

The phones are ``+33695...`` numbers; the carrier of the sandbox rings them for ever
(``Ringing()``, never an answer). Kept apart from the other scenarios: the rest of the bench only
calls the hooks here when the scenario is ``follow``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from reconnect_pbx.db import make_engine, make_session_factory, transaction
from reconnect_pbx.models import Beneficiary, CurrentPhone, NumberAssignment, PhoneNumber
from reconnect_pbx.sandbox import Sandbox

from .rig import APP_FIRST

SCENARIO = "follow"
# The bench's phones (French mobiles the carrier rings for ever), and the DIDs of the FollowMe()
# boxes: +3396XXXXXXX follows phone i, then leaves the message in box 3399XXXXXXX.
PHONE_FIRST = 33695000000
NATIVE_FOLLOW_FIRST = 33960000000
DIAL_CONTEXT = "bench-follow-dial"

# The pbx's dialplan of the baseline: ringback while FollowMe() rings the phone (option N: the
# caller is not answered before it gives up, as the application), then the deposit as in
# bench-voicemail.conf.
_PBX_DIALPLAN = [
    "[from-trunk](+)",
    f"exten = _+3396XXXXXXX,1,Goto(bench-native-follow,${{EXTEN}},1)",
    "[bench-native-follow]",
    "exten = _+3396XXXXXXX,1,Ringing()",
    " same = n,FollowMe(${EXTEN:1},N)",
    " same = n,Goto(bench-native,+3399${EXTEN:5},1)",
    f"[{DIAL_CONTEXT}]",
    "exten = _+33695XXXXXX,1,Dial(PJSIP/${EXTEN}@trunk)",
]
# The carrier: the bench's phones ring and are never answered (the caller gives up).
_CARRIER_DIALPLAN = [
    "[from-pbx](+)",
    "exten = _+33695XXXXXX,1,Ringing()",
    " same = n,Wait(600)",
]


def phone(index: int) -> str:
    return f"+{PHONE_FIRST + index}"


def customise_sandbox(sandbox: Sandbox, work: Path, boxes: int, ring_seconds: int) -> None:
    """FollowMe() boxes on the pbx, phones that never answer on the carrier (before the start)."""
    followme = work / "followme.conf"
    entries = ["[general]", "featuredigittimeout=5000", ""]
    for i in range(boxes):
        entries += [f"[{NATIVE_FOLLOW_FIRST + i}]", f"context={DIAL_CONTEXT}", f"number={phone(i)},{ring_seconds}", ""]
    followme.write_text("\n".join(entries))
    pbx = sandbox.pbx
    pbx.extra_files = {**pbx.extra_files, "followme.conf": followme}
    pbx.appended_lines = {
        **pbx.appended_lines,
        "extensions.conf": [*pbx.appended_lines.get("extensions.conf", []), *_PBX_DIALPLAN],
        "modules.conf": [*pbx.appended_lines.get("modules.conf", []), "load = app_followme.so", "load = app_dial.so"],
    }
    carrier = sandbox.carrier
    carrier.appended_lines = {
        **carrier.appended_lines,
        "extensions.conf": [*carrier.appended_lines.get("extensions.conf", []), *_CARRIER_DIALPLAN],
    }


def give_phones(database_url: str) -> int:
    """Every bench person gets a confirmed phone, follow on, alerts off (no alert call after the
    message: only the follow path is measured). Returns how many."""
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    now = datetime.now(timezone.utc)
    with transaction(factory) as session:
        rows = session.execute(
            select(Beneficiary.id, PhoneNumber.e164)
            .join(NumberAssignment, NumberAssignment.beneficiary_id == Beneficiary.id)
            .join(PhoneNumber, PhoneNumber.id == NumberAssignment.phone_number_id)
            .where(NumberAssignment.ended_at.is_(None))
        ).all()
        for person_id, number in rows:
            index = int(number[1:]) - APP_FIRST
            session.add(CurrentPhone(
                beneficiary_id=person_id, e164=phone(index), category="mobile", follow=True, alerts=False,
                set_at=now, set_by="bench", confirmed_at=now,
            ))  # fmt: skip
    engine.dispose()
    return len(rows)


def serve_env(max_calls: int, ring_seconds: int) -> dict[str, str]:
    """serve's settings for the scenario: every call may ring its phone at once."""
    return {
        "RECONNECT_FOLLOW_RING_SECONDS": str(ring_seconds),
        "RECONNECT_CALLBACK_MAX_SIMULTANEOUS_CALLS": str(max(max_calls, 10)),
    }


def table(results: list, ring_seconds: int) -> str:  # type: ignore[type-arg]
    """Per phase: CPU per call and the time from the end of the ring to the greeting (INVITE->200
    minus the ring time: both answer the caller with the greeting once the phone gave up)."""
    from .measure import percentile

    lines = [
        f"Follow: each call rings a phone that never answers for {ring_seconds} s, then the greeting and the message.",
        "",
        "| N | target | ok / failed | stored (silent) | app ms/call | Asterisk ms/call | PG ms/call | total ms/call |"
        " ring end → greeting p50/95/max ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        after = [ms - ring_seconds * 1000 for ms in r.answer_ms]
        pcts = "/".join(f"{percentile(after, p):.0f}" for p in (50, 95)) + f"/{max(after):.0f}" if after else "-"
        total = sum(r.cpu_ms.values()) / r.calls if r.calls else 0
        app = r.per_call("app")
        pg = r.per_call("postgres")
        lines.append(
            f"| {r.n} | {'application' if r.target == 'app' else 'FollowMe() + VoiceMail()'} |"
            f" {r.sipp_successful} / {r.sipp_failed} | {r.stored}/{r.deposits} ({r.silent}) |"
            f" {f'{app:.1f}' if app is not None and r.target == 'app' else '-'} | {r.per_call('asterisk') or 0:.1f} |"
            f" {f'{pg:.1f}' if pg is not None and r.target == 'app' else '-'} | {total:.1f} | {pcts} |"
        )
    return "\n".join(lines) + "\n"
