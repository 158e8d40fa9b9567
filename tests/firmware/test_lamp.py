"""The lamp node's firmware under MicroPython: retained config, commands, fault detection."""

from __future__ import annotations

import time
from collections.abc import Callable

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import Device, Watcher, local_hhmm, node_settings
from tests.harness import Stack, wait_until

LAMP = "lamp-dong-ha-001"
TOPIC = f"sangsach/v1/{LAMP}"


def config(rev: int, on: str, off: str) -> dict[str, object]:
    return {
        "rev": rev,
        "report_interval_s": 3600,
        "lamp": {"windows": [{"on": on, "off": off}], "utc_offset_min": 420, "fallback_lux": 20},
    }


def test_schedule_follows_the_retained_config_without_reboot_and_commands_act(
    broker: LocalBroker, stack: Stack, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    start = time.time() - 3600  # simulated time may run ahead, but never past the real clock
    later, much_later = local_hhmm(start + 6 * 3600), local_hhmm(start + 7 * 3600)
    # A window around the node's whole run: the schedule says on, while daylight says off.
    watcher.publish(f"{TOPIC}/config", config(1, local_hhmm(start - 1800), later), retain=True)
    node = devices(node_settings(LAMP, "lamp", broker.port), speed=100, start_ts=start, lux=800)
    node.start()
    node.wait_relay(True, 0, "the schedule of config rev 1 switching on")
    readings = watcher.wait_readings(
        LAMP, lambda rs: any(r["on"] for r in rs), "a reading with the lamp on"
    )
    assert readings[0]["seq"] == 0

    switches = node.switches()
    watcher.publish(f"{TOPIC}/config", config(2, later, much_later), retain=True)
    node.wait_relay(False, switches, "config rev 2 switching off")

    # An older revision is ignored: the node keeps the highest rev.
    watcher.publish(f"{TOPIC}/config", config(1, local_hhmm(start - 1800), later), retain=True)
    wait_until(lambda: "config: rev 1 ignored" in node.output(), 10, "rev 1 refused")
    assert node.relay() is False

    switches = node.switches()
    watcher.publish(f"{TOPIC}/cmd", {"cmd": "lamp", "cid": "c-1", "on": True, "for_s": 120})
    node.wait_relay(True, switches, "the override switching on")
    node.wait_relay(False, switches + 1, "the end of the override")

    before = len(watcher.readings(LAMP))
    watcher.publish(f"{TOPIC}/cmd", {"cmd": "ping", "cid": "c-2"})
    watcher.wait_readings(LAMP, lambda rs: len(rs) > before, "the reading that answers a ping")

    assert [b["boot"] for b in watcher.births(LAMP)] == [1]  # no reboot so far
    watcher.publish(f"{TOPIC}/cmd", {"cmd": "reboot", "cid": "c-3"})
    node.wait_event("reset", "the commanded reboot")
    wait_until(lambda: len(watcher.births(LAMP)) == 2, 10, "the birth of boot 2")
    second = watcher.wait_readings(
        LAMP, lambda rs: any(r["boot"] == 2 for r in rs), "a reading of boot 2"
    )
    assert next(r["seq"] for r in second if r["boot"] == 2) == 0
    summary = node.stop()
    assert summary["wdt_resets"] == 0
    assert node.relay() is False  # rev 2 survived the reboot in flash; rev 1 stays refused
    boot1 = [r["seq"] for r in second if r["boot"] == 1]
    assert boot1 == list(range(len(boot1)))  # in order, none lost, none twice

    sent = {(r["boot"], r["seq"]) for r in watcher.readings(LAMP)}
    wait_until(lambda: stack.stored() == len(sent), 20, "every reading in the backend")
    assert stack.dead_letters() == []  # births, readings of both boots: all accepted
    assert not watcher.errors


def test_lamp_fault_is_detected_and_reaches_the_backend(
    broker: LocalBroker, stack: Stack, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    # No config and dark: the light sensor switches the lamp on, but the lamp draws nothing.
    node = devices(
        node_settings(LAMP, "lamp", broker.port, fault_after_s=60, report_interval_s=3600),
        speed=50, start_ts=time.time() - 3600, lux=3.0, lamp_broken=True, ntp_failures=1,
    )  # fmt: skip
    node.start()
    node.wait_relay(True, 0, "the fallback switching on in the dark")
    readings = watcher.wait_readings(
        LAMP, lambda rs: any(r.get("fault") for r in rs), "the fault reading"
    )
    fault = next(r for r in readings if r.get("fault"))
    assert fault["on"] is True and fault["current_a"] < 0.05

    node.control(lamp_broken=False)  # repaired: current flows again
    readings = watcher.wait_readings(
        LAMP, lambda rs: rs[-1].get("fault") is False and rs[-1]["current_a"] > 0.1,
        "the fault clearing",
    )  # fmt: skip
    assert readings[0]["synced"] is False  # NTP failed once: the first reading says so
    node.stop()

    def stored() -> list[dict[str, object]]:
        response = stack.http.get(f"/api/v1/devices/{LAMP}/readings")
        return response.raise_for_status().json()  # type: ignore[no-any-return]

    wait_until(lambda: len(stored()) == len(readings), 20, "the readings in the backend")
    faults = [r["values"]["fault"] for r in stored()]  # type: ignore[index]
    assert faults.count(True) >= 1 and faults[-1] is False
    assert stack.dead_letters() == []
    assert stack.http.get(f"/api/v1/devices/{LAMP}").json()["boot"] == 1
