"""The Vietnamese lunar calendar's festivals, and the nights the lamps stay lit till dawn.

Dates come from ``lunar-vn``, which computes the Vietnamese calendar (new moons and solar terms
at UTC+7, Hồ Ngọc Đức's method). The Chinese calendar, computed at UTC+8, puts some months a day
apart, and in some years Tết itself (2007: 17 February in Vietnam, 18 February in China):
tests/unit/test_lunar.py checks the published dates of Tết.

A commune chooses which festivals light its lamps all night (``festival_nights`` in the
registry; by default the New Year's Eve, the first full moon and Mid-Autumn), and a village adds
its own festival days (``festivals``: a lunar day and a name). "All night" is the night that
starts on the evening of that day, from dusk to dawn, whatever the village's part-night
programme says; the lighting rule (sangsach/lighting.py) asks ``FestivalNights`` about each night.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Final, Literal

import lunar_vn

FestivalKey = Literal[
    "giao-thua", "tet", "ram-thang-gieng", "ram-thang-bay", "trung-thu", "ong-cong-ong-tao",
    "ram", "mung-mot",
]  # fmt: skip

# key -> (lunar month, lunar day) and its name; "giao-thua" is the eve of Tết (the year's last
# day, the 29th or the 30th of the twelfth month), "ram"/"mung-mot" every month's 15th and 1st.
FESTIVALS: Final[dict[str, tuple[int, int, str]]] = {
    "tet": (1, 1, "Tết Nguyên đán"),
    "ram-thang-gieng": (1, 15, "Rằm tháng Giêng"),
    "ram-thang-bay": (7, 15, "Rằm tháng Bảy (Vu Lan)"),
    "trung-thu": (8, 15, "Tết Trung thu"),
    "ong-cong-ong-tao": (12, 23, "Ông Công Ông Táo"),
}
EVE: Final = "giao-thua"
EVE_NAME: Final = "Đêm Giao thừa"
MONTHLY: Final[dict[str, tuple[int, str]]] = {"ram": (15, "Rằm"), "mung-mot": (1, "Mùng một")}
DEFAULT_NIGHTS: Final[tuple[FestivalKey, ...]] = ("giao-thua", "ram-thang-gieng", "trung-thu")


@dataclass(frozen=True, slots=True)
class LunarDay:
    day: int
    month: int
    year: int
    leap: bool

    def text(self) -> str:
        """As Vietnamese calendars print it: 15/8 (âm lịch), a leap month marked."""
        return f"{self.day}/{self.month}{' nhuận' if self.leap else ''}"


@dataclass(frozen=True, slots=True)
class Festival:
    day: date  # the solar day; its night is the one that starts that evening
    lunar: LunarDay
    name: str
    all_night: bool  # the lamps stay lit from dusk to dawn that night
    village_id: str | None = None  # a village's own festival; None: the whole commune


@lru_cache(maxsize=8192)
def lunar_of(day: date) -> LunarDay:
    found = lunar_vn.solar_to_lunar(day)
    return LunarDay(found.day, found.month, found.year, bool(found.leap))


def solar_of(day: int, month: int, year: int, leap: bool = False) -> date:
    """The solar day of a lunar date; ValueError when that lunar day does not exist."""
    return lunar_vn.lunar_to_solar(lunar_vn.LunarDate(day, month, year, leap))


def parse_lunar_day(text: str) -> tuple[int, int]:
    """``"10/2"`` (the 10th of the second lunar month) -> (10, 2); ValueError naming the text."""
    try:
        day_text, month_text = text.split("/")
        day, month = int(day_text), int(month_text)
    except ValueError:
        raise ValueError(f"{text!r}: expected a lunar day as DD/MM, such as 10/2") from None
    if not (1 <= month <= 12 and 1 <= day <= 30):
        raise ValueError(f"{text!r}: a lunar month is 1 to 12, a day 1 to 30")
    return day, month


class FestivalNights:
    """Which nights a village's lamps stay lit till dawn, and the festivals of a span of days."""

    def __init__(
        self,
        keys: Iterable[str] = DEFAULT_NIGHTS,
        village_days: Iterable[tuple[str, str]] = (),
        village_id: str | None = None,
    ) -> None:
        self.keys = frozenset(keys)
        self.village_id = village_id
        self._village: dict[tuple[int, int], str] = {}
        for lunar_text, name in village_days:
            self._village[parse_lunar_day(lunar_text)] = name

    def __call__(self, night: date) -> bool:
        return any(f.all_night for f in self.on(night))

    def on(self, day: date) -> list[Festival]:
        """The festivals of one solar day (most days: none)."""
        lunar = lunar_of(day)
        found = []
        if _is_new_year(day):
            found.append(Festival(day, lunar, EVE_NAME, EVE in self.keys))
        if not lunar.leap:
            for key, (month, mday, name) in FESTIVALS.items():
                if (lunar.month, lunar.day) == (month, mday):
                    found.append(Festival(day, lunar, name, key in self.keys))
            village = self._village.get((lunar.day, lunar.month))
            if village is not None:
                found.append(Festival(day, lunar, village, True, self.village_id))
        for key, (mday, name) in MONTHLY.items():
            if lunar.day == mday and key in self.keys:
                found.append(Festival(day, lunar, f"{name} tháng {lunar.month}", True))
        return found

    def between(self, start: date, end: date) -> list[Festival]:
        """The festivals of the days from ``start`` to ``end`` (inclusive)."""
        days = (start + timedelta(days=n) for n in range((end - start).days + 1))
        return [festival for day in days for festival in self.on(day)]


def days_to_tet(day: date, within: int) -> int | None:
    """How many days from ``day`` to the next Tết (1: ``day`` is the eve), when Tết is at most
    ``within`` days away; None otherwise (and on Tết itself)."""
    for ahead in range(1, within + 1):
        if _is_new_year(day + timedelta(days=ahead - 1)):
            return ahead
    return None


def _is_new_year(eve: date) -> bool:
    """``eve`` is the lunar year's last day: the next day is Tết."""
    after = lunar_of(eve + timedelta(days=1))
    return (after.month, after.day, after.leap) == (1, 1, False)
