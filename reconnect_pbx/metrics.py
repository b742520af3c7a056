"""Prometheus metrics: what the call flows count, and the endpoint ``serve`` exposes them on.

The flows only count, with one line each (``metrics.MESSAGES_STORED.inc()``); ``serve`` starts a
``MetricsServer`` on ``metrics.listen_address:listen_port`` (loopback by default, port 0 disables)
answering ``GET /metrics``. Everything lives in our own registry, never prometheus_client's global
one: a test or a library registering metrics of its own cannot collide with ours.

The series (counters end in ``_total`` once exposed)::

    reconnect_calls_in_progress{flow}          gauge    calls a flow is handling now
    reconnect_messages_stored_total            counter  voicemail messages stored
    reconnect_login_failures_total             counter  PIN logins refused (wrong PIN, unknown number)
    reconnect_login_locks_total                counter  mailboxes locked by repeated PIN failures
    reconnect_login_suspensions_total          counter  mailboxes whose PIN login got suspended
    reconnect_login_alerts_total               counter  mailboxes reaching access.alert_after_failures (staff alerted)
    reconnect_login_braked_total{scope}        counter  logins answered "try again later" by the brake (caller, service)
    reconnect_outbound_refused_total{category} counter  outgoing calls refused by the destination policy
    reconnect_outbound_billed_seconds_total    counter  outgoing call time billed (divide by 60: minutes)
    reconnect_follow_calls_total{outcome}      counter  calls that rang the current phone first (taken, voicemail...)
    reconnect_phone_confirmations_total{outcome} counter confirmation calls to a current phone
    reconnect_alert_calls_total{outcome}       counter  new-message alert calls (answered: 1 pressed)
    reconnect_phone_changes_total{action}      counter  changes of a current phone (audit log: phone.set...)
    reconnect_ari_reconnections_total          counter  ARI websocket reconnections since start
    reconnect_ari_connected                    gauge    1 while the ARI websocket is up
    process_*                                  the serve process (memory, CPU, open files)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .ari import AriClient

log = logging.getLogger(__name__)

# The classic text format, which every Prometheus reads (our names need none of 1.0.0's escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

CALLS_IN_PROGRESS = Gauge(
    "reconnect_calls_in_progress", "Calls a call flow is handling now.", ["flow"], registry=REGISTRY
)
MESSAGES_STORED = Counter("reconnect_messages_stored", "Voicemail messages stored.", registry=REGISTRY)
LOGIN_FAILURES = Counter(
    "reconnect_login_failures", "PIN logins refused (wrong PIN or unknown number).", registry=REGISTRY
)
LOGIN_LOCKS = Counter("reconnect_login_locks", "Mailboxes locked after repeated PIN failures.", registry=REGISTRY)
LOGIN_SUSPENSIONS = Counter(
    "reconnect_login_suspensions", "Mailboxes whose PIN login was suspended.", registry=REGISTRY
)
LOGIN_ALERTS = Counter(
    "reconnect_login_alerts", "Mailboxes whose consecutive PIN failures reached the staff alert.", registry=REGISTRY
)
LOGIN_BRAKED = Counter(
    "reconnect_login_braked",
    "Logins answered 'try again later' by the brake on guessing, per calling number or service-wide.",
    ["scope"],
    registry=REGISTRY,
)
OUTBOUND_REFUSED = Counter(
    "reconnect_outbound_refused",
    "Outgoing calls refused by the destination policy, by category of destination.",
    ["category"],
    registry=REGISTRY,
)
FOLLOW_CALLS = Counter(
    "reconnect_follow_calls",
    "Calls to a personal number that rang the person's current phone first, by how they ended"
    " (taken, voicemail, caller-hung-up).",
    ["outcome"],
    registry=REGISTRY,
)
PHONE_CONFIRMATIONS = Counter(
    "reconnect_phone_confirmations",
    "Confirmation calls to a person's current phone, by outcome (confirmed, refused, no-answer...).",
    ["outcome"],
    registry=REGISTRY,
)
ALERT_CALLS = Counter(
    "reconnect_alert_calls",
    "New-message alert calls to a person's current phone, by outcome (answered, no-answer, busy...).",
    ["outcome"],
    registry=REGISTRY,
)
PHONE_CHANGES = Counter(
    "reconnect_phone_changes",
    "Changes of a person's current phone (set, cleared, follow on/off...), read from the audit log.",
    ["action"],
    registry=REGISTRY,
)
OUTBOUND_BILLED_SECONDS = Counter(
    "reconnect_outbound_billed_seconds", "Outgoing call time billed, in seconds.", registry=REGISTRY
)


class AriCollector(Collector):
    """Reads the ARI client's own counters at each scrape."""

    def __init__(self, client: AriClient) -> None:
        self._client = client

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "reconnect_ari_reconnections",
            "ARI websocket reconnections since serve started.",
            value=self._client.reconnections,
        )
        yield GaugeMetricFamily(
            "reconnect_ari_connected", "1 while the ARI event websocket is up.", value=int(self._client.connected)
        )
        yield CounterMetricFamily(
            "reconnect_ari_requests", "ARI REST requests sent since serve started.", value=self._client.requests_sent
        )
        events = CounterMetricFamily(
            "reconnect_ari_events", "ARI events received since serve started, by type.", labels=["type"]
        )
        for event_type, count in sorted(self._client.events_received.items()):
            events.add_metric([event_type], count)
        yield events


class MetricsServer:
    """``GET /metrics`` on the configured address; nothing at all when the port is 0."""

    def __init__(self, listen_address: str, listen_port: int, client: AriClient, flows: Iterable[str] = ()) -> None:
        self._listen = (listen_address, listen_port)
        self._collector = AriCollector(client)
        self._flows = tuple(flows)
        self._runner: web.AppRunner | None = None

    @property
    def enabled(self) -> bool:
        return self._listen[1] != 0

    async def start(self) -> None:
        if not self.enabled:
            log.info("metrics disabled (metrics.listen_port = 0)")
            return
        # Every flow shows 0 from the start, instead of appearing with its first call.
        for flow in self._flows:
            CALLS_IN_PROGRESS.labels(flow=flow)
        REGISTRY.register(self._collector)
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, *self._listen).start()
        except OSError as exc:
            # Calls matter more than their statistics: serve goes on without the endpoint.
            log.error("metrics: cannot listen on %s:%s (%s); serving calls without metrics", *self._listen, exc)
            await self.stop()
            return
        except BaseException:
            await self.stop()
            raise
        log.info("metrics on http://%s:%s/metrics", *self._listen)

    async def stop(self) -> None:
        if self._runner is None:
            return
        await self._runner.cleanup()
        self._runner = None
        REGISTRY.unregister(self._collector)

    @staticmethod
    async def _metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE})
