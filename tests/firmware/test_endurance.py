"""Hours of a lamp node's life in seconds: the watchdog is fed from the main loop at every
step, and the free heap stays level (no leak, no creeping fragmentation)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import HEAP, Device, Watcher, node_settings
from tests.harness import wait_until

LAMP = "lamp-dong-ha-003"
HOURS = 2


def test_long_loop_feeds_the_watchdog_and_keeps_free_memory_bounded(
    broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    settings = node_settings(LAMP, "lamp", broker.port, report_interval_s=60, wdt_timeout_ms=5000)
    node = devices(
        settings, speed=2000, start_ts=time.time() - (HOURS + 1) * 3600, lux=3.0, mem_every_s=600
    )
    node.start()
    # The light changes every so often: the relay switches, and readings follow the changes.
    for lux in (800.0, 3.0, 800.0):
        node.wait_event("mem", "time to pass", count=len(node.events("mem")) + 3, timeout=30)
        node.control(lux=lux)
    wait_until(lambda: node.events("mem")[-1]["t"] >= HOURS * 3600_000, 60, "the long run")
    summary = node.stop()

    simulated_s = node.events("mem")[-1]["t"] / 1000
    # One feed per step of the main loop: at least one for every tick of 1 s.
    assert summary["feeds"] >= simulated_s * 0.9
    assert summary["max_gap_ms"] < 5000 and summary["wdt_resets"] == 0
    assert node.switches() >= 4

    free = [e["free"] for e in node.events("mem")][2:]  # after start-up has settled
    half = len(free) // 2
    # A leak of even 20 bytes per step would lose over 10 KB here.
    assert min(free[half:]) >= min(free[:half]) - 1024, free
    heap = int(HEAP.rstrip("K")) * 1024
    assert min(free) > heap // 3, free

    readings = watcher.readings(LAMP)
    assert len(readings) >= HOURS * 60 * 0.9  # a heartbeat a minute
    assert [r["seq"] for r in readings] == list(range(len(readings)))
    assert not watcher.errors
