"""The gateway's per-device limit, counted per minute of the device's own clock."""

from __future__ import annotations

import random

from sangsach.contract import Reason
from sangsach.gateway.throttle import KEPT_MINUTES, DeviceThrottle

T0 = 1_795_000_040  # 20 s into a minute of the clock


def test_at_most_the_limit_per_device_minute() -> None:
    throttle = DeviceThrottle(per_minute=5)
    assert [throttle.allow("lamp-a", T0 + i) for i in range(7)] == [True] * 5 + [False] * 2
    assert throttle.allow("lamp-a", T0 + 40), "the next minute of the device's clock"
    assert throttle.allow("lamp-b", T0), "each device counts apart"


def test_a_backlog_spanning_device_time_passes_in_any_order_a_fast_loop_does_not() -> None:
    throttle = DeviceThrottle(per_minute=12)
    backlog = [T0 - 86_400 + i * 10 for i in range(2000)]  # a day, 10 s apart
    random.Random(3).shuffle(backlog)
    assert all(throttle.allow("bin-a", ts) for ts in backlog)
    loop = [throttle.allow("lamp-a", T0 + i // 10) for i in range(100)]  # 10 a second
    assert sum(loop) == 12, "its 10 seconds fall in one device-minute"


def test_memory_stays_bounded_per_device() -> None:
    throttle = DeviceThrottle(per_minute=12)
    for i in range(10_000):
        throttle.allow("lamp-a", T0 + i * 60)
    assert len(throttle._counts["lamp-a"]) <= 2 * KEPT_MINUTES


def test_the_dead_letter_names_the_reason_and_is_the_same_on_redelivery() -> None:
    throttle = DeviceThrottle(per_minute=12)
    body = {"id": "lamp-a", "kind": "lamp", "boot": 2, "seq": 9, "ts": T0, "on": True}
    letter = throttle.rejection({**body, "received_at": T0 + 0.5})
    assert letter.reason is Reason.RATE_LIMITED
    assert letter.topic == "sangsach/v1/lamp-a/telemetry"
    assert "12 readings per minute" in letter.detail and "seq 9" in letter.detail
    assert '"seq":9' in letter.payload and "received_at" not in letter.payload
    assert throttle.rejection({**body, "received_at": T0 + 9}).id == letter.id
