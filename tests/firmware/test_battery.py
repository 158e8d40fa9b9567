"""A bin node's radio time through a three-day broker outage: after a failed send it backs off
instead of trying at every wake, keeps measuring into flash, and everything arrives once the
broker is back. The fakes count the simulated time the Wi-Fi radio is on; the figures printed
here (run with ``-s``) are the measured ones of docs/hardware.md's battery estimate."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import Device, Watcher, node_settings
from tests.harness import wait_until

BIN = "bin-dong-ha-04"
DAY_MS = 86400_000
CONFIG = {
    "rev": 1,
    "bin": {"depth_cm": 100, "measure_interval_s": 600, "send_interval_s": 3600},
}


def radio_s_per_day(sleeps: list[dict[str, Any]], start_ms: int, end_ms: int) -> float:
    """Seconds of radio a day over the wakes that ended between start_ms and end_ms."""
    radio_ms: int = sum(s["radio_ms"] for s in sleeps if start_ms <= s["t"] < end_ms)
    return radio_ms / 1000 / ((end_ms - start_ms) / DAY_MS)


def median_max(awake_ms: list[int]) -> str:
    if not awake_ms:
        return "none"
    return f"{statistics.median(awake_ms):.0f} / {max(awake_ms)} ({len(awake_ms)} wakes)"


def test_a_bin_backs_off_through_a_three_day_outage_and_loses_nothing(
    broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    watcher.publish(f"sangsach/v1/{BIN}/config", CONFIG, retain=True)
    node = devices(
        node_settings(BIN, "bin", broker.port),
        speed=50000, start_ts=time.time() - 6 * 86400,
        distance_cm=70.0, temp_c=25.0, tilt_deg=1.0,
    )  # fmt: skip
    node.start()

    def simulated_ms() -> int:
        sleeps = node.events("deepsleep")
        return int(sleeps[-1]["t"]) if sleeps else 0

    wait_until(lambda: simulated_ms() >= DAY_MS, 60, "a day of normal sends")
    broker.stop()
    down_at = simulated_ms()
    wait_until(lambda: simulated_ms() >= down_at + 3 * DAY_MS, 90, "three days of outage")
    broker.start()
    up_at = simulated_ms()
    wait_until(lambda: simulated_ms() >= up_at + DAY_MS, 60, "a day after the outage")
    summary = node.stop()

    sleeps = node.events("deepsleep")
    before = radio_s_per_day(sleeps, 3600_000, down_at)
    during = radio_s_per_day(sleeps, down_at + 2 * 3600_000, up_at)
    after = radio_s_per_day(sleeps, up_at + 3 * 3600_000, sleeps[-1]["t"] + 1)
    measuring = [s["awake_ms"] for s in sleeps if not s["radio_ms"]]
    sending = [s["awake_ms"] for s in sleeps if s["radio_ms"]]
    print(
        f"\nradio on, s a day: before {before:.1f}, during the outage {during:.1f}, "
        f"after {after:.1f}\nawake ms, median / max: measure only {median_max(measuring)}, "
        f"with a send {median_max(sending)}"
    )

    assert not node.first_crash(), node.first_crash()
    # The radio is switched on to send, not at every wake.
    assert len(measuring) > len(sleeps) * 3 // 4, "the radio was on in wakes that only measured"
    # Without the backoff every wake tried for its whole awake budget: about 6,500 s a day.
    assert during < 120, during
    assert before < 30 and after < 30, (before, after)
    # The measurements went on, and every one of them arrived once the broker was back.
    # (All but those of the last hour, which wait in flash for the next send.)
    readings = watcher.wait_readings(
        BIN, lambda rs: len(rs) >= len(sleeps) - 6, f"the readings; output:\n{node.output(120)}"
    )
    seqs = [r["seq"] for r in readings]
    first = list(dict.fromkeys(seqs))
    assert first == list(range(len(first))), seqs  # in order, none lost
    # QoS 1 is at least once: the batch in flight when the broker died may arrive twice (the
    # broker had it, its PUBACK never reached the node); the backend drops the copy by
    # (device, boot, seq). Anything beyond that one batch is a resend bug.
    assert len(seqs) - len(first) <= 20, seqs
    # NTP answered at the first send (its server was not part of the outage): all but the first
    # reading carry the true time.
    assert all(r.get("synced", True) for r in readings[1:])
    assert all(m.body.get("dropped", 0) == 0 for m in watcher.of(BIN, "telemetry"))
    assert summary["wdt_resets"] == 0


def test_a_bin_backs_off_without_an_access_point_but_a_fire_goes_out_at_once(
    broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    watcher.publish(f"sangsach/v1/{BIN}/config", CONFIG, retain=True)
    node = devices(
        node_settings(BIN, "bin", broker.port),
        speed=50000, start_ts=time.time() - 3 * 86400, distance_cm=70.0, temp_c=25.0,
    )  # fmt: skip
    node.start()
    watcher.wait_readings(BIN, lambda rs: len(rs) >= 7, "the first hourly send")
    node.control(wifi=False)  # the access point is gone: association never succeeds
    gone_at = len(node.events("deepsleep"))
    wait_until(lambda: len(node.events("deepsleep")) >= gone_at + 144, 60, "a day without it")
    # The access point comes back as a fire starts, while the node is backing off (it has just
    # skipped the first of the 12 due sends it will skip): the fire goes out at once all the same.
    # Wakes of 120 ms meanwhile, so that the fire lands well inside the backoff.
    node.control(speed=5000)
    holding = node.output(len(node.lines)).count("(11 more wakes)")
    wait_until(
        lambda: node.output(len(node.lines)).count("(11 more wakes)") > holding, 30, "a backoff"
    )
    node.control(wifi=True, temp_c=80.0, speed=50000)
    back_at = len(node.events("deepsleep"))
    wait_until(lambda: len(node.events("deepsleep")) >= back_at + 18, 30, "three hours after")
    node.stop()

    sleeps = node.events("deepsleep")
    down = sleeps[gone_at + 12 : back_at]  # after the send that was under way
    radio_s = sum(s["radio_ms"] for s in down) / 1000
    per_day = radio_s / ((down[-1]["t"] - down[0]["t"]) / DAY_MS)
    print(f"\nradio on without an access point: {per_day:.0f} s a day")
    # Each try gives up after 15 s without association, one try every 13 wakes at most.
    assert per_day < 250, per_day
    assert all(s["awake_ms"] < 20_000 for s in down)
    readings = watcher.wait_readings(BIN, lambda rs: len(rs) >= back_at, "the day's readings")
    assert [r["seq"] for r in readings] == list(range(len(readings)))
    # The first fire reading left in the wake that measured it (it ends its batch), and that
    # wake came while the backoff still held back the due sends.
    fire = next(m.readings for m in watcher.of(BIN, "telemetry")
                if any(r.get("temp_c", 0) >= 70 for r in m.readings))  # fmt: skip
    assert fire[-1]["temp_c"] == 80.0 and all(r["temp_c"] < 70 for r in fire[:-1])
    log = node.output(len(node.lines))
    holding_back = log[: log.index("fire!")].rsplit("backing off after", 1)[-1]
    assert "(0 more wakes)" not in holding_back.splitlines()[0], holding_back[:200]
