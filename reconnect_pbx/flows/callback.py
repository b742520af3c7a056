"""Callback: a logged-in person calls back a caller, or dials a landline, for free.

The access flow calls ``call_out`` on key 2 and gets the person back in its menu when it returns.
"""

from __future__ import annotations

from .channel import CallChannel
from .context import FlowContext


async def call_out(
    ctx: FlowContext,
    channel: CallChannel,
    *,
    beneficiary_id: int,
    own_number: str,
    language: str,
    destination: str | None,
    is_callback: bool,
) -> None:
    """Place the outbound call (``destination``: E.164 for a callback, typed digits otherwise;
    None for a withheld caller), bridge it, and return when it ends."""
    await channel.play([ctx.prompt("not-available-yet", language)], interrupt="0123456789*#")
