"""A simulated bin node: filling, collection rounds, hourly batches and the full alarm."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from random import Random

from sangsach.contract import Batch, BinReading
from sangsach.simulators.faults import NO_FAULTS
from sangsach.simulators.node import Node, Output, Send
from sangsach.simulators.wastebin import (
    FULL_PCT,
    MEASURE_INTERVAL_S,
    MISSED_ROUNDS,
    SEND_INTERVAL_S,
    SENSOR_MIN_CM,
    BinNode,
    BinSpec,
    CollectionRounds,
)
from sangsach.sun import VIETNAM

START = int(datetime(2025, 3, 10, 12, 0, tzinfo=VIETNAM).timestamp())
DAILY = CollectionRounds("test/daily", every_days=1, phase=0, minute_of_day=7 * 60)
# every_days this large: no round falls in any test's days.
NEVER = CollectionRounds("test/never", every_days=10**6, phase=1, minute_of_day=0)


def drive(node: Node, until: int) -> list[tuple[int, Output]]:
    sent: list[tuple[int, Output]] = []
    for _ in range(100_000):
        if node.next_wake >= until:
            return sent
        t = node.next_wake
        sent.extend((t, output) for output in node.wake(t))
    raise AssertionError("the node does not advance")


def batches(sent: list[tuple[int, Output]]) -> list[tuple[int, Batch]]:
    return [(t, o.message) for t, o in sent if isinstance(o, Send) and isinstance(o.message, Batch)]


def bin_readings(sent: list[tuple[int, Output]]) -> list[BinReading]:
    found = [r for _, b in batches(sent) for r in b.readings]
    return [r for r in found if isinstance(r, BinReading)]


def fill(reading: BinReading) -> float:
    assert reading.fill_pct is not None  # the simulated sensor always answers
    return reading.fill_pct


def a_bin(rounds: CollectionRounds, litres_per_day: float = 300.0, seed: int = 1) -> BinNode:
    spec = BinSpec("bin-test-01", depth_cm=110, capacity_l=660, litres_per_day=litres_per_day,
                   rounds=rounds)  # fmt: skip
    return BinNode(spec, NO_FAULTS, Random(seed), START)


def test_measures_every_ten_minutes_and_sends_hourly_batches() -> None:
    sent = drive(a_bin(DAILY, litres_per_day=50), START + 2 * 86_400)
    rs = bin_readings(sent)
    assert [r.seq for r in rs] == list(range(len(rs)))
    assert all(b.ts - a.ts == MEASURE_INTERVAL_S for a, b in itertools.pairwise(rs))
    sends = [t for t, _ in batches(sent)]
    assert all(b - a <= SEND_INTERVAL_S for a, b in itertools.pairwise(sends))
    assert len(sends) >= 47
    assert all(Batch.model_validate_json(b.model_dump_json()) == b for _, b in batches(sent))


def test_distance_and_fill_agree_with_the_depth() -> None:
    for r in bin_readings(drive(a_bin(DAILY), START + 86_400)):
        assert r.distance_cm is not None
        assert SENSOR_MIN_CM <= r.distance_cm <= 110
        assert abs(fill(r) - 100 * (110 - r.distance_cm) / (110 - SENSOR_MIN_CM)) <= 0.1
        assert r.battery_v is not None and 3.0 <= r.battery_v <= 4.2
        assert r.temp_c is not None and 10 < r.temp_c < 40
        assert r.tilt_deg is not None and 0 <= r.tilt_deg < 10


def test_fills_at_the_rate_of_the_households_it_serves() -> None:
    node = a_bin(NEVER, litres_per_day=330.0)  # half of a 660 l bin a day
    before = node.level
    drive(node, START + 12 * 3600)
    # 12 hours of a 50%-a-day rate, with the +-30% noise of each interval averaged out.
    assert 0.2 < node.level - before < 0.3


def test_the_bin_empties_at_collection_rounds_only() -> None:
    rs = bin_readings(drive(a_bin(DAILY), START + 4 * 86_400))
    emptied = 0
    for before, after in itertools.pairwise(rs):
        if DAILY.last_between(before.ts, after.ts) is not None:
            emptied += 1
            assert fill(after) < 10
        else:
            assert fill(after) > fill(before) - 4.5  # the sensor's noise, no more
    assert emptied >= 3


def test_crossing_the_full_threshold_sends_at_once() -> None:
    sent = drive(a_bin(NEVER, litres_per_day=1500.0), START + 86_400)
    rs = bin_readings(sent)
    crossing = next(b for a, b in itertools.pairwise(rs) if fill(a) < FULL_PCT <= fill(b))
    sent_at = [(t, b.readings[-1]) for t, b in batches(sent)]
    assert (crossing.ts, crossing) in sent_at


def test_battery_drains_and_never_recovers() -> None:
    rs = bin_readings(drive(a_bin(DAILY), START + 3 * 86_400))
    volts = [r.battery_v or 0.0 for r in rs]
    assert volts == sorted(volts, reverse=True)
    assert volts[0] != volts[-1]


def test_collection_rounds_keep_to_their_days_and_miss_a_few() -> None:
    rounds = CollectionRounds("test/every-other-day", every_days=2, phase=1, minute_of_day=8 * 60)
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(2000)]
    done = [day for day in days if rounds.round_on(day) is not None]
    due = [day for day in days if (day.toordinal() + 1) % 2 == 0]
    assert set(done) <= set(due)
    missed = 1 - len(done) / len(due)
    assert abs(missed - MISSED_ROUNDS) < 0.04
    assert rounds.round_on(done[0]) == rounds.round_on(done[0])  # every bin of the point agrees


def test_last_between_finds_the_round_in_the_window_only() -> None:
    day = next(date(2025, 5, 1) + timedelta(days=n) for n in range(30)
               if DAILY.round_on(date(2025, 5, 1) + timedelta(days=n)))  # fmt: skip
    emptied = DAILY.round_on(day)
    assert emptied is not None
    assert DAILY.last_between(emptied - 600, emptied) == emptied
    assert DAILY.last_between(emptied, emptied + 600) is None
    assert DAILY.last_between(emptied - 3 * 86_400, emptied + 60) == emptied


def test_draw_is_the_same_for_the_same_key() -> None:
    assert CollectionRounds.draw("1/p1") == CollectionRounds.draw("1/p1")
    drawn = {CollectionRounds.draw(f"1/p{n}") for n in range(40)}
    assert {r.every_days for r in drawn} == {1, 2}
    assert all(6 * 60 <= r.minute_of_day < 10 * 60 for r in drawn)
