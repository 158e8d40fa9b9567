"""Simulated time: fast-forward through the past, but never ahead of the real clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime


class SimClock:
    """Unix seconds of simulated time: ``start + speed × elapsed``, capped at the real time.

    The gateway rejects readings from the future, so once the simulation catches up with the
    wall clock it goes on at speed 1. Elapsed time is measured on the monotonic clock, so a
    wall-clock step during a run changes nothing.
    """

    def __init__(
        self,
        start_utc: datetime,
        speed: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if start_utc.tzinfo is None:
            raise ValueError(f"start must be timezone-aware, got {start_utc!r}")
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._wall0 = wall()
        self.start = start_utc.timestamp()
        self.speed = speed
        if self.start > self._wall0:
            raise ValueError(f"start {start_utc.isoformat()} is in the future")

    def _elapsed(self) -> float:
        return self._monotonic() - self._t0

    def now(self) -> float:
        elapsed = self._elapsed()
        return min(self.start + self.speed * elapsed, self._wall0 + elapsed)

    def real_now(self) -> float:
        """The real time, as measured by this clock."""
        return self._wall0 + self._elapsed()

    def seconds_until(self, sim_t: float) -> float:
        """Real seconds to wait until the simulated time reaches ``sim_t`` (0 if it has)."""
        needed = max((sim_t - self.start) / self.speed, sim_t - self._wall0)
        return max(0.0, needed - self._elapsed())
