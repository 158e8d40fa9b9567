"""Faults at the edge, on real processes: Mosquitto restarted while the gateway is offline, and
devices whose clocks are skewed within and beyond the gateway's limits."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from sangsach.localbroker import LocalBroker
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.harness import Stack, publish_all, reading, wait_until

LAMPS = [d.id for d in load_registry(SAMPLE_REGISTRY).devices() if d.kind == "lamp"][:20]
DAY = 86_400


def telemetry(device_id: str) -> str:
    return f"sangsach/v1/{device_id}/telemetry"


def spread(first_seq: int, count: int, now: int) -> list[tuple[str, bytes]]:
    """``count`` readings per lamp, 60 s apart in device time, ending a minute ago."""
    return [
        (telemetry(lamp), reading(lamp, "lamp", seq, now - 60 - (first_seq + count - seq) * 60))
        for seq in range(first_seq, first_seq + count)
        for lamp in LAMPS
    ]


def test_broker_restarted_while_the_gateway_is_offline_keeps_its_queue(
    tmp_path: Path, broker: LocalBroker
) -> None:
    """Persistence on: the queue of the gateway's offline session survives a broker restart."""
    stack = Stack(tmp_path / "stack", broker.port).start()
    try:
        stack.gateway.stop()  # offline; the broker queues for its persistent session
        now = int(time.time())
        sent = publish_all(broker.port, spread(0, 100, now), client_id="nodes-before")
        broker.restart()
        sent += publish_all(broker.port, spread(100, 100, now), client_id="nodes-after")
        back = time.monotonic()
        stack.start_gateway()
        wait_until(lambda: stack.stored() >= sent, 120, f"{sent} readings", every=0.2)
        recovery_s = time.monotonic() - back
        time.sleep(2)  # a duplicate would show now
        assert stack.stored() == sent == 4000
        print(f"\nbroker restart: {sent} sent, {sent} stored, recovered in {recovery_s:.1f} s")
        health = stack.gateway_health()["intake"]
        assert health["rejected"] == 0
        assert health["accepted"] == sent
    finally:
        stack.close()


def test_skewed_clocks_within_the_limits_are_stored_beyond_them_dead_lettered(
    tmp_path: Path, broker: LocalBroker
) -> None:
    stack = Stack(tmp_path / "stack", broker.port).start()
    try:
        now = int(time.time())
        ahead, behind, lagging, far, unset = LAMPS[:5]
        messages = [
            (telemetry(ahead), reading(ahead, "lamp", 1, now + 200)),  # < 300 s ahead: kept
            (telemetry(ahead), reading(ahead, "lamp", 2, now + 3600)),  # an hour ahead
            (telemetry(behind), reading(behind, "lamp", 1, now - 29 * DAY)),  # old, in limits
            (telemetry(lagging), reading(lagging, "lamp", 1, now - 31 * DAY)),  # too old
            (telemetry(far), reading(far, "lamp", 1, now + 400 * DAY)),  # a year ahead
            (telemetry(unset), reading(unset, "lamp", 1, 42, synced=False, on=True)),
        ]
        publish_all(broker.port, messages)
        wait_until(
            lambda: stack.stored() == 3 and len(stack.dead_letters()) == 3,
            60,
            "3 readings stored and 3 dead letters",
        )
        letters = stack.dead_letters()
        assert Counter((d["device_id"], d["reason"]) for d in letters) == {
            (ahead, "future_ts"): 1,
            (lagging, "stale_ts"): 1,
            (far, "future_ts"): 1,
        }
        assert all("gateway clock" in d["detail"] or "days old" in d["detail"] for d in letters)
        rows = stack.http.get(f"/api/v1/devices/{unset}/readings").raise_for_status().json()
        assert len(rows) == 1 and rows[0]["synced"] is False
        assert abs(rows[0]["ts"] - now) < 120, "an unset clock gets the gateway's receive time"
    finally:
        stack.close()
