"""Report periods made of days: both days included, local midnights, clear refusals."""

from __future__ import annotations

import pytest

from sangsach.backend.reports.period import PeriodError, parse_period


def test_a_run_of_days_is_local_midnight_to_midnight() -> None:
    period = parse_period(" 2026-06-10..2026-06-12 ")
    assert (period.name, period.start, period.end) == (
        "2026-06-10..2026-06-12", 1_781_024_400, 1_781_024_400 + 3 * 86_400,
    )  # fmt: skip
    assert period.title == "từ ngày 10/06/2026 đến ngày 12/06/2026"
    assert (
        parse_period("2026-06-10..2026-06-10").end - parse_period("2026-06-10..2026-06-10").start
        == 86_400
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-06-12..2026-06-10", "the last day is before the first"),
        ("2026-02-30..2026-03-01", "day is out of range for month"),
        ("2025-01-01..2026-12-31", "at most 400 days"),
        ("2026-06-10..", "expected YYYY-MM, YYYY-H1, YYYY-H2 or YYYY"),
        ("0001-H1", "the year must be between 2000 and 2100"),
        ("2026-13", "the month must be between 01 and 12"),
        ("9999-12-31..9999-12-31", "the years must be between 2000 and 2100"),
    ],
)
def test_a_bad_run_of_days_is_refused_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(PeriodError, match=reason):
        parse_period(text)


def test_a_month_is_its_first_local_midnight_to_the_next() -> None:
    june = parse_period("2026-06")
    assert (june.title, june.start, june.end) == (
        "tháng 06/2026", 1_780_246_800, 1_780_246_800 + 30 * 86_400,
    )  # fmt: skip
    december = parse_period("2026-12")
    assert december.end == parse_period("2027-H1").start
