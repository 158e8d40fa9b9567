"""Report periods in local time (Vietnam, UTC+7): a month ``2026-06``, ``2026-H1``, ``2026-H2``,
``2026``, or any run of days ``2026-06-10..2026-06-12`` (both days included, at most 400 days).
Years run from 2000 to 2100."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sangsach.sun import VIETNAM

_PERIOD = re.compile(r"^(\d{4})(?:-H([12]))?$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAYS = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
MAX_DAYS = 400
MIN_YEAR, MAX_YEAR = 2000, 2100
# The forms a period takes, as a clerk reads them: beside every refusal of one, on the pages
# and the command line (the parser's own reasons are English).
PERIOD_HINT = (
    "Kỳ viết là 2026-06 (một tháng), 2026-H1 hoặc 2026-H2 (nửa năm), 2026 (cả năm) hoặc "
    f"2026-06-10..2026-06-12 (các ngày liền nhau, tối đa {MAX_DAYS} ngày), trong các năm "
    f"{MIN_YEAR}–{MAX_YEAR}."
)


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
    month = _MONTH.match(text.strip())
    match = _PERIOD.match(text.strip())
    if not match and not month:
        raise PeriodError(
            f"period {text!r}: expected YYYY-MM, YYYY-H1, YYYY-H2 or YYYY (or days "
            "YYYY-MM-DD..YYYY-MM-DD), e.g. 2026-H1"
        )
    year = int((match or month).group(1))  # type: ignore[union-attr]
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"period {text!r}: the year must be between {MIN_YEAR} and {MAX_YEAR}")
    if month:
        number = int(month.group(2))
        if not 1 <= number <= 12:
            raise PeriodError(f"period {text!r}: the month must be between 01 and 12")
        first, last = (year, number), (year + number // 12, number % 12 + 1)
        title = f"tháng {number:02d}/{year}"
        start = datetime(first[0], first[1], 1, tzinfo=VIETNAM)
        end = datetime(last[0], last[1], 1, tzinfo=VIETNAM)
        return Period(text.strip(), title, int(start.timestamp()), int(end.timestamp()))
    assert match is not None
    half = match.group(2)
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
    if not (first.year >= MIN_YEAR and last.year <= MAX_YEAR):
        raise PeriodError(f"period {name!r}: the years must be between {MIN_YEAR} and {MAX_YEAR}")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(f"period {name!r}: at most {MAX_DAYS} days")
    start = datetime.combine(first, time(), VIETNAM)
    end = datetime.combine(last + timedelta(days=1), time(), VIETNAM)
    title = f"từ ngày {first:%d/%m/%Y} đến ngày {last:%d/%m/%Y}"
    return Period(name, title, int(start.timestamp()), int(end.timestamp()))
