"""Report periods: ``2026-H1``, ``2026-H2`` and ``2026``, in local time (Vietnam, UTC+7)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sangsach.sun import VIETNAM

_PERIOD = re.compile(r"^(\d{4})(?:-H([12]))?$")


class PeriodError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    title: str  # in Vietnamese, for the report
    start: int  # Unix seconds, inclusive
    end: int  # Unix seconds, exclusive


def parse_period(text: str) -> Period:
    match = _PERIOD.match(text.strip())
    if not match:
        raise PeriodError(f"period {text!r}: expected YYYY-H1, YYYY-H2 or YYYY, e.g. 2026-H1")
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
