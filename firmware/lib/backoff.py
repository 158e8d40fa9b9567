"""Capped exponential backoff with jitter, on the node's clock."""

import random

from clock import Clock


class Backoff:
    def __init__(self, clock: Clock, base_ms: int, cap_ms: int) -> None:
        self.clock = clock
        self.base_ms = base_ms
        self.cap_ms = cap_ms
        self.failures = 0
        self._next = clock.now_ms()

    def ready(self) -> bool:
        return self.clock.now_ms() >= self._next

    def failed(self) -> int:
        """Schedule the next attempt; returns the delay in ms."""
        self.failures += 1
        ceiling = min(self.cap_ms, self.base_ms << min(self.failures - 1, 16))
        # Half fixed, half random: a commune's nodes that lost the same broker do not all come
        # back in the same second, and no node retries sooner than half its step.
        delay = ceiling // 2 + random.getrandbits(16) * (ceiling // 2) // 65536
        self._next = self.clock.now_ms() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self._next = self.clock.now_ms()
