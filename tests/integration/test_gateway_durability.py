"""What the broker policy and the gateway's back-pressure are for, on real processes."""

from __future__ import annotations

import time
from pathlib import Path

from sangsach.localbroker import LocalBroker
from tests.harness import Stack, publish_all, reading, wait_until

LAMP = "lamp-dong-ha-001"
TOPIC = f"sangsach/v1/{LAMP}/telemetry"


def backlog(seq: int, count: int, now: int) -> bytes:
    """A node's buffered readings, 10 s apart (its fastest report interval), the last a minute
    ago: a backlog spans device time, so the gateway's per-device throttle lets it through."""
    return reading(LAMP, "lamp", seq, now - 60 - (count - seq) * 10)


def test_readings_queued_while_the_gateway_is_offline_are_all_kept(
    tmp_path: Path, broker: LocalBroker
) -> None:
    """Mosquitto's default of 1000 queued messages would drop 4000 of these silently."""
    stack = Stack(tmp_path / "stack", broker.port).start()
    try:
        stack.gateway.stop()  # its persistent session stays at the broker
        now = int(time.time())
        publish_all(broker.port, [(TOPIC, backlog(s, 5000, now)) for s in range(5000)])
        stack.start_gateway()
        wait_until(lambda: stack.stored() == 5000, 120, "5000 queued readings", every=1)
    finally:
        stack.close()


def test_a_full_spool_stops_acks_and_the_broker_keeps_the_rest(
    tmp_path: Path, broker: LocalBroker
) -> None:
    stack = Stack(tmp_path / "stack", broker.port, {"SANGSACH_SPOOL_MAX_ROWS": "1000"}).start()
    try:
        stack.backend.stop()
        now = int(time.time())
        publish_all(broker.port, [(TOPIC, backlog(s, 4000, now)) for s in range(4000)])
        wait_until(lambda: stack.gateway_health()["spooled"] > 0, 30, "spooling")
        time.sleep(4)  # intake is paused now; the spool does not grow past its maximum
        health = stack.gateway_health()
        assert health["spooled"] <= 1000
        assert health["intake"]["received"] < 4000
        stack.start_backend()
        wait_until(lambda: stack.stored() == 4000, 120, "4000 readings after the pause", every=1)
    finally:
        stack.close()
