"""A streetlight node: a relay on the village schedule, a current sensor and a photocell.

It reports when the relay switches and as a heartbeat every report interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, tzinfo
from random import Random
from typing import Final

from sangsach.contract import DeviceConfig, LampReading, LightingWindow
from sangsach.lighting import LightingSchedule
from sangsach.sun import VIETNAM

from .faults import DeviceFaults, LampFault
from .node import Node, Output, Send

REPORT_INTERVAL_S: Final[int] = DeviceConfig.model_fields["report_interval_s"].default
MAINS_V: Final = 230.0
# How early or late a lamp switches against the schedule, and how fast a cycling lamp toggles.
SWITCH_JITTER_S: Final = 120
CYCLE_S: Final = (120, 480)


@dataclass(frozen=True, slots=True)
class LampSpec:
    device_id: str
    lat: float
    lon: float
    watts: int
    windows: tuple[LightingWindow, ...] = ()  # the village's part-night programme, if any
    tz: tzinfo = VIETNAM
    all_night: Callable[[date], bool] | None = None  # festival nights (sangsach/lunar.py)


class LampNode(Node):
    kind = "lamp"

    def __init__(self, spec: LampSpec, faults: DeviceFaults, rng: Random, start: int) -> None:
        super().__init__(spec.device_id, faults, rng, start)
        self._spec = spec
        self._fault = faults.lamp
        self._fault_since = faults.lamp_since
        self._schedule = LightingSchedule(
            spec.lat,
            spec.lon,
            spec.windows,
            tz=spec.tz,
            on_shift_s=rng.randint(-SWITCH_JITTER_S, SWITCH_JITTER_S),
            off_shift_s=rng.randint(-SWITCH_JITTER_S, SWITCH_JITTER_S),
            all_night=spec.all_night,
        )
        self._cycle_s = rng.randint(*CYCLE_S)
        self._rssi = rng.randint(-85, -55)
        self._relay = False
        self._next_report = start

    def _faulty(self, fault: LampFault, t: int) -> bool:
        return self._fault is fault and t >= self._fault_since

    def _relay_at(self, t: int) -> bool:
        """Whether the relay powers the lamp at ``t``, faults included."""
        lit = self._schedule.is_lit(t)
        if self._faulty(LampFault.DAY_BURNER, t):
            return True
        if self._faulty(LampFault.CYCLING, t):
            return lit and (t - self._fault_since) // self._cycle_s % 2 == 0
        return lit

    def _started(self, now: int, *, first: bool) -> None:
        self._relay = self._relay_at(now)
        # Nodes already running at the start of the run report at scattered times; a node
        # that has just rebooted reports at once.
        self._next_report = now + (self._rng.randrange(REPORT_INTERVAL_S) if first else 0)

    def _work(self, now: int) -> list[Output]:
        relay = self._relay_at(now)
        if relay == self._relay and now < self._next_report:
            return []
        self._relay = relay
        self._next_report = now + REPORT_INTERVAL_S
        return [Send(self._reading(now, relay))]

    def _next_work(self, now: int) -> int:
        candidates = [self._next_report]
        change = self._schedule.next_change(now)
        if change is not None:
            candidates.append(change)
        if self._fault is not None and now < self._fault_since:
            candidates.append(self._fault_since)
        elif self._faulty(LampFault.CYCLING, now) and self._schedule.is_lit(now):
            cycles = (now - self._fault_since) // self._cycle_s + 1
            candidates.append(self._fault_since + cycles * self._cycle_s)
        return min(candidates)

    def _reading(self, now: int, relay: bool) -> LampReading:
        rng = self._rng
        burnt = self._faulty(LampFault.BURNT_OUT, now)
        current = self._spec.watts / MAINS_V * rng.gauss(1.0, 0.02) if relay and not burnt else 0.0
        voltage = min(MAINS_V + 5, max(MAINS_V - 5, rng.gauss(MAINS_V, 1.7)))
        return LampReading(
            **self._stamp(now)._asdict(),
            kind="lamp",
            on=relay,
            current_a=round(current, 3),
            voltage_v=round(voltage, 1),
            lux=self._lux(now),
            fault=relay and burnt,
            rssi=self._rssi + rng.randint(-3, 3),
        )

    def _lux(self, now: int) -> float:
        """Ambient light at the lamp head: a daylight arc between sunrise and sunset."""
        sunrise, sunset = self._schedule.daylight(now)
        if not sunrise <= now < sunset:
            return round(self._rng.uniform(0.0, 3.0), 1)
        height = math.sin(math.pi * (now - sunrise) / (sunset - sunrise))
        return round(200.0 + 30_000.0 * height * self._rng.uniform(0.4, 1.0), 0)
