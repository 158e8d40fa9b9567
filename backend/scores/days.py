"""Local days (Vietnam, UTC+7): the unit of the daily rollups."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from sangsach.sun import VIETNAM


def local_midnight(day: date) -> int:
    return int(datetime.combine(day, time(), VIETNAM).timestamp())


def local_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, VIETNAM).date()


def days_between(first: date, last: date) -> Iterator[date]:
    """``first`` to ``last``, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def next_day(day: date) -> date:
    return day + timedelta(days=1)
