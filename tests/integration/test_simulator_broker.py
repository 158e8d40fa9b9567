"""The simulator against a real Mosquitto, seen by a plain MQTT subscriber."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sangsach.contract import BinReading, LampReading, Status, Topic, topic
from sangsach.localbroker import LocalBroker, free_port
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry, parse_registry
from sangsach.registry_gen import generate
from sangsach.simulators.fleet import Fleet, FleetError, Will
from sangsach.simulators.invalid import REASONS
from sangsach.simulators.ledger import Ledger
from sangsach.simulators.run import run_simulation
from tests.unit.test_sim_invalid import assert_rejected_for, parse_telemetry

pytestmark = pytest.mark.integration


class Recorder:
    """A plain paho subscriber keeping every message under sangsach/ and test/."""

    def __init__(self, broker: LocalBroker) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-recorder")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.subscribe([("sangsach/v1/#", 1), ("test/#", 1)])
        self.client.loop_start()
        assert subscribed.wait(5), "the recorder could not subscribe"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[str, bytes]]:
        """The messages, once ``count`` have arrived and no more arrive for a moment."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # time for messages beyond those expected to show up
        with self._lock:
            return list(self.messages)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def recorder(broker: LocalBroker) -> Iterator[Recorder]:
    running = Recorder(broker)
    yield running
    running.stop()


def test_sample_commune_for_two_hours(
    broker: LocalBroker, recorder: Recorder, tmp_path: Path
) -> None:
    commune = load_registry(SAMPLE_REGISTRY)
    registry = {d.id for d in commune.devices()}
    ledger = run_simulation(
        commune,
        host=broker.host,
        port=broker.port,
        speed=3600,
        seed=7,
        hours=2,
        bad_rate=0.02,
        ledger_path=tmp_path / "ledger.jsonl",
    )
    finished = time.time()
    births = sum(len(boots) for boots in ledger.births.values())
    wills = sum(len(boots) for boots in ledger.offline.values())
    expected = ledger.telemetry_messages + len(ledger.invalid) + births + wills
    messages = recorder.wait_for(expected)
    assert len(messages) == expected

    invalid = {record.sha256: record for record in ledger.invalid}
    received_invalid: Counter[str] = Counter()
    received: dict[tuple[str, int, int], LampReading | BinReading] = {}
    statuses: dict[str, list[Status]] = defaultdict(list)
    telemetry_messages = 0
    for topic_, payload in messages:
        where = Topic.parse(topic_)
        if where.channel == "status":
            statuses[where.device_id].append(Status.model_validate_json(payload))
            continue
        digest = hashlib.sha256(payload).hexdigest()
        if digest in invalid:
            assert invalid[digest].topic == topic_
            assert_rejected_for(invalid[digest].reason, topic_, payload, registry, time.time())
            received_invalid[digest] += 1
            continue
        telemetry_messages += 1
        for reading in parse_telemetry(payload):  # every valid message passes the contract
            assert reading.id == where.device_id
            assert not reading.synced or reading.ts <= finished  # never from the future
            key = (reading.id, reading.boot, reading.seq)
            assert key not in received, f"duplicate {key}"
            received[key] = reading

    # Valid telemetry: exactly what the ledger says was acknowledged, from every device.
    assert telemetry_messages == ledger.telemetry_messages
    assert set(received) == {(d, b, s) for d, keys in ledger.readings.items() for b, s in keys}
    assert {device_id for device_id, _, _ in received} == registry
    for spot in ledger.spots:
        reading = received[(spot.device_id, spot.boot, spot.seq)]
        assert (reading.ts, getattr(reading, spot.field)) == (spot.ts, spot.value)

    # Invalid messages: the ones the ledger lists, of every kind.
    assert received_invalid == Counter(record.sha256 for record in ledger.invalid)
    assert {record.reason for record in ledger.invalid} == set(REASONS)

    # Births and wills: every device announced itself; dropped nodes left their will.
    assert {d: [s.boot for s in sts if s.state == "online"] for d, sts in statuses.items()} == {
        d: boots for d, boots in ledger.births.items()
    }
    offline = {d for d, sts in statuses.items() if any(s.state == "offline" for s in sts)}
    assert offline and offline == set(ledger.offline)
    for device_id in offline:
        b1 = ledger.births[device_id][0]
        assert [(s.state, s.boot) for s in statuses[device_id]] == [
            ("online", b1),
            ("offline", None),
            ("online", b1 + 1),
        ]

    # The ledger file says the same as the ledger returned.
    loaded = Ledger.load(tmp_path / "ledger.jsonl")
    assert (loaded.readings, loaded.invalid, loaded.offline) == (
        ledger.readings,
        ledger.invalid,
        ledger.offline,
    )


def test_drop_fires_the_will_and_the_device_comes_back(
    broker: LocalBroker, recorder: Recorder
) -> None:
    status = topic("lamp-x-001", "status")
    done: list[str] = []
    with Fleet(broker.host, broker.port) as fleet:
        fleet.connect("lamp-x-001", will=Will(status, b"gone"))
        fleet.publish("lamp-x-001", "test/a", b"before", on_ack=lambda: done.append("before"))
        fleet.drop("lamp-x-001", on_done=lambda: done.append("dropped"))
        fleet.connect("lamp-x-001", will=Will(status, b"gone again"))
        fleet.publish("lamp-x-001", "test/a", b"after", on_ack=lambda: done.append("after"))
        fleet.drain()
    assert done == ["before", "dropped", "after"]
    assert recorder.wait_for(3) == [("test/a", b"before"), (status, b"gone"), ("test/a", b"after")]


def test_outstanding_messages_are_capped(
    broker: LocalBroker, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    outstanding = peak = 0
    publish = mqtt.Client.publish

    def counting_publish(self: mqtt.Client, *args: object, **kwargs: object) -> object:
        nonlocal outstanding, peak
        outstanding += 1
        peak = max(peak, outstanding)
        return publish(self, *args, **kwargs)  # type: ignore[arg-type]

    def acked() -> None:
        nonlocal outstanding
        outstanding -= 1

    monkeypatch.setattr(mqtt.Client, "publish", counting_publish)
    with Fleet(broker.host, broker.port, max_inflight=3) as fleet:
        fleet.connect("bin-x-01", will=None)
        for n in range(200):
            fleet.publish("bin-x-01", "test/n", str(n).encode(), on_ack=acked)
        fleet.drain()
    assert (peak, outstanding) == (3, 0)
    assert [p for _, p in recorder.wait_for(200)] == [str(n).encode() for n in range(200)]


def test_an_unreachable_broker_is_an_error() -> None:
    port = free_port()
    with Fleet("127.0.0.1", port) as fleet:
        fleet.connect("lamp-x-001", will=None)
        with pytest.raises(
            FleetError, match=f"cannot connect to the MQTT broker at 127.0.0.1:{port}"
        ):
            fleet.poll(0.1)


def test_a_lost_broker_ends_the_run_with_an_error(broker: LocalBroker) -> None:
    with Fleet(broker.host, broker.port) as fleet:
        fleet.connect("lamp-x-001", will=None)
        fleet.publish("lamp-x-001", "test/a", b"1", on_ack=lambda: None)
        fleet.drain()
        broker.kill()
        with pytest.raises(FleetError, match="lamp-x-001: lost the connection"):
            fleet.drain()
            for _ in range(40):
                fleet.poll(0.05)


def test_the_stop_event_ends_an_open_ended_run(broker: LocalBroker) -> None:
    commune = parse_registry(generate(2, 5, 2, seed=1))
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    ledger = run_simulation(commune, host=broker.host, port=broker.port, speed=1, stop_event=stop)
    assert time.monotonic() - started < 5
    assert sorted(ledger.births) == sorted(d.id for d in commune.devices())
