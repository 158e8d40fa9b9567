"""Time on the nodes: NTP answers are believed only when plausible, the clock is resynced often
enough for an RC oscillator (hourly on a lamp, at every send on a bin), and the bin's sensor
power stays off through deep sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import Device, Watcher, node_settings
from tests.harness import wait_until

LAMP = "lamp-dong-ha-005"
BIN = "bin-dong-ha-03"
SENSOR_POWER_PIN = "19"  # the default sensor_power_pin


def test_implausible_ntp_answers_are_refused_and_the_lamp_resyncs_hourly(
    broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    node = devices(
        node_settings(LAMP, "lamp", broker.port, tick_ms=10000, sense_interval_s=60,
                      report_interval_s=600),
        speed=1500, start_ts=time.time() - 5 * 3600, lux=3.0, mem_every_s=600,
        ntp_reply="zero",  # an all-zero packet, as a Kiss-o'-Death sends: 2036 to ntptime
    )  # fmt: skip
    node.start()

    def refused() -> int:
        return node.output(len(node.lines)).count("ntp: implausible answer")

    wait_until(lambda: refused() >= 1, 20, "the zeroed answer refused")
    node.control(ntp_reply=946684800)  # 2000-01-01: a server that lost its own clock
    wait_until(lambda: refused() >= 2, 20, "the answer from 2000 refused")
    node.control(ntp_reply=None)
    readings = watcher.wait_readings(
        LAMP, lambda rs: any(r.get("synced", True) for r in rs), "a synced reading", timeout=30
    )
    first_sync = node.events("rtc")[0]["t"]
    wait_until(
        lambda: node.events("mem")[-1]["t"] >= first_sync + 3 * 3600_000 + 60_000, 60, "3 hours"
    )
    summary = node.stop()

    # Refused answers never reach the RTC: the only time ever set is the true one.
    assert all(e["year_offset_s"] == 0 for e in node.events("rtc"))
    now = time.time()
    readings = watcher.readings(LAMP)
    assert all(r["ts"] <= now + 1 for r in readings if r.get("synced", True))
    assert all(r["synced"] is False for r in readings[: readings.index(
        next(r for r in readings if r.get("synced", True)))])  # fmt: skip
    # Hourly resync (the first, then one an hour for three hours).
    synced_in_3h = [e for e in node.events("rtc") if e["t"] <= first_sync + 3 * 3600_000 + 60_000]
    assert len(synced_in_3h) >= 4, node.events("rtc")
    assert summary["wdt_resets"] == 0


def test_the_bin_resyncs_at_every_send_and_holds_its_sensor_power_off_asleep(
    broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    config = {"rev": 1, "bin": {"depth_cm": 100, "send_interval_s": 3600}}
    watcher.publish(f"sangsach/v1/{BIN}/config", config, retain=True)
    node = devices(
        node_settings(BIN, "bin", broker.port),
        speed=2000, start_ts=time.time() - 8 * 3600, distance_cm=70.0, temp_c=25.0, tilt_deg=1.0,
    )  # fmt: skip
    node.start()
    wait_until(lambda: len(watcher.of(BIN, "telemetry")) >= 4, 30, "four sends")
    node.stop()

    sends = node.output(len(node.lines)).count("mqtt: connected")
    syncs = node.events("rtc")
    assert sends >= 4 and len(syncs) == sends, (sends, syncs)
    sleeps = node.events("deepsleep")
    assert len(sleeps) >= 3 * 6  # the sends were hourly, with wakes that only measured between
    # Held low while the chip sleeps: not floating (-1), not on (1).
    assert all(s["sleep_pins"][SENSOR_POWER_PIN] == 0 for s in sleeps), sleeps
