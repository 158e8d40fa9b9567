"""A waste-bin node: an ultrasonic sensor under the lid, on a battery, sending hourly batches.

The bin fills with the waste of the households its gathering point serves and is emptied by
the collection team's rounds, some of which are missed. The node measures every 10 minutes,
sends what it measured every hour, and at once when the bin crosses the full threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from random import Random
from typing import Final

from sangsach.contract import LIMITS, Batch, BinConfig, BinReading, LampReading
from sangsach.sun import VIETNAM

from .faults import DeviceFaults
from .node import Node, Output, Send

# Assumption: rural Vietnam produces about 0.3 kg of household waste per person a day; with
# four people a household brings about 1.2 kg a day, which loose in a bin (about 200 kg/m³)
# takes about 6 litres.
LITRES_PER_HOUSEHOLD_DAY: Final = 6.0

# A node's settings until the system sends it a configuration: the contract's defaults.
_BIN_DEFAULTS = BinConfig.model_fields
MEASURE_INTERVAL_S: Final[int] = _BIN_DEFAULTS["measure_interval_s"].default
SEND_INTERVAL_S: Final[int] = _BIN_DEFAULTS["send_interval_s"].default
FULL_PCT: Final[float] = _BIN_DEFAULTS["full_pct"].default
# The sensor cannot see closer than this: a bin filled to the brim reads this distance.
SENSOR_MIN_CM: Final = LIMITS["distance_cm"].low
BATTERY_DRAIN_V_PER_DAY: Final = 0.004
BATTERY_EMPTY_V: Final = 3.0
MISSED_ROUNDS: Final = 0.1


@dataclass(frozen=True, slots=True)
class CollectionRounds:
    """When the team empties one gathering point: every 1 or 2 days, at a fixed local time.

    Whether a round is missed is decided per day from ``key``, so every bin of the point
    agrees without sharing state.
    """

    key: str
    every_days: int
    phase: int
    minute_of_day: int
    tz: tzinfo = VIETNAM

    @classmethod
    def draw(cls, key: str, tz: tzinfo = VIETNAM) -> CollectionRounds:
        rng = Random(key)
        every = rng.choice((1, 2))
        return cls(key, every, rng.randrange(every), rng.randrange(6 * 60, 10 * 60), tz)

    def round_on(self, day: date) -> int | None:
        """When the point is emptied on local date ``day``, if it is."""
        if (day.toordinal() + self.phase) % self.every_days:
            return None
        if Random(f"{self.key}/{day.isoformat()}").random() < MISSED_ROUNDS:
            return None
        midnight = datetime.combine(day, time(), self.tz)
        return int(midnight.timestamp()) + self.minute_of_day * 60

    def last_between(self, after: int, until: int) -> int | None:
        """The last round in ``(after, until]``, if any."""
        first = datetime.fromtimestamp(after, self.tz).date()
        day = datetime.fromtimestamp(until, self.tz).date()
        while day >= first:
            emptied = self.round_on(day)
            if emptied is not None and after < emptied <= until:
                return emptied
            day -= timedelta(days=1)
        return None


@dataclass(frozen=True, slots=True)
class BinSpec:
    device_id: str
    depth_cm: float
    capacity_l: int
    litres_per_day: float  # this bin's share of the waste brought to its gathering point
    rounds: CollectionRounds
    tz: tzinfo = VIETNAM


class BinNode(Node):
    kind = "bin"

    def __init__(self, spec: BinSpec, faults: DeviceFaults, rng: Random, start: int) -> None:
        super().__init__(spec.device_id, faults, rng, start)
        self._spec = spec
        self._rate = spec.litres_per_day / spec.capacity_l / 86_400  # share of the bin a second
        self._level = rng.uniform(0.05, 0.6)  # last emptied some time before the run
        self._level_at = start
        self._battery = rng.uniform(3.5, 4.15)
        self._tilt = rng.uniform(0.0, 4.0)
        self._rssi = rng.randint(-95, -60)
        self._last_fill = 0.0
        # Typed as the batch holds it: a list of either kind of reading.
        self._buffer: list[LampReading | BinReading] = []
        self._next_measure = start
        self._next_send = start

    @property
    def level(self) -> float:
        """How full the bin really is (0 to 1) at the last measurement."""
        return self._level

    def _started(self, now: int, *, first: bool) -> None:
        # After a reboot the node has lost its RAM: unsent readings and the last fill level.
        self._buffer = []
        self._last_fill = 0.0
        rng = self._rng
        self._next_measure = now + (rng.randrange(MEASURE_INTERVAL_S) if first else 0)
        send_phase = rng.randrange(SEND_INTERVAL_S) if first else SEND_INTERVAL_S
        self._next_send = self._next_measure + send_phase

    def _work(self, now: int) -> list[Output]:
        crossed = False
        if now >= self._next_measure:
            reading = self._measure(now)
            fill = reading.fill_pct
            assert fill is not None  # the simulated sensor always answers
            crossed = self._last_fill < FULL_PCT <= fill
            self._last_fill = fill
            self._buffer.append(reading)
            self._next_measure = now + MEASURE_INTERVAL_S
        if not (crossed or now >= self._next_send):
            return []
        self._next_send = now + SEND_INTERVAL_S
        if not self._buffer:
            return []
        batch = Batch(readings=self._buffer)
        self._buffer = []
        return [Send(batch)]

    def _next_work(self, now: int) -> int:
        return min(self._next_measure, self._next_send)

    def _age(self, now: int) -> None:
        """Let the waste pile up and the battery drain since the last measurement."""
        elapsed = now - self._level_at
        emptied = self._spec.rounds.last_between(self._level_at, now)
        if emptied is not None:
            self._level = self._rng.uniform(0.0, 0.03) + self._rate * (now - emptied)
        else:
            self._level += self._rate * elapsed * self._rng.uniform(0.7, 1.3)
        self._level = min(self._level, 1.0)
        drained = self._battery - BATTERY_DRAIN_V_PER_DAY * elapsed / 86_400
        self._battery = max(BATTERY_EMPTY_V, drained)
        self._level_at = now

    def _measure(self, now: int) -> BinReading:
        self._age(now)
        rng = self._rng
        depth = self._spec.depth_cm
        span = depth - SENSOR_MIN_CM
        distance = SENSOR_MIN_CM + span * (1.0 - self._level) + rng.gauss(0.0, 0.8)
        distance = round(min(max(distance, SENSOR_MIN_CM), depth), 1)
        # The node's own conversion, so that fill_pct and distance_cm always agree.
        fill = min(100.0, max(0.0, 100.0 * (depth - distance) / span))
        local = datetime.fromtimestamp(now, self._spec.tz)
        hour = local.hour + local.minute / 60
        temp = 27.0 + 6.0 * math.sin(2 * math.pi * (hour - 9) / 24) + rng.gauss(0.0, 0.4)
        return BinReading(
            **self._stamp(now)._asdict(),
            kind="bin",
            fill_pct=round(fill, 1),
            distance_cm=distance,
            battery_v=round(self._battery, 2),
            temp_c=round(temp, 1),
            tilt_deg=round(self._tilt + abs(rng.gauss(0.0, 0.2)), 1),
            rssi=self._rssi + rng.randint(-3, 3),
        )
