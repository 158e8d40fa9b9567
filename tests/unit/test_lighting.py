"""A lamp's schedule: dark hours, cut to the village programme, shifted by the lamp's error."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sangsach.contract import LightingWindow
from sangsach.lighting import LightingSchedule, window_span
from sangsach.sun import VIETNAM, dusk_dawn, is_dark

LAT, LON = 20.72, 106.23
PART_NIGHT = (LightingWindow(on="17:30", off="23:00"), LightingWindow(on="04:00", off="06:30"))


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=VIETNAM).timestamp())


def night(day: date) -> tuple[int, int]:
    dusk, dawn = dusk_dawn(LAT, LON, day)
    return int(dusk.timestamp()), int(dawn.timestamp())


def test_without_programme_the_lamp_is_lit_when_dark() -> None:
    schedule = LightingSchedule(LAT, LON)
    t = at("2025-02-01T00:00")
    while t < at("2025-02-04T00:00"):
        dark = is_dark(LAT, LON, datetime.fromtimestamp(t, VIETNAM))
        # The schedule rounds the coordinates (to share sun computations): a few seconds.
        dusk, dawn = night(datetime.fromtimestamp(t, VIETNAM).date())
        if min(abs(t - dusk), abs(t - dawn)) > 10:
            assert schedule.is_lit(t) == dark, datetime.fromtimestamp(t, VIETNAM)
        t += 600


def test_next_change_is_the_next_sunset_then_the_next_sunrise() -> None:
    schedule = LightingSchedule(LAT, LON)
    dusk, dawn = night(date(2025, 2, 1))
    first = schedule.next_change(at("2025-02-01T12:00"))
    assert first is not None
    assert abs(first - dusk) <= 10
    second = schedule.next_change(first)
    assert second is not None
    assert abs(second - dawn) <= 10


def test_part_night_programme_in_winter() -> None:
    schedule = LightingSchedule(LAT, LON, PART_NIGHT)
    assert schedule.is_lit(at("2025-12-20T20:00"))
    assert not schedule.is_lit(at("2025-12-20T23:30"))
    assert not schedule.is_lit(at("2025-12-21T02:00"))
    assert schedule.is_lit(at("2025-12-21T05:00"))  # still dark in December
    assert not schedule.is_lit(at("2025-12-21T06:45"))  # the window has closed
    assert schedule.next_change(at("2025-12-20T21:00")) == at("2025-12-20T23:00")


def test_part_night_programme_never_lights_in_daylight() -> None:
    schedule = LightingSchedule(LAT, LON, PART_NIGHT)
    dusk, dawn = night(date(2025, 6, 20))
    assert not schedule.is_lit(at("2025-06-20T17:45"))  # window open, but the sun is up
    assert schedule.is_lit(dusk + 60)
    assert schedule.is_lit(at("2025-06-21T04:30"))
    assert not schedule.is_lit(dawn + 60)  # window open until 06:30, but the sun is up


def test_shifts_move_the_switching_times() -> None:
    exact = LightingSchedule(LAT, LON)
    late = LightingSchedule(LAT, LON, on_shift_s=90, off_shift_s=-60)
    on = exact.next_change(at("2025-03-01T12:00"))
    assert on is not None
    assert late.next_change(at("2025-03-01T12:00")) == on + 90
    off = exact.next_change(on)
    assert off is not None
    assert late.next_change(on + 90) == off - 60


def test_windows_belong_to_the_evening_or_the_morning_after() -> None:
    evening, morning = (window_span(date(2025, 3, 1), w, VIETNAM) for w in PART_NIGHT)
    assert evening == (at("2025-03-01T17:30"), at("2025-03-01T23:00"))
    assert morning == (at("2025-03-02T04:00"), at("2025-03-02T06:30"))
    overnight = window_span(date(2025, 3, 1), LightingWindow(on="22:00", off="05:00"), VIETNAM)
    assert overnight == (at("2025-03-01T22:00"), at("2025-03-02T05:00"))


def test_daylight_is_sunrise_to_sunset_of_the_local_day() -> None:
    schedule = LightingSchedule(LAT, LON)
    sunrise, sunset = schedule.daylight(at("2025-04-10T09:00"))
    assert abs(sunrise - night(date(2025, 4, 9))[1]) <= 10
    assert abs(sunset - night(date(2025, 4, 10))[0]) <= 10
    assert sunset - sunrise > timedelta(hours=11).total_seconds()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=at("2025-06-01T00:00"), max_value=at("2025-06-09T00:00")),
             min_size=1, max_size=40),
    st.booleans(),
)  # fmt: skip
def test_is_lit_gives_the_spans_answer_whatever_the_order_of_questions(
    times: list[int], programme: bool
) -> None:
    # is_lit keeps its last answer for the interval between two switching times: a walk that
    # jumps across days and edges, back and forth, must still get the plain answer each time.
    windows = PART_NIGHT if programme else ()
    schedule = LightingSchedule(LAT, LON, windows)
    plain = LightingSchedule(LAT, LON, windows)
    near_edges = [e + d for t in times for e in _edges(plain, t) for d in (-1, 0, 1)]
    for t in [*times, *near_edges, *reversed(times)]:
        expected = any(a <= t < b for a, b in plain._spans_near(t))
        assert schedule.is_lit(t) == expected, t


def _edges(schedule: LightingSchedule, t: int) -> list[int]:
    return [edge for span in schedule._spans_near(t) for edge in span]
