"""The link under MicroPython: the broker goes away and comes back; the readings buffered in
flash meanwhile reach the real gateway and backend in order, each stored once."""

from __future__ import annotations

import time
from collections.abc import Callable

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import Device, Watcher, node_settings
from tests.harness import Stack, wait_until

LAMP = "lamp-dong-ha-002"


def test_broker_down_and_back_buffered_readings_arrive_in_order_once(
    broker: LocalBroker, stack: Stack, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    settings = node_settings(
        LAMP, "lamp", broker.port, report_interval_s=10, backoff_cap_ms=20000, batch_max=8
    )
    node = devices(settings, speed=50, start_ts=time.time() - 3600, lux=3.0)
    node.start()
    watcher.wait_readings(LAMP, lambda rs: len(rs) >= 5, "readings before the outage")

    broker.stop()  # about 200 simulated seconds without a broker: some 20 readings in flash
    time.sleep(4)
    during = len([line for line in node.lines if line.startswith("mqtt: ")])
    broker.start()  # same port, persistence on: the gateway's queue survives

    def caught_up() -> bool:
        response = stack.http.get(f"/api/v1/devices/{LAMP}/readings")
        stored = {(r["boot"], r["seq"]) for r in response.json()}
        sent = {(r["boot"], r["seq"]) for r in watcher.readings(LAMP)}
        return len(sent) >= 30 and stored == sent

    wait_until(caught_up, 40, "the buffered readings in the backend")
    node.stop()
    time.sleep(1)  # anything sent twice would be stored by now

    stored = stack.http.get(f"/api/v1/devices/{LAMP}/readings").json()
    keys = [(r["boot"], r["seq"]) for r in stored]
    # None lost, none twice. (The API orders by time: the first reading, taken before NTP
    # answered, got the gateway's receive time.)
    assert sorted(keys) == [(1, seq) for seq in range(len(keys))]
    assert stack.stats()["readings"]["lamp"] == len(keys)
    assert stack.dead_letters() == []
    # The node sent them oldest first, part of them as batches from its flash buffer.
    arrived = [r["seq"] for r in watcher.readings(LAMP)]
    assert arrived == sorted(arrived)
    batches = [m for m in watcher.of(LAMP, "telemetry") if "readings" in m.body]
    assert batches and all(m.body["dropped"] == 0 for m in batches)
    assert max(len(m.body["readings"]) for m in batches) == 8  # batch_max
    assert during >= 1  # the node noticed the broken link and backed off
    # A second birth after the reconnect; the broker announced the loss with the will.
    assert len(watcher.births(LAMP)) >= 2
    assert not watcher.errors
