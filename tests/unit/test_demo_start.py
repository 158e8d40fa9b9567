"""The demo's simulated time starts early enough that, whenever it is started, its first
minutes show both Sáng (a dusk, lamps switching on) and Sạch (the morning collection rounds)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from sangsach.demo import BEFORE_ROUNDS, ROUNDS_END, demo_start
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.simulators.wastebin import CollectionRounds
from sangsach.sun import VIETNAM, dusk_dawn

COMMUNE = load_registry(SAMPLE_REGISTRY)
DEMO_SPEED = 600


@pytest.mark.parametrize("hour", range(24))
def test_the_demo_window_holds_a_dusk_and_a_morning_of_rounds(hour: int) -> None:
    now = datetime(2026, 12, 6, hour, 17, tzinfo=VIETNAM)
    start = demo_start(COMMUNE, now)
    assert start <= now
    info = COMMUNE.commune
    days = [now.date() - timedelta(days=back) for back in (0, 1, 2)]
    dusks = [dusk_dawn(info.latitude, info.longitude, day)[0] for day in days]
    assert any(start < dusk <= now for dusk in dusks), (start, now)
    mornings = [
        (datetime.combine(d, BEFORE_ROUNDS, VIETNAM), datetime.combine(d, ROUNDS_END, VIETNAM))
        for d in days
    ]
    assert any(start <= begin and end <= now for begin, end in mornings), (start, now)
    # caught up with the present within three minutes at the demo's speed
    assert (now - start) / DEMO_SPEED <= timedelta(minutes=3)


def test_the_simulated_rounds_fall_within_the_demos_morning() -> None:
    """The window above counts on the simulator's rounds (drawn per gathering point from the
    seed) falling between BEFORE_ROUNDS and ROUNDS_END, and on some point being emptied on
    each morning: otherwise the demo's first minutes would show no bin emptied."""
    points = [point.id for village in COMMUNE.villages for point in village.points]
    first = BEFORE_ROUNDS.hour * 60 + BEFORE_ROUNDS.minute
    last = ROUNDS_END.hour * 60 + ROUNDS_END.minute
    for seed in range(1, 21):  # the demo's seed is 1
        rounds = [CollectionRounds.draw(f"{seed}/point/{point}", VIETNAM) for point in points]
        assert all(first <= r.minute_of_day < last for r in rounds), seed
        for back in range(7):
            day = date(2026, 12, 6) - timedelta(days=back)
            assert any(r.round_on(day) is not None for r in rounds), (seed, day)
