"""Domain services: operations shared by the CLI and the call flows. No click, no ARI here."""

from datetime import datetime
from zoneinfo import ZoneInfo

# The centres are in France: dates in messages and listings are French dates.
LOCAL_TIMEZONE = ZoneInfo("Europe/Paris")


def local_date(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TIMEZONE).date().isoformat()
