"""Faults that must not crash a node: a sensor's driver failing as the real drivers fail, and
an error nobody expected. Neither may end the wake in a watchdog reset, which counts a boot."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import Device, Watcher, node_settings

BIN = "bin-dong-ha-02"
LAMP = "lamp-dong-ha-004"
CONFIG = {
    "rev": 1,
    "report_interval_s": 3600,
    "bin": {"depth_cm": 100, "measure_interval_s": 600, "send_interval_s": 600},
}


def test_ds18b20_failures_leave_the_temperature_out_and_the_node_running(
    broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    watcher.publish(f"sangsach/v1/{BIN}/config", CONFIG, retain=True)
    node = devices(
        node_settings(BIN, "bin", broker.port),
        speed=2000, start_ts=time.time() - 6 * 3600,
        distance_cm=60.0, temp_c=24.0, tilt_deg=2.0, ds18b20_fault="crc",
    )  # fmt: skip
    node.start()
    # A garbled scratchpad: micropython-lib's ds18x20 raises Exception("CRC error").
    watcher.wait_readings(BIN, lambda rs: len(rs) >= 3, "readings while the CRC fails")
    # A loose wire: the sensor misses the reset pulse, onewire raises OneWireError.
    node.control(ds18b20_fault="presence")
    seen = len(watcher.readings(BIN))
    watcher.wait_readings(BIN, lambda rs: len(rs) >= seen + 3, "readings without presence")
    node.control(ds18b20_fault=None)  # repaired
    readings = watcher.wait_readings(BIN, lambda rs: "temp_c" in rs[-1], "the temperature back")
    summary = node.stop()

    failing = [r for r in readings if "temp_c" not in r]
    assert len(failing) >= 6
    # Every other field is there: one failed part costs one field, not the reading. (Without the
    # temperature the speed of sound is taken at 20 degC: the distance is a little off.)
    assert all(abs(r["fill_pct"] - 40.0) < 1 and r["tilt_deg"] == 2.0 for r in failing)
    assert readings[-1]["temp_c"] == 24.0
    assert {r["boot"] for r in readings} == {1}  # no reset, so no new boot
    assert [r["seq"] for r in readings] == list(range(len(readings)))
    assert summary["wdt_resets"] == 0
    log = node.output(len(node.lines))
    assert "ds18b20: Exception: Exception('CRC error',)" in log
    assert "ds18b20: OneWireError" in log


def test_an_unexpected_error_pauses_the_node_without_a_new_boot(
    broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    node = devices(
        node_settings(LAMP, "lamp", broker.port, report_interval_s=30),
        speed=20, start_ts=time.time() - 3600, lux=3.0,
    )  # fmt: skip
    node.start()
    watcher.wait_readings(LAMP, lambda rs: len(rs) >= 3, "readings before the error")
    node.control(wlan_bug=True)  # the next reading asks the Wi-Fi driver for the RSSI
    node.wait_event("deepsleep", "the guard's pause")
    node.control(wlan_bug=False)
    before = len(watcher.readings(LAMP))
    readings = watcher.wait_readings(LAMP, lambda rs: len(rs) >= before + 3, "readings after")
    summary = node.stop()

    assert "app: unexpected error, pausing" in node.output(len(node.lines))
    pauses = node.events("deepsleep")
    assert len(pauses) == 1 and pauses[0]["ms"] == 5000
    assert summary["wdt_resets"] == 0  # the guard slept on purpose: no watchdog reset
    assert {r["boot"] for r in readings} == {1}  # so it is the same boot
    assert [b["boot"] for b in watcher.births(LAMP)] == [1, 1]  # a reconnect, not a new boot
    seqs = [r["seq"] for r in readings]
    # Saved before the pause: the numbering goes on (the reading that failed left a gap).
    assert seqs == sorted(set(seqs))
    record = json.loads((node.flash / "crash.json").read_text())
    assert record["count"] == 1 and record["error"].startswith("RuntimeError: a bug in the Wi-Fi")
