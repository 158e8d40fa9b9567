"""The seeded fault plan: which devices misbehave during a run, how and when.

Faults a commune sees and the system must alert on: a burnt-out lamp (relay on, no current),
a day-burner (a relay stuck on), a cycling lamp (toggling at night), a node that drops off the
network and comes back rebooted, and a node whose clock is not yet synced when it starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from random import Random
from typing import Final, Literal

Kind = Literal["lamp", "bin"]


class LampFault(StrEnum):
    BURNT_OUT = "burnt_out"  # relay on, no current: the node reports fault=true
    DAY_BURNER = "day_burner"  # relay stuck on, day and night
    CYCLING = "cycling"  # toggles every few minutes while it should be lit


@dataclass(frozen=True, slots=True)
class Outage:
    """The node is down from ``start`` to ``end`` (Unix seconds) and then boots again."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class DeviceFaults:
    lamp: LampFault | None = None
    lamp_since: int = 0
    outage: Outage | None = None
    unsynced_readings: int = 0  # the first readings of the first boot, before the clock is set


NO_FAULTS: Final = DeviceFaults()

# Share of the lamps with each lamp fault, and of all devices with the other faults.
LAMP_FAULT_RATES: Final = {
    LampFault.BURNT_OUT: 0.02,
    LampFault.DAY_BURNER: 0.01,
    LampFault.CYCLING: 0.01,
}
OUTAGE_RATE: Final = 0.02
UNSYNCED_RATE: Final = 0.03
# An open-ended run places its faults in its first day.
OPEN_ENDED_SPAN_S: Final = 86_400


def plan_faults(
    devices: Mapping[str, Kind], *, seed: int, start: int, end: int | None
) -> dict[str, DeviceFaults]:
    """Faults per device id; devices left out have none. The same seed gives the same plan.

    Outages start in the first 60% of the run and last 5-25% of it, so the node is back, with
    its boot counter one higher, before the run ends.
    """
    rng = Random(f"{seed}/faults")
    span = (end - start) if end is not None else OPEN_ENDED_SPAN_S
    ids = sorted(devices)  # the plan must not depend on the registry's order
    plan: dict[str, DeviceFaults] = {}

    lamps = [device_id for device_id in ids if devices[device_id] == "lamp"]
    rng.shuffle(lamps)
    taken = 0
    for fault, rate in LAMP_FAULT_RATES.items():
        count = round(rate * len(lamps))
        for device_id in lamps[taken : taken + count]:
            since = start + int(span * rng.uniform(0.0, 0.5))
            plan[device_id] = DeviceFaults(lamp=fault, lamp_since=since)
        taken += count

    for device_id in rng.sample(ids, round(OUTAGE_RATE * len(ids))):
        down = start + int(span * rng.uniform(0.1, 0.6))
        up = down + max(60, int(span * rng.uniform(0.05, 0.25)))
        plan[device_id] = replace(plan.get(device_id, NO_FAULTS), outage=Outage(down, up))

    for device_id in rng.sample(ids, round(UNSYNCED_RATE * len(ids))):
        readings = rng.randint(2, 5)
        plan[device_id] = replace(plan.get(device_id, NO_FAULTS), unsynced_readings=readings)
    return plan
