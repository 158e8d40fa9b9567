"""Sunset and sunrise at the commune: lamps are required from sunset to the next sunrise.

Pure functions on top of astral. A "day" is a local calendar day in Vietnam (Asia/Ho_Chi_Minh,
UTC+7, no daylight saving), so the night of 3 March runs from the sunset of 3 March to the
sunrise of 4 March, local time. The simulators use this for the lamps' schedule; the backend's
Sáng score uses it for the required lighting windows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import sunrise, sunset

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def dusk_dawn(lat: float, lon: float, day: date, tz: tzinfo = VIETNAM) -> tuple[datetime, datetime]:
    """The sunset of the local date ``day`` and the sunrise after it, both in UTC.

    astral raises ValueError where the sun does not set or rise that day (polar latitudes).
    """
    observer = Observer(latitude=lat, longitude=lon)
    dusk: datetime = sunset(observer, day, tzinfo=tz)
    dawn: datetime = sunrise(observer, day + timedelta(days=1), tzinfo=tz)
    return dusk.astimezone(UTC), dawn.astimezone(UTC)


def is_dark(lat: float, lon: float, when_utc: datetime, tz: tzinfo = VIETNAM) -> bool:
    """True from a sunset to the next sunrise: the time the lamps must be lit."""
    if when_utc.tzinfo is None:
        raise ValueError(f"when_utc must be timezone-aware, got {when_utc!r}")
    observer = Observer(latitude=lat, longitude=lon)
    today = when_utc.astimezone(tz).date()
    rise: datetime = sunrise(observer, today, tzinfo=tz)
    down: datetime = sunset(observer, today, tzinfo=tz)
    return when_utc < rise or when_utc >= down
