"""Sunset and sunrise: against published times for Hà Nội, and is_dark against dusk_dawn."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from sangsach.sun import VIETNAM, dusk_dawn, is_dark

HANOI = (21.0285, 105.8542)
COMMUNE = (20.72, 106.23)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VIETNAM)


@pytest.mark.parametrize(
    ("day", "published_sunset", "published_sunrise"),
    [
        # Published times for Hà Nội (NOAA solar calculator), to the minute.
        (date(2024, 6, 21), "2024-06-21T18:41", "2024-06-22T05:16"),
        (date(2024, 12, 21), "2024-12-21T17:20", "2024-12-22T06:30"),
    ],
)
def test_dusk_dawn_matches_published_times(
    day: date, published_sunset: str, published_sunrise: str
) -> None:
    dusk, dawn = dusk_dawn(*HANOI, day)
    assert abs(dusk - local(published_sunset)) < timedelta(minutes=3)
    assert abs(dawn - local(published_sunrise)) < timedelta(minutes=3)


def test_dusk_dawn_is_utc_and_spans_one_night() -> None:
    dusk, dawn = dusk_dawn(*COMMUNE, date(2025, 3, 3))
    assert dusk.utcoffset() == timedelta(0)
    assert dawn.utcoffset() == timedelta(0)
    assert dusk.astimezone(VIETNAM).date() == date(2025, 3, 3)
    assert dawn.astimezone(VIETNAM).date() == date(2025, 3, 4)
    assert timedelta(hours=10) < dawn - dusk < timedelta(hours=14)


def test_winter_nights_are_longer_than_summer_nights() -> None:
    summer = dusk_dawn(*COMMUNE, date(2025, 6, 21))
    winter = dusk_dawn(*COMMUNE, date(2025, 12, 21))
    assert winter[1] - winter[0] > summer[1] - summer[0] + timedelta(hours=2)


def test_is_dark_switches_exactly_at_sunset_and_sunrise() -> None:
    dusk, dawn = dusk_dawn(*COMMUNE, date(2025, 9, 10))
    second = timedelta(seconds=1)
    assert not is_dark(*COMMUNE, dusk - second)
    assert is_dark(*COMMUNE, dusk)
    assert is_dark(*COMMUNE, dawn - second)
    assert not is_dark(*COMMUNE, dawn)


def test_is_dark_agrees_with_dusk_dawn_over_several_days() -> None:
    nights = [dusk_dawn(*COMMUNE, date(2025, 1, 10) + timedelta(days=n)) for n in range(-1, 5)]
    when = datetime(2025, 1, 10, tzinfo=UTC)
    while when < datetime(2025, 1, 14, tzinfo=UTC):
        expected = any(dusk <= when < dawn for dusk, dawn in nights)
        assert is_dark(*COMMUNE, when) == expected, when
        when += timedelta(minutes=17)


def test_noon_is_light_and_midnight_dark() -> None:
    assert not is_dark(*COMMUNE, local("2025-05-01T12:00"))
    assert is_dark(*COMMUNE, local("2025-05-01T00:00"))


def test_is_dark_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_dark(*COMMUNE, datetime(2025, 5, 1, 12, 0))
