"""The Vietnamese lunar calendar against published dates, and the festival nights the lighting
rule lights till dawn."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from sangsach.contract import LightingWindow
from sangsach.lighting import LightingSchedule, village_schedules
from sangsach.lunar import FestivalNights, lunar_of, parse_lunar_day, solar_of
from sangsach.registry_file import SAMPLE_REGISTRY, RegistryFileError, load_registry, parse_registry
from sangsach.sun import VIETNAM

# Tết Nguyên đán as the Vietnamese calendars print it. 1985 and 2007 are years where the
# Chinese calendar (UTC+8) puts it elsewhere: 20 February 1985 and 18 February 2007.
TET = {
    1985: date(1985, 1, 21), 2007: date(2007, 2, 17), 2015: date(2015, 2, 19),
    2016: date(2016, 2, 8), 2017: date(2017, 1, 28), 2018: date(2018, 2, 16),
    2019: date(2019, 2, 5), 2020: date(2020, 1, 25), 2021: date(2021, 2, 12),
    2022: date(2022, 2, 1), 2023: date(2023, 1, 22), 2024: date(2024, 2, 10),
    2025: date(2025, 1, 29), 2026: date(2026, 2, 17), 2027: date(2027, 2, 6),
}  # fmt: skip


@pytest.mark.parametrize("year", sorted(TET))
def test_tet_is_the_published_day(year: int) -> None:
    assert solar_of(1, 1, year) == TET[year]
    assert lunar_of(TET[year]).text() == "1/1" and lunar_of(TET[year]).year == year
    eve = lunar_of(TET[year] - timedelta(days=1))
    assert (eve.month, eve.year) == (12, year - 1) and eve.day in (29, 30)


def test_mid_autumn_and_a_leap_month() -> None:
    assert solar_of(15, 8, 2025) == date(2025, 10, 6)  # Tết Trung thu 2025
    assert lunar_of(date(2023, 3, 23)).text() == "2/2 nhuận"  # 2023 had a leap second month
    with pytest.raises(ValueError):
        solar_of(1, 5, 2023, leap=True)  # 2023's leap month is the second


def test_the_nights_a_commune_lights_till_dawn() -> None:
    nights = FestivalNights(village_days=[("10/2", "Hội làng Đông Hạ")], village_id="dong-ha")
    year = {f.day: f for f in nights.between(date(2026, 1, 1), date(2026, 12, 31))}
    lit = sorted(day for day, f in year.items() if f.all_night)
    # The eve of Tết, the first full moon, the village's festival, Mid-Autumn.
    assert lit == [date(2026, 2, 16), date(2026, 3, 3), date(2026, 3, 28), date(2026, 9, 25)]
    assert year[date(2026, 3, 28)].name == "Hội làng Đông Hạ"  # 10/2 in 2026
    assert year[date(2026, 3, 28)].village_id == "dong-ha"
    assert not year[date(2026, 8, 27)].all_night  # Vu Lan: not chosen by default
    assert nights(date(2026, 2, 16)) and not nights(date(2026, 2, 17))
    monthly = FestivalNights(["ram"])
    full_moons = [
        f.day for f in monthly.between(date(2026, 1, 1), date(2026, 2, 28)) if f.all_night
    ]
    assert full_moons == [date(2026, 1, 3), date(2026, 2, 2)]  # 15/11 and 15/12 of the lunar year
    assert all(lunar_of(day).day == 15 for day in full_moons)


def test_a_part_night_programme_gives_way_on_a_festival_night() -> None:
    part_night = [LightingWindow(on="17:30", off="23:00"), LightingWindow(on="04:00", off="06:30")]
    plain = LightingSchedule(20.697, 106.214, part_night)
    festive = LightingSchedule(20.697, 106.214, part_night, all_night=FestivalNights())
    eve = date(2026, 2, 16)
    one_am = int(datetime.combine(eve + timedelta(days=1), time(1, 0), VIETNAM).timestamp())
    assert not plain.is_lit(one_am) and festive.is_lit(one_am)
    day_after = one_am + 86_400  # the night of Tết itself keeps the programme
    assert not festive.is_lit(day_after)


def test_the_registry_names_a_bad_lunar_day_and_the_rule_reads_its_festivals() -> None:
    text = SAMPLE_REGISTRY.read_text(encoding="utf-8")
    assert load_registry(SAMPLE_REGISTRY).festival_nights == [
        "giao-thua", "ram-thang-gieng", "trung-thu",
    ]  # fmt: skip
    village = "  - id: lac-duc\n"  # a part-night programme: dark at 1 a.m. on other nights
    assert village in text

    def with_festival(day: str) -> str:
        return text.replace(
            village, village + f"    festivals: [{{lunar_day: '{day}', name: Hội làng}}]\n"
        )

    one_am = int(datetime.combine(date(2026, 3, 29), time(1, 0), VIETNAM).timestamp())
    assert not village_schedules(parse_registry(text))["lac-duc"].is_lit(one_am)
    assert village_schedules(parse_registry(with_festival("10/2")))["lac-duc"].is_lit(one_am)
    for bad in ("13/2/1", "31/2", "10/13"):
        with pytest.raises(RegistryFileError, match="lunar_day"):
            parse_registry(with_festival(bad))
    with pytest.raises(ValueError, match="expected a lunar day"):
        parse_lunar_day("mười")
    bad_key = text.replace("villages:", "festival_nights: [tet, halloween]\nvillages:", 1)
    with pytest.raises(RegistryFileError, match="festival_nights"):
        parse_registry(bad_key)
