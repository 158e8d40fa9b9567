"""Report periods in local time (Vietnam, UTC+7): ``2026-H1``, ``2026-H2``, ``2026``, or any
run of days ``2026-06-10..2026-06-12`` (both days included, at most 400 days)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sangsach.sun import VIETNAM

_PERIOD = re.compile(r"^(\d{4})(?:-H([12]))?$")
_DAYS = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
MAX_DAYS = 400


class PeriodError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    title: str  # in Vietnamese, for the report
    start: int  # Unix seconds, inclusive
    end: int  # Unix seconds, exclusive


def parse_period(text: str) -> Period:
    days = _DAYS.match(text.strip())
    if days:
        return _days(text.strip(), days.group(1), days.group(2))
    match = _PERIOD.match(text.strip())
    if not match:
        raise PeriodError(
            f"period {text!r}: expected YYYY-H1, YYYY-H2 or YYYY (or days "
            "YYYY-MM-DD..YYYY-MM-DD), e.g. 2026-H1"
        )
    year, half = int(match.group(1)), match.group(2)
    if half is None:
        first, last, title = (year, 1), (year + 1, 1), f"năm {year}"
    elif half == "1":
        first, last, title = (year, 1), (year, 7), f"6 tháng đầu năm {year}"
    else:
        first, last, title = (year, 7), (year + 1, 1), f"6 tháng cuối năm {year}"
    start = datetime(first[0], first[1], 1, tzinfo=VIETNAM)
    end = datetime(last[0], last[1], 1, tzinfo=VIETNAM)
    return Period(text.strip(), title, int(start.timestamp()), int(end.timestamp()))


def _days(name: str, first_text: str, last_text: str) -> Period:
    try:
        first, last = date.fromisoformat(first_text), date.fromisoformat(last_text)
    except ValueError as err:
        raise PeriodError(f"period {name!r}: {err}") from err
    if last < first:
        raise PeriodError(f"period {name!r}: the last day is before the first")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(f"period {name!r}: at most {MAX_DAYS} days")
    start = datetime.combine(first, time(), VIETNAM)
    end = datetime.combine(last + timedelta(days=1), time(), VIETNAM)
    title = f"từ ngày {first:%d/%m/%Y} đến ngày {last:%d/%m/%Y}"
    return Period(name, title, int(start.timestamp()), int(end.timestamp()))
