"""The waste-bin node's firmware under MicroPython: deep sleep between measurements, hourly
batches, at once when full or on fire, and nothing lost when a send fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import Device, Watcher, node_settings
from tests.harness import Stack, wait_until

BIN = "bin-dong-ha-01"
CONFIG = {
    "rev": 1,
    "report_interval_s": 3600,
    "bin": {"depth_cm": 95, "full_pct": 80, "fire_temp_c": 70,
            "measure_interval_s": 600, "send_interval_s": 3600},
}  # fmt: skip


def messages(watcher: Watcher) -> list[list[dict[str, Any]]]:
    """The readings of each telemetry message, in arrival order."""
    return [m.readings for m in watcher.of(BIN, "telemetry")]


def test_bin_batches_hourly_sends_at_once_when_full_or_on_fire_and_loses_nothing(
    broker: LocalBroker, stack: Stack, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    watcher.publish(f"sangsach/v1/{BIN}/config", CONFIG, retain=True)
    node = devices(
        node_settings(BIN, "bin", broker.port, pings=7),
        speed=2000, start_ts=time.time() - 8 * 3600,
        distance_cm=76.0, temp_c=28.0, battery_v=3.95, tilt_deg=3.0,
        # The first measurement's pings begin with a timeout, a ghost beyond the bin floor and
        # an echo nearer than any sensor sees: the median of the rest is the true distance.
        echoes_us=[-2, 9000, 50],
    )  # fmt: skip
    node.start()

    # First wake of a boot: sends at once (to fetch config and time). Then six measurements
    # every 10 simulated minutes, sent together after an hour.
    wait_until(lambda: len(messages(watcher)) >= 2, 30, "the first hourly batch")
    first, hourly = messages(watcher)[:2]
    assert len(first) == 1 and first[0]["synced"] is False  # measured before NTP answered
    assert [r["seq"] for r in hourly] == [1, 2, 3, 4, 5, 6]
    assert all(r.get("synced", True) for r in hourly)
    # Before the config arrived the node used its default depth (100 cm); after, the bin's 95 cm,
    # kept in flash through deep sleep.
    assert first[0]["distance_cm"] == 76.0 and first[0]["fill_pct"] == 24.0
    assert {(r["distance_cm"], r["fill_pct"]) for r in hourly} == {(76.0, 20.0)}
    steps = [r["ts"] - hourly[0]["ts"] - 600 * i for i, r in enumerate(hourly)]
    assert all(abs(step) <= 2 for step in steps), steps  # measured every 10 minutes
    assert hourly[0]["tilt_deg"] == 3.0 and hourly[0]["battery_v"] == 3.95

    node.control(distance_cm=15.0)  # 84 % full: crossing the 80 % threshold sends at once
    wait_until(lambda: any(r["fill_pct"] >= 80 for r in watcher.readings(BIN)), 20, "full")
    crossing = next(m for m in messages(watcher) if any(r["fill_pct"] >= 80 for r in m))
    assert crossing[-1]["fill_pct"] == 84.2 and all(r["fill_pct"] < 80 for r in crossing[:-1])
    assert len(crossing) < 6  # before the hour was up

    sent = len(messages(watcher))
    node.control(temp_c=75.0)  # a fire: sent at once although the bin was full already
    wait_until(lambda: len(messages(watcher)) > sent, 20, "the fire reading")
    fire = messages(watcher)[sent]
    assert fire[-1]["temp_c"] == 75.0 and fire[-1]["fill_pct"] == 84.2

    # The broker goes away: the hourly send fails, the node gives up within its awake budget
    # and sleeps; the readings wait in flash and leave with the next send.
    node.control(temp_c=27.0)
    broker.stop()
    wait_until(lambda: "the readings wait in flash" in node.output(200), 30, "a failed send")
    before = len(messages(watcher))
    broker.start()
    wait_until(lambda: len(messages(watcher)) > before, 30, "the send after the outage")
    summary = node.stop()

    readings = watcher.readings(BIN)
    seqs = [r["seq"] for r in readings]
    assert seqs == list(range(len(seqs)))  # in order, none lost, none twice
    assert {r["boot"] for r in readings} == {1}  # a deep-sleep wake is not a new boot
    assert all(len(m) <= 20 for m in messages(watcher))  # batch_max

    sleeps = node.events("deepsleep")
    assert len(sleeps) >= len(readings) - 1
    assert all(s["awake_ms"] < 45_000 + 1000 for s in sleeps)  # the awake budget holds
    assert all(s["ms"] + s["awake_ms"] >= 599_000 for s in sleeps)  # a 10-minute cadence
    assert summary["wdt_resets"] == 0

    def stored() -> list[dict[str, Any]]:
        return stack.http.get(f"/api/v1/devices/{BIN}/readings").json()  # type: ignore[no-any-return]

    wait_until(lambda: len(stored()) == len(readings), 20, "every reading in the backend")
    assert sorted(r["seq"] for r in stored()) == seqs
    assert stack.dead_letters() == []
    assert not watcher.errors
