"""The whole pipeline on real processes: simulated commune -> Mosquitto -> gateway -> backend
-> InfluxDB. Every valid reading is stored exactly once and every invalid message is kept with
its reason — also when the backend is stopped and the gateway SIGKILLed in the middle.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from sangsach.backend.timeseries.influx import InfluxStore
from sangsach.localbroker import LocalBroker
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.simulators.ledger import Ledger
from sangsach.simulators.run import run_simulation
from tests.harness import Stack, wait_until
from tests.services import InfluxD

pytestmark = pytest.mark.e2e

HOURS = 6
SEED = 7
BAD_RATE = 0.01


@pytest.fixture
def influx_db(influxd: InfluxD) -> Iterator[InfluxStore]:
    store = InfluxStore(influxd.url, f"e2e_{uuid4().hex[:12]}")
    yield store
    store.close()


@pytest.fixture
def stack(tmp_path: Path, broker: LocalBroker, influx_db: InfluxStore) -> Iterator[Stack]:
    env = {
        "SANGSACH_TIMESERIES": "influxdb",
        "SANGSACH_INFLUX_URL": influx_db.url,
        "SANGSACH_INFLUX_DB": influx_db.db,
    }
    running = Stack(tmp_path / "stack", broker.port, env).start()
    yield running
    running.close()


def simulate(broker: LocalBroker, speed: float) -> Ledger:
    commune = load_registry(SAMPLE_REGISTRY)
    return run_simulation(
        commune, host=broker.host, port=broker.port, speed=speed, seed=SEED, hours=HOURS,
        bad_rate=BAD_RATE,
    )  # fmt: skip


def assert_exactly_once(stack: Stack, store: InfluxStore, ledger: Ledger) -> None:
    expected, invalid = ledger.reading_count, len(ledger.invalid)
    assert expected > 20_000, "the simulation should cover 380 devices for 6 hours"
    assert len(ledger.readings) == 380
    wait_until(
        lambda: stack.stored() >= expected and len(stack.dead_letters()) >= invalid,
        240,
        f"{expected} readings and {invalid} dead letters",
        every=1,
    )
    time.sleep(2)  # a straggler, duplicate or extra would show now
    assert stack.stored() == expected

    for device_id, keys in ledger.readings.items():
        assert store.keys(device_id) == keys, device_id

    by_key = {}
    for spot in ledger.spots[::25]:
        if (spot.device_id, spot.boot) not in by_key:
            rows = store.readings(spot.device_id, limit=100_000)
            by_key.update({(r.device_id, r.boot, r.seq): r for r in rows})
        stored = by_key[(spot.device_id, spot.boot, spot.seq)]
        assert stored.values[spot.field] == spot.value
        assert stored.synced is spot.synced
        if spot.synced:
            assert stored.ts == spot.ts

    letters = stack.dead_letters()
    assert len(letters) == invalid
    assert Counter((d["topic"], d["reason"]) for d in letters) == Counter(
        (record.topic, str(record.reason)) for record in ledger.invalid
    )
    assert all(d["detail"] for d in letters)

    for device_id in ledger.offline:
        assert any(not event.online for event in store.statuses(device_id)), device_id


def test_six_hours_of_the_commune_stored_exactly_once(
    stack: Stack, broker: LocalBroker, influx_db: InfluxStore
) -> None:
    ledger = simulate(broker, speed=1440)
    assert ledger.offline, "the fault plan should drop some nodes offline"
    assert_exactly_once(stack, influx_db, ledger)
    health = stack.gateway_health()
    assert health["intake"]["rejected"] > 0


def test_backend_stopped_and_gateway_killed_midway_still_exactly_once(
    stack: Stack, broker: LocalBroker, influx_db: InfluxStore
) -> None:
    # 6 simulated hours in 30 s; the faults at the same simulated moments as they were at 540
    # (40 s): each pause is 3/4 of what it was then.
    result: list[Ledger] = []
    simulation = threading.Thread(target=lambda: result.append(simulate(broker, speed=720)))
    simulation.start()
    time.sleep(6)
    stack.backend.stop()  # the gateway spools meanwhile
    time.sleep(3.75)
    stored_before_kill = stack.gateway_health()["spooled"]
    stack.gateway.kill()  # SIGKILL, mid-batch: the broker keeps the session's queue
    time.sleep(3.75)
    stack.start_gateway()
    time.sleep(3.75)
    stack.start_backend()
    simulation.join(300)
    assert result, "the simulation did not finish"
    assert stored_before_kill > 0, (
        "the gateway should have been spooling while the backend was down"
    )
    assert_exactly_once(stack, influx_db, result[0])


def test_thousands_of_devices_from_a_generated_registry(
    tmp_path: Path, broker: LocalBroker
) -> None:
    """`sangsach registry generate` feeds both the backend and the simulators."""
    from sangsach.registry_file import parse_registry
    from sangsach.registry_gen import generate

    text = generate(villages=50, lamps_per_village=40, bins_per_village=10, seed=3)
    path = tmp_path / "big.yaml"
    path.write_text(text, encoding="utf-8")
    commune = parse_registry(text)
    assert len(list(commune.devices())) == 2500
    stack = Stack(tmp_path / "stack", broker.port, {"SANGSACH_REGISTRY_FILE": str(path)}).start()
    try:
        ledger = run_simulation(
            commune, host=broker.host, port=broker.port, speed=3600, seed=SEED, hours=0.5
        )
        assert len(ledger.readings) > 2000  # bins send hourly: some have not sent yet
        wait_until(lambda: stack.stored() == ledger.reading_count, 180, "every reading", every=1)
        assert stack.dead_letters() == []
        # Births of the bins that have not sent a reading yet may still be on their way.
        wait_until(lambda: stack.stats()["devices"]["never"] == 0, 60, "every device's birth")
    finally:
        stack.close()
