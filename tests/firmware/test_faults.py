"""Faults that must not crash a node: a sensor's driver failing as the real drivers fail, and
an error nobody expected. Neither may end the wake in a watchdog reset, which counts a boot."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import Device, Watcher, node_settings
from tests.harness import Stack, wait_until

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
    # The failure is data: each such reading names the thermometer, and only those.
    assert all(r["sensor_errors"] == ["thermometer"] for r in failing)
    assert not any("sensor_errors" in r for r in readings if "temp_c" in r)
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


def test_a_bin_on_fire_without_a_plausible_echo_sends_its_temperature_at_once(
    broker: LocalBroker, stack: Stack, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    """80 degC and an echo from beyond the bin floor: readings without fill_pct, with temp_c
    and sensor_errors ["ultrasonic"], each sent at once (not batched at the hour), stored by the
    real gateway and backend, which open the fire alert.

    The fire is there from the first wake: the tests' node clock starts hours in the past, and
    its first reading, taken before NTP answered, is stamped by the gateway with the true time,
    so a later fire of the simulated past would be older than it, and judged as a late replay."""
    hourly = {**CONFIG, "bin": {**CONFIG["bin"], "send_interval_s": 3600}}  # type: ignore[dict-item]
    watcher.publish(f"sangsach/v1/{BIN}/config", hourly, retain=True)
    node = devices(
        node_settings(BIN, "bin", broker.port),
        speed=2000, start_ts=time.time() - 6 * 3600,
        # The sensor hears only echoes from 3 m away, in a bin 1 m deep: none is plausible.
        distance_cm=300.0, temp_c=80.0, tilt_deg=2.0,
    )  # fmt: skip
    node.start()
    wait_until(lambda: len(watcher.of(BIN, "telemetry")) >= 4, 30, "four fire messages")
    summary = node.stop()

    messages = [m.readings for m in watcher.of(BIN, "telemetry")]
    assert all(len(m) == 1 for m in messages[:4]), "each fire reading leaves at once"
    for fire in [m[0] for m in messages]:
        assert "fill_pct" not in fire and "distance_cm" not in fire
        assert fire["temp_c"] == 80.0 and fire["tilt_deg"] == 2.0 and "battery_v" in fire
        assert fire["sensor_errors"] == ["ultrasonic"]
    assert summary["wdt_resets"] == 0
    assert "bin: no plausible echo" in node.output(len(node.lines))
    assert not watcher.errors  # the committed schema accepts them

    def stored() -> list[dict[str, Any]]:
        return stack.http.get(f"/api/v1/devices/{BIN}/readings").json()  # type: ignore[no-any-return]

    wait_until(lambda: len(stored()) >= len(messages), 20, "the fire readings stored")
    for kept in [r["values"] for r in stored()]:
        assert kept["fill_pct"] is None and kept["temp_c"] == 80.0
        assert kept["sensor_errors"] == "ultrasonic"
    assert stack.dead_letters() == []

    def alerts() -> list[str]:
        found = stack.http.get("/api/v1/alerts", params={"device": BIN}).json()
        return [a["type"] for a in found]

    wait_until(lambda: "fire" in alerts(), 20, "the fire alert")


def test_a_lamp_names_its_failing_light_sensor_and_keeps_reporting(
    broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    node = devices(
        node_settings(LAMP, "lamp", broker.port, report_interval_s=30),
        speed=20, start_ts=time.time() - 3600, lux=None,
    )  # fmt: skip
    node.start()
    readings = watcher.wait_readings(LAMP, lambda rs: len(rs) >= 2, "readings")
    node.control(lux=5.0)  # repaired
    readings = watcher.wait_readings(
        LAMP, lambda rs: "lux" in rs[-1], "a reading with the light back", timeout=30
    )
    summary = node.stop()

    failing = [r for r in readings if "lux" not in r]
    assert len(failing) >= 2
    assert all(r["sensor_errors"] == ["lux"] and "current_a" in r for r in failing)
    assert "sensor_errors" not in readings[-1]
    assert summary["wdt_resets"] == 0
