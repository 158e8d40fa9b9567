"""The gateway's per-device limit: every message counts, what comes beyond it is folded into
one flood dead letter per device and minute, with the count."""

from __future__ import annotations

import random

from sangsach.contract import Reason
from sangsach.gateway.throttle import KEPT_MINUTES, DeviceThrottle
from sangsach.gateway.validate import Incoming

T0 = 1_795_000_040  # 20 s into a minute of the clock
TOPIC = "sangsach/v1/lamp-a/telemetry"


def msg(payload: bytes = b"{}", at: float = T0) -> Incoming:
    return Incoming(TOPIC, payload, at)


def test_at_most_the_limit_per_device_minute() -> None:
    throttle = DeviceThrottle(per_minute=5)
    assert [throttle.allow("lamp-a", T0 + i, msg()) for i in range(7)] == [True] * 5 + [False] * 2
    assert throttle.allow("lamp-a", T0 + 40, msg()), "the next minute of the device's clock"
    assert throttle.allow("lamp-b", T0, msg()), "each device counts apart"
    assert throttle.folded == 2


def test_a_backlog_spanning_device_time_passes_in_any_order_a_fast_loop_does_not() -> None:
    throttle = DeviceThrottle(per_minute=12)
    backlog = [T0 - 86_400 + i * 10 for i in range(2000)]  # a day, 10 s apart
    random.Random(3).shuffle(backlog)
    assert all(throttle.allow("bin-a", ts, msg()) for ts in backlog)
    loop = [throttle.allow("lamp-a", T0 + i // 10, msg()) for i in range(100)]  # 10 a second
    assert sum(loop) == 12, "its 10 seconds fall in one device-minute"


def test_memory_stays_bounded_per_device() -> None:
    throttle = DeviceThrottle(per_minute=1)
    for i in range(10_000):
        throttle.allow("lamp-a", T0 + i * 60, msg())
        throttle.allow("lamp-a", T0 + i * 60, msg())  # one flood a minute
        throttle.take_floods()
    assert len(throttle._counts["lamp-a"]) <= 2 * KEPT_MINUTES
    assert len(throttle._floods) <= 2 * KEPT_MINUTES


def test_one_flood_letter_per_device_minute_with_the_count_sent_again_as_it_grows() -> None:
    throttle = DeviceThrottle(per_minute=3)
    junk = [msg(b"junk %d" % i, T0 + 0.1 * i) for i in range(10)]
    for m in junk[:6]:
        throttle.allow("lamp-a", m.received_at, m)
    [first] = throttle.take_floods()
    assert first.reason is Reason.FLOOD and first.messages == 3
    assert first.payload == "junk 3" and first.payload_bytes == 3 * len(b"junk 3")
    assert first.device_id == "lamp-a" and first.topic == TOPIC
    assert "more than 3 messages in one minute: 3 from the minute" in first.detail
    assert first.detail.startswith("thiết bị 'lamp-a' gửi quá 3 tin một phút")
    assert throttle.take_floods() == [], "nothing new: nothing sent again"
    for m in junk[6:]:
        throttle.allow("lamp-a", m.received_at, m)
    [grown] = throttle.take_floods()
    assert (grown.id, grown.messages) == (first.id, 7)
    assert DeviceThrottle(per_minute=3)._letter(throttle._floods["lamp-a", T0 // 60]).id == (
        first.id
    ), "the id names the device and the minute alone: the same after a restart"


def test_the_readings_of_one_batch_count_each_their_bytes_once() -> None:
    throttle = DeviceThrottle(per_minute=2)
    batch = msg(b"x" * 1000)
    assert [throttle.allow("bin-a", T0, batch) for _ in range(5)] == [True, True] + [False] * 3
    [flood] = throttle.take_floods()
    assert (flood.messages, flood.payload_bytes) == (3, 1000)


def test_messages_without_a_device_share_one_count() -> None:
    throttle = DeviceThrottle(per_minute=1)
    assert throttle.allow(None, T0, msg())
    assert not throttle.allow(None, T0, msg())
    [flood] = throttle.take_floods()
    assert flood.device_id is None and "(no valid device id)" in flood.detail
