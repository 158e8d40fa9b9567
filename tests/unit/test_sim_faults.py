"""The fault plan: seeded, in proportion to the fleet, and inside the run."""

from __future__ import annotations

from collections import Counter

from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.simulators.faults import (
    LAMP_FAULT_RATES,
    OPEN_ENDED_SPAN_S,
    OUTAGE_RATE,
    UNSYNCED_RATE,
    Kind,
    LampFault,
    plan_faults,
)

START = 1_750_000_000
END = START + 6 * 3600
DEVICES: dict[str, Kind] = {d.id: d.kind for d in load_registry(SAMPLE_REGISTRY).devices()}
LAMPS = sum(kind == "lamp" for kind in DEVICES.values())


def test_the_same_seed_gives_the_same_plan_whatever_the_order() -> None:
    plan = plan_faults(DEVICES, seed=4, start=START, end=END)
    reversed_order = dict(reversed(list(DEVICES.items())))
    assert plan_faults(reversed_order, seed=4, start=START, end=END) == plan
    assert plan_faults(DEVICES, seed=5, start=START, end=END) != plan


def test_each_fault_hits_its_share_of_the_fleet() -> None:
    plan = plan_faults(DEVICES, seed=1, start=START, end=END)
    lamp_faults = Counter(f.lamp for f in plan.values() if f.lamp is not None)
    assert lamp_faults == {fault: round(rate * LAMPS) for fault, rate in LAMP_FAULT_RATES.items()}
    assert sum(f.outage is not None for f in plan.values()) == round(OUTAGE_RATE * len(DEVICES))
    assert sum(f.unsynced_readings > 0 for f in plan.values()) == round(
        UNSYNCED_RATE * len(DEVICES)
    )


def test_lamp_faults_hit_lamps_only_and_start_in_the_first_half() -> None:
    plan = plan_faults(DEVICES, seed=2, start=START, end=END)
    for device_id, faults in plan.items():
        if faults.lamp is not None:
            assert DEVICES[device_id] == "lamp"
            assert START <= faults.lamp_since <= START + (END - START) / 2
            assert isinstance(faults.lamp, LampFault)


def test_outages_end_before_the_run_does() -> None:
    for seed in range(10):
        for faults in plan_faults(DEVICES, seed=seed, start=START, end=END).values():
            if faults.outage is not None:
                assert START < faults.outage.start < faults.outage.end < END
                assert faults.outage.end - faults.outage.start >= 60


def test_open_ended_runs_get_their_faults_in_the_first_day() -> None:
    plan = plan_faults(DEVICES, seed=3, start=START, end=None)
    outages = [f.outage for f in plan.values() if f.outage is not None]
    assert outages
    assert all(o.end < START + OPEN_ENDED_SPAN_S for o in outages)


def test_unsynced_devices_miss_a_few_readings_only() -> None:
    plan = plan_faults(DEVICES, seed=6, start=START, end=END)
    assert {f.unsynced_readings for f in plan.values()} <= {0, 2, 3, 4, 5}


def test_a_small_fleet_may_have_no_faults() -> None:
    assert plan_faults({"lamp-a-001": "lamp"}, seed=1, start=START, end=END) == {}
