"""The node's one source of time. Everything that schedules or stamps goes through a Clock, so
the tests can run the same code on simulated time (hours in seconds) by passing another one."""

import time

# MicroPython ports count from 1970 or from 2000 (older ESP32 builds); the contract wants Unix.
EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


class Clock:
    def __init__(self) -> None:
        self._last = time.ticks_ms()
        self._elapsed = 0

    def now_ms(self) -> int:
        """Milliseconds since start, never wrapping (time.ticks_ms wraps after 12.4 days on an
        ESP32), so that the nodes may do plain arithmetic on them. Called every loop step."""
        now = time.ticks_ms()
        self._elapsed += time.ticks_diff(now, self._last)
        self._last = now
        return self._elapsed

    def sleep_ms(self, ms: int) -> None:
        time.sleep_ms(ms)

    def time(self) -> int:
        """Unix seconds from the RTC. Before NTP has set it, it counts from power-on."""
        return int(time.time()) + EPOCH_OFFSET
