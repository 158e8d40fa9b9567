"""boot.py and main.py as flashed, on the real clock: settings.json picks the role."""

from __future__ import annotations

import time
from collections.abc import Callable

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import Device, Watcher, node_settings
from tests.harness import wait_until

LAMP = "lamp-dong-ha-004"


def test_main_starts_the_node_of_its_settings_on_the_real_clock(
    broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    node = devices(node_settings(LAMP, "lamp", broker.port, tick_ms=100), lux=3.0)
    started = time.time()
    node.start(mode="main")
    wait_until(lambda: bool(watcher.births(LAMP)), 15, f"the birth message; {node.output()}")
    birth = watcher.births(LAMP)[0]
    assert birth == {"id": LAMP, "state": "online", "kind": "lamp", "boot": 1, "fw": "1.0.0",
                     "ts": birth["ts"]}  # fmt: skip
    assert started - 1 <= birth["ts"] <= time.time() + 1  # the host clock stands in for NTP
    status = watcher.of(LAMP, "status")[0]
    assert not status.retained  # live delivery; the broker keeps the retained copy

    node.wait_relay(True, 0, "the lamp switched on in the dark")
    node.stop()
    # The will: stopped without a goodbye, as at a power cut, the broker says offline.
    wait_until(
        lambda: any(m.body["state"] == "offline" for m in watcher.of(LAMP, "status")), 90,
        "the last will",
    )  # fmt: skip
    assert watcher.of(LAMP, "status")[-1].body == {"id": LAMP, "state": "offline"}
    first = watcher.readings(LAMP)[0]
    assert (first["boot"], first["seq"], first["on"]) == (1, 0, True)
    assert not watcher.errors
