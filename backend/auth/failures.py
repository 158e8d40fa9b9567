"""Failed attempts to prove who one is (sign-in, bearer token, webhook), limited per address.

Each client address may fail ``burst`` times in a row; after that it earns one more try every
``1 / rate`` seconds. While it has none left, every attempt from it is refused with 429 before
its secret is even looked at, a right one included: guessing cannot continue at full speed by
slipping a known secret in between. A success does not reset the count (it would let a holder
of one weak secret guess at the others).

Each failure is logged with its address and kind until the address is blocked; then one line
says so, and while it stays blocked its attempts are only counted.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_ADDRESSES = 10_000


@dataclass
class _Bucket:
    level: float
    when: float
    blocked_attempts: int = 0


class FailureLimiter:
    def __init__(
        self, burst: int, rate_per_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = float(burst)
        self.rate = rate_per_s
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int:
        """0 when ``address`` may try now, else the whole seconds until it may."""
        if self.burst <= 0:
            return 0
        with self._lock:
            bucket = self._refilled(address)
            if bucket is None or bucket.level >= 1:
                return 0
            bucket.blocked_attempts += 1
            return max(1, math.ceil((1 - bucket.level) / self.rate))

    def failed(self, address: str, kind: str) -> None:
        """Count one failed attempt of ``kind`` ("sign-in", "bearer", "webhook")."""
        if self.burst <= 0:
            return
        with self._lock:
            bucket = self._refilled(address)
            if bucket is None:
                if len(self._buckets) >= MAX_ADDRESSES:
                    self._forget_full()
                bucket = self._buckets[address] = _Bucket(self.burst, self._clock())
            bucket.level = max(bucket.level - 1, 0.0)
            if bucket.level >= 1:
                log.warning("failed %s attempt from %s", kind, address)
            else:
                wait = math.ceil(1 / self.rate)
                log.warning(
                    "failed %s attempt from %s: %d failures in a row, further attempts from "
                    "this address are refused (429) for %d s",
                    kind,
                    address,
                    int(self.burst),
                    wait,
                )

    def _refilled(self, address: str) -> _Bucket | None:
        bucket = self._buckets.get(address)
        if bucket is None:
            return None
        now = self._clock()
        level = min(self.burst, bucket.level + (now - bucket.when) * self.rate)
        if level >= 1 > bucket.level and bucket.blocked_attempts:
            log.warning(
                "address %s may try again; %d attempts were refused while it was blocked",
                address,
                bucket.blocked_attempts,
            )
            bucket.blocked_attempts = 0
        bucket.level, bucket.when = level, now
        return bucket

    def _forget_full(self) -> None:
        """A full bucket is the same as none: drop those, so that addresses cannot pile up."""
        now = self._clock()
        for address, bucket in list(self._buckets.items()):
            if bucket.level + (now - bucket.when) * self.rate >= self.burst:
                del self._buckets[address]
