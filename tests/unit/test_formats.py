"""Vietnamese numbers and dates, from Babel's vi_VN data: what pages, reports and the CSV show."""

from __future__ import annotations

from datetime import date

import pytest
from babel.numbers import get_decimal_symbol, get_group_symbol

from sangsach import formats


def test_vietnamese_groups_thousands_with_a_dot_and_decimals_with_a_comma() -> None:
    # The locale data itself, not only our patterns: a change of it upstream shows here.
    assert (get_group_symbol("vi_VN"), get_decimal_symbol("vi_VN")) == (".", ",")
    assert formats.number(1234.5) == "1.234,5"
    assert formats.number(95) == "95,0"
    assert formats.number(97.6912, 2) == "97,69"
    assert formats.integer(3948130.55) == "3.948.131"
    assert formats.integer(999) == "999"
    assert formats.number(1_234_567.891, 2) == "1.234.567,89"
    assert formats.number(-1234.5) == "-1.234,5"


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [(0.05, 1, "0,1"), (0.15, 1, "0,2"), (2.675, 2, "2,68"), (94.95, 1, "95,0"), (12.5, 0, "13")],
)
def test_halves_are_rounded_up_as_by_hand(value: float, decimals: int, shown: str) -> None:
    assert formats.number(value, decimals) == shown


def test_nothing_shows_as_empty_and_no_negative_zero() -> None:
    assert formats.number(None) == formats.integer(None) == formats.moment(None) == ""
    assert formats.spreadsheet_number(None) == ""
    assert formats.number(-0.04) == "0,0"


def test_a_spreadsheet_number_has_a_decimal_comma_and_no_thousands_dots() -> None:
    assert formats.spreadsheet_number(3948130.55, 2) == "3948130,55"
    assert formats.spreadsheet_number(1234.25) == "1234,3"
    assert formats.spreadsheet_number(7, 0) == "7"


def test_dates_and_times_day_first_in_local_time() -> None:
    assert formats.day(date(2026, 6, 30)) == "30/06/2026"
    assert formats.day(date(2026, 1, 1)) == "01/01/2026"
    h2 = 1782838800  # 2026-07-01 00:00 in Vietnam (UTC+7)
    assert formats.moment(h2) == "00:00 01/07/2026"
    assert formats.moment(h2 - 60) == "23:59 30/06/2026"
    assert formats.moment_on(h2 + 13 * 3600 + 300) == "13:05 ngày 01/07/2026"


def test_the_date_line_of_a_document() -> None:
    # Days below 10 and the months 1 and 2 take a leading zero, as administrative papers write.
    assert formats.date_line("Chi Lăng Bắc", date(2026, 12, 6)) == (
        "Chi Lăng Bắc, ngày 06 tháng 12 năm 2026"
    )
    assert formats.date_line("Chi Lăng Bắc", date(2023, 2, 16)) == (
        "Chi Lăng Bắc, ngày 16 tháng 02 năm 2023"
    )
    assert formats.date_line("X", date(2026, 6, 30)) == "X, ngày 30 tháng 6 năm 2026"
