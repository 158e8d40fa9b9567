"""Simulated time runs fast through the past and never ahead of the real clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sangsach.simulators.clock import SimClock

REAL_NOW = 1_750_000_000.0


class FakeTime:
    def __init__(self) -> None:
        self.elapsed = 0.0

    def monotonic(self) -> float:
        return 1000.0 + self.elapsed

    def wall(self) -> float:
        return REAL_NOW + self.elapsed


def clock_from(hours_ago: float, speed: float) -> tuple[SimClock, FakeTime]:
    fake = FakeTime()
    start = datetime.fromtimestamp(REAL_NOW - hours_ago * 3600, UTC)
    clock = SimClock(start, speed, monotonic=fake.monotonic, wall=fake.wall)
    return clock, fake


def test_runs_speed_times_faster_until_it_catches_up() -> None:
    clock, fake = clock_from(hours_ago=6, speed=360)
    assert clock.now() == REAL_NOW - 6 * 3600
    fake.elapsed = 30
    assert clock.now() == REAL_NOW - 6 * 3600 + 360 * 30
    fake.elapsed = 60.0 * 3600 / 3590  # the moment simulated time meets real time
    assert clock.now() == pytest.approx(fake.wall())
    fake.elapsed = 120
    assert clock.now() == fake.wall()  # then speed 1: never in the future


def test_seconds_until_a_simulated_moment() -> None:
    clock, fake = clock_from(hours_ago=1, speed=60)
    assert clock.seconds_until(REAL_NOW - 3600 + 600) == pytest.approx(10)
    fake.elapsed = 4
    assert clock.seconds_until(REAL_NOW - 3600 + 600) == pytest.approx(6)
    assert clock.seconds_until(REAL_NOW - 3600) == 0
    # Simulated time catches up after 61 s, then runs at speed 1.
    assert clock.seconds_until(REAL_NOW + 100) == pytest.approx(96)


def test_real_now_follows_the_monotonic_clock() -> None:
    clock, fake = clock_from(hours_ago=1, speed=10)
    fake.elapsed = 7
    assert clock.real_now() == REAL_NOW + 7


def test_a_start_at_now_runs_in_real_time() -> None:
    clock, fake = clock_from(hours_ago=0, speed=1000)
    fake.elapsed = 5
    assert clock.now() == REAL_NOW + 5


@pytest.mark.parametrize(
    ("start", "speed", "message"),
    [
        (datetime(2025, 1, 1), 10.0, "timezone-aware"),
        (datetime(2025, 1, 1, tzinfo=UTC), 0.0, "positive"),
        (datetime.fromtimestamp(REAL_NOW + 60, UTC), 10.0, "future"),
    ],
)
def test_refuses_bad_arguments(start: datetime, speed: float, message: str) -> None:
    fake = FakeTime()
    with pytest.raises(ValueError, match=message):
        SimClock(start, speed, monotonic=fake.monotonic, wall=fake.wall)
