"""Quiet hours of new-message alerts (services/alerts.next_allowed), on the Paris clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from reconnect_pbx.config import FollowSettings
from reconnect_pbx.services.alerts import next_allowed

RULES = FollowSettings()  # 21:00-08:00 Europe/Paris


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "moment, allowed",
    [
        ("2026-12-02T12:00", "2026-12-02T12:00"),  # 13:00 Paris: at once
        ("2026-12-02T19:59", "2026-12-02T19:59"),  # 20:59 Paris: at once
        ("2026-12-02T20:00", "2026-12-03T07:00"),  # 21:00 Paris: 08:00 the next morning
        ("2026-12-02T23:30", "2026-12-03T07:00"),  # 00:30 Paris: 08:00 the same morning
        ("2026-12-03T06:59", "2026-12-03T07:00"),
        ("2026-12-03T07:00", "2026-12-03T07:00"),
        ("2026-07-01T19:30", "2026-07-02T06:00"),  # summer time: 21:30 Paris, 08:00 is 06:00 UTC
    ],
)
def test_an_alert_waits_for_the_end_of_the_quiet_hours(moment, allowed):
    assert next_allowed(utc(moment), RULES) == utc(allowed)


def test_quiet_hours_within_one_day_and_none_at_all():
    afternoon = FollowSettings(alert_quiet_start_hour=13, alert_quiet_end_hour=14)
    assert next_allowed(utc("2026-12-02T12:30"), afternoon) == utc("2026-12-02T13:00")
    assert next_allowed(utc("2026-12-02T13:00"), afternoon) == utc("2026-12-02T13:00")
    never = FollowSettings(alert_quiet_start_hour=0, alert_quiet_end_hour=0)
    assert next_allowed(utc("2026-12-02T23:00"), never) == utc("2026-12-02T23:00")
