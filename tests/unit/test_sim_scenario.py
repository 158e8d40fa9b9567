"""The sample commune over two simulated hours, without a network: order, keys, repeatability."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from functools import cache

import pytest

from sangsach.contract import Batch, BinReading, LampReading
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.simulators.faults import plan_faults
from sangsach.simulators.invalid import BadMessage
from sangsach.simulators.node import Birth, Crash, Send, first_boot
from sangsach.simulators.scenario import Event, device_kinds, timeline
from sangsach.sun import VIETNAM

COMMUNE = load_registry(SAMPLE_REGISTRY)
START = int(datetime(2025, 3, 10, 0, 0, tzinfo=VIETNAM).timestamp())  # local midnight
END = START + 2 * 3600
WALL = 1_780_000_000.0


@cache
def events(seed: int = 1, bad_rate: float = 0.05) -> tuple[Event, ...]:
    run = timeline(COMMUNE, seed=seed, start=START, end=END, bad_rate=bad_rate, wall=lambda: WALL)
    return tuple(run)


def readings(evs: tuple[Event, ...]) -> list[LampReading | BinReading]:
    found: list[LampReading | BinReading] = []
    for e in evs:
        if isinstance(e.what, Send):
            message = e.what.message
            found.extend(message.readings if isinstance(message, Batch) else [message])
    return found


def test_the_same_seed_gives_the_same_events() -> None:
    again = tuple(timeline(COMMUNE, seed=1, start=START, end=END, bad_rate=0.05, wall=lambda: WALL))
    assert again == events()
    assert events(seed=2) != events()


def test_events_are_in_time_order_within_the_run() -> None:
    times = [e.t for e in events()]
    assert times == sorted(times)
    assert times[0] == START and times[-1] < END


def test_every_device_boots_first_and_reports() -> None:
    first: dict[str, Event] = {}
    for e in events():
        first.setdefault(e.client_id, e)
    registry = device_kinds(COMMUNE)
    assert all(isinstance(first[d].what, Birth) for d in registry)
    assert {r.id for r in readings(events())} == set(registry)


def test_reading_keys_count_up_from_zero_in_each_boot() -> None:
    keys: dict[tuple[str, int], list[int]] = defaultdict(list)
    for r in readings(events()):
        keys[(r.id, r.boot)].append(r.seq)
    assert all(seqs == list(range(len(seqs))) for seqs in keys.values())


def test_bad_messages_never_reuse_a_valid_key() -> None:
    valid = {(r.id, r.boot, r.seq) for r in readings(events())}
    bad = [e.what for e in events() if isinstance(e.what, BadMessage)]
    assert bad
    for message in bad:
        try:
            data = json.loads(message.payload)
        except ValueError:
            continue
        if isinstance(data, dict):
            assert (data["id"], data["boot"], data["seq"]) not in valid


def test_bad_messages_do_not_change_the_valid_stream() -> None:
    def valid(evs: tuple[Event, ...]) -> list[Event]:
        return [e for e in evs if not isinstance(e.what, BadMessage)]

    assert valid(events(bad_rate=0.0)) == valid(events(bad_rate=0.05))


def test_offline_devices_come_back_with_the_next_boot() -> None:
    crashed = {e.client_id: e.t for e in events() if isinstance(e.what, Crash)}
    assert crashed
    for device_id, down in crashed.items():
        births = [
            (e.t, e.what.boot)
            for e in events()
            if e.client_id == device_id and isinstance(e.what, Birth)
        ]
        b1 = first_boot(START)
        assert births[0] == (START, b1)
        assert births[1][0] > down and births[1][1] == b1 + 1
        assert any(r.id == device_id and r.boot == b1 + 1 for r in readings(events()))


def test_part_night_village_is_dark_after_23h_and_the_others_lit() -> None:
    faulty = plan_faults(device_kinds(COMMUNE), seed=1, start=START, end=END)
    programme = {
        lamp.id for v in COMMUNE.villages if v.lighting for lane in v.lanes for lamp in lane.lamps
    }
    assert programme
    checked = 0
    for r in readings(events()):
        if isinstance(r, LampReading) and r.id not in faulty and r.ts > START + 600:
            assert r.on == (r.id not in programme), r
            checked += 1
    assert checked > 1000


def test_every_bin_sends_a_batch_within_the_two_hours() -> None:
    bins = {d for d, kind in device_kinds(COMMUNE).items() if kind == "bin"}
    senders = {e.client_id for e in events() if isinstance(e.what, Send)}
    assert bins <= senders


def test_refuses_a_run_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        timeline(COMMUNE, seed=1, start=START, end=START, bad_rate=0.0, wall=lambda: WALL)
