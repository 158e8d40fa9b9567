"""Numbers, dates and times as Vietnamese readers write them, for pages, reports and the CSV.

Built on Babel's Vietnamese locale data (CLDR): ``1.234,5`` (a dot between thousands, a comma
before decimals), dates ``30/06/2026``. Every page, report and document formats through here,
so that one figure reads the same everywhere.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, localcontext

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from .sun import VIETNAM

LOCALE = "vi_VN"


def _pattern(decimals: int, grouped: bool) -> str:
    whole = "#,##0" if grouped else "0"
    return f"{whole}.{'0' * decimals}" if decimals else whole


def _decimal(value: float, decimals: int, grouped: bool) -> str:
    # Halves rounded up, as a reader rounds by hand: 0,05 is 0,1 (Babel rounds in the decimal
    # context, whose default rounds halves to even). Babel reads a float by its shortest repr.
    with localcontext(rounding=ROUND_HALF_UP):
        text = format_decimal(value, format=_pattern(decimals, grouped), locale=LOCALE)
    return text.removeprefix("-") if text.strip("-0,") == "" else text  # no "-0,0"


def number(value: float | None, decimals: int = 1) -> str:
    """``1.234,5`` with exactly ``decimals`` decimals, halves rounded up; None is empty."""
    return "" if value is None else _decimal(value, decimals, grouped=True)


def integer(value: float | None) -> str:
    """``3.948.131``, rounded to a whole number; None is empty."""
    return number(value, 0)


def spreadsheet_number(value: float | None, decimals: int = 1) -> str:
    """A number for a spreadsheet cell: a decimal comma and no thousands dots (``3948131,5``),
    so that Excel with Vietnamese settings reads it as a number to compute with and groups it
    itself (docs/decisions.md, "The report's CSV")."""
    return "" if value is None else _decimal(value, decimals, grouped=False)


def day(value: date) -> str:
    """``30/06/2026``."""
    return format_date(value, "dd/MM/yyyy", locale=LOCALE)


def moment(ts: float | None) -> str:
    """A Unix time as the local (UTC+7) ``13:05 30/06/2026``; None is empty."""
    if ts is None:
        return ""
    return format_datetime(datetime.fromtimestamp(ts, VIETNAM), "HH:mm dd/MM/yyyy", locale=LOCALE)


def moment_on(ts: float) -> str:
    """A Unix time as the local ``13:05 ngày 30/06/2026``, inside a sentence."""
    local = datetime.fromtimestamp(ts, VIETNAM)
    return format_datetime(local, "HH:mm 'ngày' dd/MM/yyyy", locale=LOCALE)


def date_line(place: str, value: date) -> str:
    """The place and date line of an administrative document, ``Chi Lăng Bắc, ngày 06 tháng 12
    năm 2026``: a day below 10, and the months 1 and 2, take a leading zero (Decree 30/2020)."""
    month = "MM" if value.month <= 2 else "M"
    return f"{place}, " + format_date(value, f"'ngày' dd 'tháng' {month} 'năm' yyyy", locale=LOCALE)
