"""The gateway's own MQTT client against a real Mosquitto, with paho as the devices.

What the intake relies on: every message arrives with its topic, payload and retain flag; what
is not acknowledged comes again on the next connection; the broker never has more than the
Receive Maximum unacknowledged messages out to us; a quiet connection stays up; a refusal is
logged with its reason; and the client comes back after the broker restarts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from sangsach.broker.accounts import BrokerAccounts
from sangsach.config import GatewaySettings
from sangsach.gateway.mqtt import GatewayClient
from sangsach.gateway.validate import Incoming
from sangsach.localbroker import LocalBroker
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.deploybroker import MAKE_CERTS, DeployBroker
from tests.harness import wait_until

pytestmark = pytest.mark.integration

TELEMETRY = "sangsach/v1/lamp-a-{:02d}/telemetry"
STATUS = "sangsach/v1/bin-b-01/status"


@dataclass
class Received:
    """What the client handed over, call by call, as the intake would get it."""

    calls: list[tuple[list[Incoming], list[int], int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, messages: list[Incoming], mids: list[int], generation: int) -> None:
        assert len(messages) == len(mids)
        with self.lock:
            self.calls.append((messages, mids, generation))

    def messages(self) -> list[Incoming]:
        with self.lock:
            return [msg for batch, _, _ in self.calls for msg in batch]

    def payloads(self) -> list[bytes]:
        return [msg.payload for msg in self.messages()]

    def take(self) -> list[tuple[list[int], int]]:
        """The (mids, generation) of every call so far, forgotten here: to acknowledge them."""
        with self.lock:
            taken = [(mids, generation) for _, mids, generation in self.calls]
            self.calls.clear()
        return taken


def settings(port: int, tmp_path: Path, **values: Any) -> GatewaySettings:
    return GatewaySettings(
        mqtt_port=port, data_dir=tmp_path, gateway_id="gw-test", mqtt_keepalive_s=5, **values
    )


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def started(received: Received) -> Iterator[list[GatewayClient]]:
    """Clients a test starts; stopped at its end whatever happens."""
    clients: list[GatewayClient] = []
    yield clients
    for client in clients:
        client.stop()


def start(
    clients: list[GatewayClient], config: GatewaySettings, received: Received
) -> GatewayClient:
    client = GatewayClient(config, received)
    clients.append(client)
    client.start()
    wait_until(lambda: client.subscribed, 20, "the client's subscriptions", every=0.05)
    return client


def publish(port: int, messages: list[tuple[str, bytes, bool]]) -> None:
    """Publish with QoS 1 as a device would (topic, payload, retain); wait for every PUBACK."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="device")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1, retain=retain) for topic, payload, retain in messages]  # fmt: skip
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()


def telemetry(count: int, start_at: int = 0) -> list[tuple[str, bytes, bool]]:
    return [(TELEMETRY.format(n % 7), f"reading {n}".encode(), False) for n in range(start_at, start_at + count)]  # fmt: skip


def test_messages_arrive_with_topic_payload_and_retain_and_acks_are_final(
    broker: LocalBroker, tmp_path: Path, received: Received, started: list[GatewayClient]
) -> None:
    publish(broker.port, [(STATUS, b"online", True)])  # retained before anyone subscribes
    client = start(started, settings(broker.port, tmp_path), received)
    publish(broker.port, telemetry(300))
    wait_until(lambda: len(received.messages()) == 301, 20, "301 messages")
    messages = received.messages()
    assert (messages[0].topic, messages[0].payload, messages[0].retained) == (
        STATUS,
        b"online",
        True,
    )
    assert sorted((m.topic, m.payload, m.retained) for m in messages[1:]) == sorted(
        (topic, payload, False) for topic, payload, _ in telemetry(300)
    )
    for mids, generation in received.take():
        client.ack(mids, generation)
    client.stop()

    again = start(started, settings(broker.port, tmp_path), received)
    assert again.generation == 1
    publish(broker.port, [(TELEMETRY.format(1), b"marker", False)])
    wait_until(lambda: b"marker" in received.payloads(), 20, "the marker")
    # Nothing acknowledged came again; the retained status does, on every subscription.
    assert [(m.payload, m.retained) for m in received.messages()] == [
        (b"online", True),
        (b"marker", False),
    ]


def test_unacknowledged_messages_come_again_on_the_next_connection(
    broker: LocalBroker, tmp_path: Path, received: Received, started: list[GatewayClient]
) -> None:
    first = start(started, settings(broker.port, tmp_path), received)
    publish(broker.port, telemetry(20))
    wait_until(lambda: len(received.messages()) == 20, 20, "20 messages")
    with received.lock:
        every = [(msg, mid, gen) for batch, mids, gen in received.calls for msg, mid in zip(batch, mids, strict=True)]  # fmt: skip
        received.calls.clear()
    even = [(msg, mid, gen) for msg, mid, gen in every if int(msg.payload.split()[1]) % 2 == 0]
    first.ack([mid for _, mid, _ in even], first.generation)
    first.stop()

    start(started, settings(broker.port, tmp_path), received)
    wait_until(lambda: len(received.messages()) >= 10, 20, "the 10 unacknowledged again")
    publish(broker.port, [(TELEMETRY.format(1), b"marker", False)])
    wait_until(lambda: b"marker" in received.payloads(), 20, "the marker")
    odd = [payload for _, payload, _ in telemetry(20)][1::2]
    assert sorted(received.payloads()) == sorted([*odd, b"marker"])


def test_the_broker_holds_back_what_exceeds_receive_maximum(
    broker: LocalBroker, tmp_path: Path, received: Received, started: list[GatewayClient]
) -> None:
    """The broker sends a Receive Maximum of unacknowledged messages and keeps the rest.

    Only the first window is checked: Mosquitto 2.0.11 (Debian 12) sends everything it has
    queued once the first acknowledgements come, paho or not; later versions count the quota.
    """
    client = start(started, settings(broker.port, tmp_path, receive_maximum=10), received)
    publish(broker.port, telemetry(55))  # the broker's own in-flight limit is 1000
    wait_until(lambda: len(received.messages()) >= 10, 20, "the first ten")
    threading.Event().wait(0.5)  # given time to overshoot, the broker still holds the rest
    outstanding = received.take()
    assert sum(len(mids) for mids, _ in outstanding) == 10
    got = 10
    while got < 55:
        for mids, generation in outstanding:
            client.ack(mids, generation)
        wait_until(lambda: bool(received.calls), 20, f"more after {got}")
        outstanding = received.take()
        got += sum(len(mids) for mids, _ in outstanding)
    assert got == 55


def drain_acking(client: GatewayClient, received: Received, total: int) -> tuple[int, int]:
    """Take and acknowledge deliveries until ``total`` came; returns (how many came, the most
    held unacknowledged at one time)."""
    got, most = 0, 0
    while got < total:
        wait_until(lambda: bool(received.calls), 20, f"more after {got}")
        threading.Event().wait(0.3)  # time to read on, were the reader not paused
        outstanding = received.take()
        count = sum(len(mids) for mids, _ in outstanding)
        most = max(most, count)
        got += count
        for mids, generation in outstanding:
            client.ack(mids, generation)
    return got, most


def test_the_client_stops_reading_while_a_window_waits_for_acknowledgement(
    broker: LocalBroker, tmp_path: Path, received: Received, started: list[GatewayClient]
) -> None:
    """What the broker sends past the window stays unread: the gateway holds at most the
    window plus one 64 KiB read, however much is queued (8 KiB messages: 8 a read)."""
    client = start(started, settings(broker.port, tmp_path, receive_maximum=10), received)
    big = [(TELEMETRY.format(n % 7), bytes([n % 256]) * 8192, False) for n in range(150)]
    publish(broker.port, big)
    got, most = drain_acking(client, received, 150)
    assert got == 150
    assert most <= 10 + 65_536 // 8192 + 1, f"{most} messages held unacknowledged at once"


def test_the_window_is_bounded_in_bytes_too(
    broker: LocalBroker, tmp_path: Path, received: Received, started: list[GatewayClient]
) -> None:
    """Large messages: the bytes held unacknowledged stop the reader before the count does
    (1 MiB here, 100 KiB messages, a Receive Maximum of 1000)."""
    window = 1024 * 1024
    client = start(started, settings(broker.port, tmp_path, window_bytes=window), received)
    size = 100 * 1024
    big = [(TELEMETRY.format(n % 7), bytes([n % 256]) * size, False) for n in range(60)]
    publish(broker.port, big)
    got, most = drain_acking(client, received, 60)
    assert got == 60
    # the window, the message that crossed it, and what one 64 KiB read completes
    assert most * size <= window + size + 65_536 + size, f"{most} messages of 100 KiB held"


def test_keepalive_keeps_a_quiet_connection_up(
    tmp_path: Path, received: Received, started: list[GatewayClient]
) -> None:
    with LocalBroker(tmp_path / "mosquitto", extra_conf="log_type all\n") as broker:
        client = start(started, settings(broker.port, tmp_path), received)
        log = tmp_path / "mosquitto" / "mosquitto.log"
        # Mosquitto drops a client silent for 1.5 keepalives (7.5 s here); wait for 2 pings.
        wait_until(
            lambda: log.read_text().count("Received PINGREQ from sangsach-gw-test") >= 2,
            20,
            "two PINGREQs",
        )
        assert client.connected and client.generation == 1
        publish(broker.port, telemetry(1))
        wait_until(lambda: len(received.messages()) == 1, 10, "a message after the quiet time")
        client.stop()


def test_a_silent_broker_is_dropped_and_reconnected(
    broker: LocalBroker, tmp_path: Path, received: Received, started: list[GatewayClient]
) -> None:
    client = start(started, settings(broker.port, tmp_path), received)
    assert broker._process is not None
    pid = broker._process.pid
    os.kill(pid, signal.SIGSTOP)  # the TCP connection stays open; nothing answers
    try:
        wait_until(lambda: not client.connected, 20, "the client to give up on the broker")
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_until(lambda: client.generation == 2 and client.subscribed, 30, "the reconnection")


def test_reconnects_after_the_broker_restarts(
    broker: LocalBroker,
    tmp_path: Path,
    received: Received,
    started: list[GatewayClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sangsach.gateway.mqtt")
    client = start(started, settings(broker.port, tmp_path), received)
    publish(broker.port, telemetry(5))
    wait_until(lambda: len(received.messages()) == 5, 20, "5 messages")
    old = received.take()

    broker.restart()
    wait_until(lambda: client.generation == 2 and client.subscribed, 30, "the reconnection")
    assert "disconnected from the broker" in caplog.text
    assert "(session present: True)" in caplog.text
    wait_until(lambda: len(received.messages()) == 5, 20, "the 5 unacknowledged again")
    for mids, generation in old:
        # Acks of the first connection are not sent on the second: the packet ids of the
        # redelivered messages are the same, and these would acknowledge them.
        client.ack(mids, generation)
    assert {generation for _, generation in received.take()} == {2}
    client.stop()

    start(started, settings(broker.port, tmp_path), received)
    wait_until(lambda: len(received.messages()) == 5, 20, "the 5 still unacknowledged")
    assert sorted(received.payloads()) == sorted(p for _, p, _ in telemetry(5))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    subprocess.run([MAKE_CERTS, folder, "localhost", "127.0.0.1"], check=True, capture_output=True)
    return folder


def test_tls_with_an_account_and_a_refusal_named_in_the_log(
    tmp_path: Path,
    certs: Path,
    received: Received,
    started: list[GatewayClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sangsach.gateway.mqtt")
    accounts = BrokerAccounts(tmp_path / "auth", load_registry(SAMPLE_REGISTRY))
    account = accounts.add("gateway")
    with DeployBroker(tmp_path / "mosquitto", accounts.folder, certs) as secured:
        tls = settings(
            secured.service_tls_port,
            tmp_path,
            mqtt_host="localhost",  # the name in the broker's certificate
            mqtt_tls_ca=certs / "ca.crt",
            mqtt_username="gateway",
            share_group="gw",
        )
        wrong = tls.model_copy(update={"mqtt_password": SecretStr("wrong-password")})
        refused = GatewayClient(wrong, received)
        started.append(refused)
        refused.start()
        wait_until(lambda: "broker refused the connection" in caplog.text, 20, "the refusal")
        assert "broker refused the connection: Not authorized (0x87)" in caplog.text
        assert not refused.connected and refused.generation == 0
        refused.stop()

        right = tls.model_copy(update={"mqtt_password": SecretStr(account.password)})
        start(started, right, received)
        assert "subscribed to telemetry and status of every device" in caplog.text


class StallingProxy:
    """TCP between the client and the broker; on request, the next chunk from the broker goes
    through only in half, the rest once released: a TLS record arriving in pieces."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stall = threading.Event()
        self.halved = threading.Event()
        self.release = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
        threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_broker: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if from_broker and self.stall.is_set() and len(data) > 1:
                    self.stall.clear()
                    sink.sendall(data[: len(data) // 2])
                    self.halved.set()
                    self.release.wait(30)
                    data = data[len(data) // 2 :]
                sink.sendall(data)

    def close(self) -> None:
        self.release.set()
        self.listener.close()


def test_a_tls_record_arriving_in_pieces_never_holds_back_acknowledgements(
    tmp_path: Path, certs: Path, received: Received, started: list[GatewayClient]
) -> None:
    """The reader must not wait for the rest of a TLS record while holding the socket's lock:
    every acknowledgement would wait behind it (until the send timeout drops the link)."""
    accounts = BrokerAccounts(tmp_path / "auth", load_registry(SAMPLE_REGISTRY))
    gateway, device = accounts.add("gateway"), accounts.add("simulators")
    with DeployBroker(tmp_path / "mosquitto", accounts.folder, certs) as secured:
        proxy = StallingProxy(secured.service_tls_port)
        try:
            config = settings(
                proxy.port,
                tmp_path,
                mqtt_host="localhost",
                mqtt_tls_ca=certs / "ca.crt",
                mqtt_username="gateway",
                mqtt_password=SecretStr(gateway.password),
            )
            client = start(started, config, received)
            publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id="simulators")
            publisher.username_pw_set("simulators", device.password)
            publisher.connect("127.0.0.1", secured.service_port)
            publisher.loop_start()
            topic = "sangsach/v1/lamp-dong-ha-001/telemetry"
            publisher.publish(topic, b"first", qos=1).wait_for_publish(10)
            wait_until(lambda: received.payloads() == [b"first"], 20, "the first message")
            unacked = received.take()

            proxy.stall.set()
            publisher.publish(topic, b"second" * 100, qos=1).wait_for_publish(10)
            assert proxy.halved.wait(10), "the broker sent nothing more"
            threading.Event().wait(0.5)  # the reader has seen the socket readable by now
            threading.Timer(3.0, proxy.release.set).start()  # the rest comes 3 s later
            began = time.monotonic()
            for mids, generation in unacked:
                client.ack(mids, generation)
            took = time.monotonic() - began
            assert took < 1.0, f"an acknowledgement waited {took:.1f} s for a TLS record's rest"
            wait_until(lambda: len(received.payloads()) == 1, 20, "the second message")
            assert client.generation == 1, "the connection was dropped"
            publisher.disconnect()
            publisher.loop_stop()
        finally:
            proxy.close()
