"""A token bucket per key (per gateway for ingest): ``rate`` per second, ``burst`` saved up.

A request larger than the burst passes once the bucket is full and leaves it in debt, so a big
batch is slowed, never refused forever.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_KEYS = 10_000


class RateLimiter:
    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (level, when)
        self._lock = threading.Lock()

    def take(self, key: str, amount: int) -> float:
        """Admit ``amount`` for ``key`` and return 0, or return the seconds to wait first."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            level, then = self._buckets.get(key, (self.burst, now))
            level = min(self.burst, level + (now - then) * self.rate)
            needed = min(float(amount), self.burst)
            if key not in self._buckets and len(self._buckets) >= MAX_KEYS:
                self._forget_full(now)
            if level >= needed:
                self._buckets[key] = (level - amount, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (needed - level) / self.rate

    def _forget_full(self, now: float) -> None:
        """A full bucket is the same as none: drop those, so that keys cannot pile up."""
        for key, (level, then) in list(self._buckets.items()):
            if level + (now - then) * self.rate >= self.burst:
                del self._buckets[key]
