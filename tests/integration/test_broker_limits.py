"""Size fences end to end, on the shipped broker configuration (deploy/mosquitto/mosquitto.conf
with sangsach/data/mosquitto/sangsach.conf) and the real gateway and backend.

A device publishing 1 MB or 32 MB, or a 64 MB retained status, is refused by the broker from the
packet's header and disconnected: nothing reaches the gateway, nothing is retained, and the
broker's and the gateway's memory stay where they were. A payload between the contract's 64 KiB
and the broker's 256 KiB still reaches the gateway and is kept as an `oversized` dead letter. The
other devices' readings are all stored meanwhile.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from sangsach.broker.accounts import BrokerAccounts
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.deploybroker import MAKE_CERTS, DeployBroker
from tests.harness import Stack, publish_all, reading, wait_until

pytestmark = pytest.mark.e2e

ATTACKER, OTHER = "lamp-dong-ha-001", "bin-dong-ha-01"
MB = 1024 * 1024
BROKER_RSS_MB = 40  # the broker idles near 7 MB
GATEWAY_RSS_MB = 120  # the gateway idles near 55 MB


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    subprocess.run([MAKE_CERTS, folder, "localhost", "127.0.0.1"], check=True, capture_output=True)
    return folder


class Device:
    """A device's own MQTT 3.1.1 connection (3.1.1: the client is not told the broker's
    limit, so it sends whatever it is asked to)."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=user, protocol=MQTTProtocolVersion.MQTTv311
        )
        self.client.username_pw_set(user, password)
        self.dropped = threading.Event()
        self.client.on_disconnect = lambda *_: self.dropped.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        """Whether the broker acknowledged it within 15 s (False: it dropped the connection)."""
        self.dropped.clear()
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not info.is_published():
            if self.dropped.is_set():
                return False
            time.sleep(0.02)
        return info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def fenced(tmp_path: Path, certs: Path) -> Iterator[tuple[DeployBroker, Stack, BrokerAccounts]]:
    accounts = BrokerAccounts(tmp_path / "auth", load_registry(SAMPLE_REGISTRY))
    gateway = accounts.add("gateway")
    with DeployBroker(tmp_path / "mosquitto", accounts.folder, certs) as broker:
        env = {"SANGSACH_MQTT_USERNAME": "gateway", "SANGSACH_MQTT_PASSWORD": gateway.password}
        stack = Stack(tmp_path / "stack", broker.service_port, env).start()
        try:
            yield broker, stack, accounts
        finally:
            stack.close()


def test_oversized_publishes_are_refused_and_memory_holds(
    fenced: tuple[DeployBroker, Stack, BrokerAccounts],
) -> None:
    broker, stack, accounts = fenced
    attacker, other = accounts.add(ATTACKER), accounts.add(OTHER)
    broker.reload()
    time.sleep(0.5)
    assert broker._process is not None
    broker_pid, gateway_pid = broker._process.pid, stack.gateway.pid
    telemetry = f"sangsach/v1/{ATTACKER}/telemetry"
    status = f"sangsach/v1/{ATTACKER}/status"
    now = int(time.time()) - 60
    peaks = {"broker": 0.0, "gateway": 0.0}
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.1):
            peaks["broker"] = max(peaks["broker"], rss_mb(broker_pid))
            peaks["gateway"] = max(peaks["gateway"], rss_mb(gateway_pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    refused = []
    try:
        for name, topic, size, retain in [
            ("1 MB reading", telemetry, MB, False),
            ("32 MB reading", telemetry, 32 * MB, False),
            ("64 MB retained status", status, 64 * MB, True),
        ]:
            device = Device(broker.port, ATTACKER, attacker.password)
            refused.append(
                (name, not device.publish(topic, b"{" + b" " * (size - 2) + b"}", retain=retain))
            )
            device.close()
            # The other devices go on meanwhile.
            seq = len(refused)
            publish_all(broker.port, [(f"sangsach/v1/{OTHER}/telemetry",
                                       reading(OTHER, "bin", seq, now + seq))],
                        client_id="other-bin", auth=(OTHER, other.password))  # fmt: skip
        device = Device(broker.port, ATTACKER, attacker.password)
        middle = b"{" + b" " * (200 * 1024 - 2) + b"}"  # above the contract, under the broker's
        assert device.publish(telemetry, middle), "a 200 KiB payload is the gateway's to refuse"
        device.close()
        wait_until(lambda: stack.stored() == 3, 30, "the other bin's readings")
        wait_until(lambda: len(stack.dead_letters()) == 1, 30, "the oversized dead letter")
    finally:
        sampling.set()
        sampler.join()
    assert refused == [(name, True) for name, _ in refused], refused
    [letter] = stack.dead_letters()
    assert (letter["reason"], letter["payload_bytes"]) == ("oversized", len(middle))
    wait_until(  # 3 readings and the 200 KiB one: nothing of the refused ones
        lambda: stack.gateway_health()["intake"]["received"] == 4, 10, "the health file"
    )
    watcher = Device(broker.port, OTHER, other.password)
    got: list[bytes] = []
    watcher.client.on_message = lambda c, u, m: got.append(bytes(m.payload))
    watcher.client.subscribe(status, qos=1)
    time.sleep(1)
    watcher.close()
    assert got == [], "the 64 MB status was retained"
    print(
        f"\nsize fences: 1 MB, 32 MB and a 64 MB retained status refused; broker RSS peak "
        f"{peaks['broker']:.0f} MB, gateway {peaks['gateway']:.0f} MB; a 200 KiB payload kept as "
        f"an oversized dead letter; the other bin's 3 readings stored"
    )
    assert peaks["broker"] < BROKER_RSS_MB and peaks["gateway"] < GATEWAY_RSS_MB, peaks
