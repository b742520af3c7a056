"""The calls ``serve`` places by itself: confirmation calls and new-message alerts to a person's
current phone (``services/alerts.py``: due alerts are claimed at each poll, on ``clock``).

Requests live in PostgreSQL (``current_phones.confirmation_requested_at``: ``phone set``, ``phone
confirm``, the PIN menu), so they survive a restart and any process may write them. Every
``follow.poll_seconds`` one request is taken off the queue and its call placed
(``flows/follow.confirm_phone``), tracked as a call of the application (``adopt``): reconcile leaves
its leg alone while it lives, and hangs it up if we died. The same loop counts the changes of
current phones (``phone.*`` audit events, from any process) in ``reconnect_phone_changes_total``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from . import metrics
from .db import DatabaseUnavailable
from .flows import follow
from .services import alerts, current_phone
from .stasis import StasisApplication

log = logging.getLogger(__name__)


class PhoneCalls:
    def __init__(self, application: StasisApplication, clock: Callable[[], datetime] | None = None) -> None:
        self.application = application
        self.ctx = application.ctx
        # When alerts are due and quiet hours end: the wall clock, unless a test gives another.
        self.clock = clock or (lambda: datetime.now(UTC))
        self._last_change: int | None = None
        self._requeued = False

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: place the confirmation calls wanted, count the phone changes."""
        try:
            await self.count_changes()  # where counting starts: the changes made from now on
        except Exception as exc:
            log.warning("phone calls: phone changes not counted from the start (%s)", exc)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.ctx.settings.follow.poll_seconds)
                return
            except TimeoutError:
                pass
            try:
                await self.count_changes()
                if self.ctx.client.connected:
                    await self.place_confirmations()
                    await self.place_alerts()
            except DatabaseUnavailable as exc:
                log.warning("phone calls: database unavailable (%s)", exc)
            except Exception:
                log.exception("phone calls: the poll failed")

    async def count_changes(self) -> None:
        changes = await self.ctx.db(current_phone.changes_after, self._last_change)
        for change_id, action in changes:
            if action:
                metrics.PHONE_CHANGES.labels(action=action.removeprefix(current_phone.AUDIT_PREFIX)).inc()
            self._last_change = change_id

    async def place_confirmations(self) -> None:
        while (request := await self.ctx.db(current_phone.claim_confirmation)) is not None:
            leg = follow.confirmation_leg(self.ctx, request)
            log.info("%s: confirmation call for person %s", leg.far_id, request.beneficiary_id)
            self.application.adopt(leg.far_id, follow.confirm_phone(self.ctx, request, leg))

    async def place_alerts(self) -> None:
        if not self._requeued:
            # Alerts a dead process was calling for are due again.
            requeued = await self.ctx.db(alerts.requeue_interrupted)
            if requeued:
                log.warning("phone calls: %d alert(s) left calling by a dead process are due again", requeued)
            self._requeued = True
        for call in await self.ctx.db(alerts.claim_due, now=self.clock()):
            leg = follow.alert_leg(self.ctx, call)
            log.info("%s: alert %s for person %s (attempt %d)", leg.far_id, call.alert_id, call.beneficiary_id, call.attempt)
            self.application.adopt(leg.far_id, follow.alert_person(self.ctx, call, leg))
