"""Broker -> gateway -> backend on real processes: valid readings stored once, bad ones kept."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sangsach.localbroker import LocalBroker
from tests.harness import Stack, publish_all, reading, wait_until

LAMP, BIN = "lamp-dong-ha-001", "bin-dong-ha-01"


@pytest.fixture
def stack(tmp_path: Path, broker: LocalBroker) -> Iterator[Stack]:
    running = Stack(tmp_path / "stack", broker.port).start()
    yield running
    running.close()


def telemetry(device_id: str) -> str:
    return f"sangsach/v1/{device_id}/telemetry"


def test_readings_flow_to_storage_and_bad_messages_to_dead_letters(
    stack: Stack, broker: LocalBroker
) -> None:
    now = int(time.time())
    good = [(telemetry(LAMP), reading(LAMP, "lamp", seq, now - 100 + seq)) for seq in range(50)]
    good += [(telemetry(BIN), reading(BIN, "bin", seq, now - 100 + seq, fill_pct=float(seq)))
             for seq in range(30)]  # fmt: skip
    duplicates = good[:10]
    bad = [
        (telemetry(LAMP), b"{oops"),
        (telemetry(LAMP), reading(LAMP, "lamp", 999, now, on="yes")),
        (telemetry("lamp-nowhere-001"), reading("lamp-nowhere-001", "lamp", 1, now)),
        (telemetry(BIN), reading(LAMP, "lamp", 1000, now)),
        (telemetry(BIN), reading(BIN, "lamp", 1001, now)),
    ]
    publish_all(broker.port, good + duplicates + bad)

    wait_until(lambda: stack.stored() == 80 and len(stack.dead_letters()) == 5, 30, "storage")
    time.sleep(1)  # anything extra would arrive now
    assert stack.stats()["readings"] == {"lamp": 50, "bin": 30}
    reasons = sorted(letter["reason"] for letter in stack.dead_letters())
    assert reasons == sorted(
        ["malformed_json", "schema", "unknown_device", "id_mismatch", "kind_mismatch"]
    )
    bin_readings = stack.http.get(f"/api/v1/devices/{BIN}/readings").json()
    assert [r["values"]["fill_pct"] for r in bin_readings] == [float(s) for s in range(30)]
    device = stack.http.get(f"/api/v1/devices/{LAMP}").json()
    assert device["seq"] == 49


def test_backend_down_then_up_loses_nothing(stack: Stack, broker: LocalBroker) -> None:
    now = int(time.time())
    stack.backend.stop()
    publish_all(
        broker.port, [(telemetry(LAMP), reading(LAMP, "lamp", s, now - 50)) for s in range(40)]
    )
    time.sleep(2)  # the gateway retries against a closed port meanwhile
    stack.start_backend()
    wait_until(lambda: stack.stored() == 40, 60, "the spooled readings")
