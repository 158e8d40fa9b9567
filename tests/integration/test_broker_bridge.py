"""A commune broker bridged over TLS to a central broker, on the shipped Mosquitto files.

Readings go out and commands come in, at QoS 1; what is published while the link is cut, or
while the commune broker restarts, arrives once the link is back (at least once: a copy only of
a message already sent, which the backend drops by (device, boot, seq)); and the central broker
lets a commune's bridge speak only for that commune's devices.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sangsach.broker.accounts import BrokerAccounts
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.registry_gen import generate
from tests.bridgedbrokers import (
    CentralBroker,
    CommuneBroker,
    LinkProxy,
    central_certs,
    commune_certs,
    write_bridges_acl,
)
from tests.harness import reading, wait_until
from tests.integration.test_broker_auth import Client, connect, publish, subscribe

pytestmark = pytest.mark.integration

COMMUNE, OTHER = "chi-lang-bac", "xa-ben-canh"  # the sample registry's commune; its neighbour
A = "lamp-dong-ha-001"  # one of COMMUNE's lamps
FOREIGN = "lamp-thon-1-001"  # one of OTHER's lamps, not COMMUNE's
LINK_BACK_S = 60  # the bridge's back-off is at most 30 s (bridge-commune.conf)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The central broker's certificates and the commune broker's (with its bridge's)."""
    central = central_certs(tmp_path_factory.mktemp("central-certs"))
    return central, commune_certs(tmp_path_factory.mktemp("commune-certs"), central, COMMUNE)


@dataclass
class Province:
    central: CentralBroker
    commune: CommuneBroker
    link: LinkProxy
    passwords: dict[str, str]  # account -> password, at both brokers

    def client(self, user: str, *, central: bool) -> Client:
        """A service account's client at the central or the commune broker; a device's there."""
        broker = self.central if central else self.commune
        state = connect(broker, user, self.passwords[user], service=user in SERVICES)
        assert str(state.connack) == "Success", (user, state.connack)
        return state


SERVICES = {"gateway-gw-1", "backend", "simulators"}


@pytest.fixture
def province(tmp_path: Path, certs: tuple[Path, Path]) -> Iterator[Province]:
    central_ca, commune_ca = certs
    other = tmp_path / f"{OTHER}.yaml"
    other.write_text(generate(1, 2, 1, seed=3), encoding="utf-8")
    passwords: dict[str, str] = {}

    at_centre = BrokerAccounts(tmp_path / "central-auth", load_registry(SAMPLE_REGISTRY))
    for user in ("gateway-gw-1", "backend"):
        passwords[user] = at_centre.add(user).password
    write_bridges_acl(at_centre.folder, {COMMUNE: SAMPLE_REGISTRY, OTHER: other})
    at_commune = BrokerAccounts(tmp_path / "commune-auth", load_registry(SAMPLE_REGISTRY))
    for user in (A, "simulators"):
        passwords[user] = at_commune.add(user).password

    with CentralBroker(tmp_path / "central", at_centre.folder, central_ca) as central:
        link = LinkProxy((central.host, central.bridge_port))
        commune = CommuneBroker(tmp_path / "commune", at_commune.folder, commune_ca, link.address)
        try:
            with commune:
                wait_until(
                    lambda: central.bridged(COMMUNE), 60, "the commune's bridge at the centre"
                )
                yield Province(central, commune, link, passwords)
        finally:
            link.close()


def telemetry(device: str) -> str:
    return f"sangsach/v1/{device}/telemetry"


def send(device: Client, first: int, last: int, ts: int) -> None:
    """Readings ``first``..``last`` of lamp A, each acknowledged by the commune broker."""
    for seq in range(first, last + 1):
        assert str(publish(device, telemetry(A), reading(A, "lamp", seq, ts + seq))) == "Success"


def seqs(messages: list[tuple[str, bytes]]) -> list[int]:
    return [json.loads(payload)["seq"] for topic, payload in messages if topic == telemetry(A)]


def every_reading_at_least_once(gateway: Client, last: int) -> None:
    """All of 1..last arrived; a repeat is only a copy of one that arrived (same key, same body)."""
    wait_until(
        lambda: set(seqs(gateway.messages)) >= set(range(1, last + 1)), LINK_BACK_S, "readings"
    )
    received = seqs(gateway.messages)
    assert set(received) == set(range(1, last + 1))
    by_seq: dict[int, set[bytes]] = {}
    for topic, payload in gateway.messages:
        if topic == telemetry(A):
            by_seq.setdefault(json.loads(payload)["seq"], set()).add(payload)
    assert all(len(bodies) == 1 for bodies in by_seq.values())


def close(*clients: Client) -> None:
    for state in clients:
        state.client.disconnect()
        state.client.loop_stop()


def test_readings_go_out_and_commands_come_in_through_a_cut_link(province: Province) -> None:
    gateway = province.client("gateway-gw-1", central=True)
    subscribe(gateway, "$share/gw/sangsach/v1/+/telemetry", "$share/gw/sangsach/v1/+/status")
    backend = province.client("backend", central=True)
    lamp = province.client(A, central=False)
    subscribe(lamp, f"sangsach/v1/{A}/cmd", f"sangsach/v1/{A}/config", f"sangsach/v1/{A}/update")
    ts = int(time.time()) - 600

    send(lamp, 1, 5, ts)
    status = json.dumps({"id": A, "state": "online"}).encode()
    lamp.client.publish(f"sangsach/v1/{A}/status", status, qos=1, retain=True)
    wait_until(lambda: len(seqs(gateway.messages)) >= 5, 15, "the first readings at the centre")
    wait_until(lambda: (f"sangsach/v1/{A}/status", status) in gateway.messages, 15, "status")
    assert publish(backend, f"sangsach/v1/{A}/cmd", b"ping-1").value == 0
    wait_until(lambda: (f"sangsach/v1/{A}/cmd", b"ping-1") in lamp.messages, 15, "a command in")

    province.link.cut()
    send(lamp, 6, 60, ts)  # kept in the bridge's queue at the commune
    for topic, body in (("cmd", b"ping-2"), ("config", b'{"interval_s": 300}'), ("update", b"v2")):
        assert publish(backend, f"sangsach/v1/{A}/{topic}", body).value == 0  # kept at the centre
    time.sleep(0.5)
    assert max(seqs(gateway.messages)) == 5, "a reading crossed the cut link"
    assert (f"sangsach/v1/{A}/cmd", b"ping-2") not in lamp.messages
    province.link.restore()

    every_reading_at_least_once(gateway, 60)
    wanted = {
        (f"sangsach/v1/{A}/cmd", b"ping-2"),
        (f"sangsach/v1/{A}/config", b'{"interval_s": 300}'),
        (f"sangsach/v1/{A}/update", b"v2"),
    }
    wait_until(lambda: wanted <= set(lamp.messages), 15, "what the centre sent during the cut")
    assert province.central.bridged(COMMUNE, 2)  # the same bridge, back by its certificate
    close(gateway, backend, lamp)


def test_the_bridge_queue_survives_a_restart_of_the_commune_broker(province: Province) -> None:
    gateway = province.client("gateway-gw-1", central=True)
    subscribe(gateway, "$share/gw/sangsach/v1/+/telemetry")
    ts = int(time.time()) - 600
    province.link.cut()
    lamp = province.client(A, central=False)
    send(lamp, 1, 20, ts)
    close(lamp)

    province.commune.restart()  # a clean stop: Mosquitto saves its sessions and queues
    lamp = province.client(A, central=False)
    send(lamp, 21, 30, ts)
    province.link.restore()

    every_reading_at_least_once(gateway, 30)
    close(gateway, lamp)


def test_a_restart_of_the_central_broker_loses_neither_readings_nor_commands(
    province: Province,
) -> None:
    """Commands for the commune wait in its bridge's session at the centre, readings in the
    bridge's queue at the commune, across a clean restart of the central broker."""
    lamp = province.client(A, central=False)
    subscribe(lamp, f"sangsach/v1/{A}/cmd")
    ts = int(time.time()) - 600
    province.link.cut()
    backend = province.client("backend", central=True)
    assert publish(backend, f"sangsach/v1/{A}/cmd", b"while-cut").value == 0
    close(backend)
    send(lamp, 1, 10, ts)

    province.central.restart()
    gateway = province.client("gateway-gw-1", central=True)
    subscribe(gateway, "$share/gw/sangsach/v1/+/telemetry")
    send(lamp, 11, 20, ts)
    province.link.restore()

    every_reading_at_least_once(gateway, 20)
    wait_until(lambda: (f"sangsach/v1/{A}/cmd", b"while-cut") in lamp.messages, 15, "the cmd")
    close(gateway, lamp)


def test_a_commune_bridge_speaks_only_for_its_own_devices(province: Province) -> None:
    """A commune broker that forwards another commune's device (here the simulators' account,
    which may write any device's topics at the commune) has it dropped at the centre, and it
    receives only its own devices' commands."""
    gateway = province.client("gateway-gw-1", central=True)
    subscribe(gateway, "$share/gw/sangsach/v1/+/telemetry")
    backend = province.client("backend", central=True)
    simulators = province.client("simulators", central=False)
    subscribe(simulators, "sangsach/v1/+/cmd")
    ts = int(time.time()) - 600

    forged = reading(FOREIGN, "lamp", 1, ts)
    assert str(publish(simulators, telemetry(FOREIGN), forged)) == "Success"  # at the commune
    assert str(publish(simulators, telemetry(A), reading(A, "lamp", 1, ts))) == "Success"
    wait_until(lambda: seqs(gateway.messages) == [1], 15, "the commune's own reading")
    assert [topic for topic, _ in gateway.messages] == [telemetry(A)]  # the forged one: dropped

    assert publish(backend, f"sangsach/v1/{FOREIGN}/cmd", b"not-yours").value == 0
    assert publish(backend, f"sangsach/v1/{A}/cmd", b"yours").value == 0
    wait_until(lambda: bool(simulators.messages), 15, "the commune's own command")
    assert simulators.messages == [(f"sangsach/v1/{A}/cmd", b"yours")]
    close(gateway, backend, simulators)


def bridge_client(central: CentralBroker, ca: Path, certs: Path | None) -> tuple[Client, str]:
    """An MQTT v5 client on the central's bridges listener, with a commune's certificate or none.

    Returns the client and how the broker answered: its CONNACK, or why there was none.
    """
    raw = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="x", protocol=MQTTProtocolVersion.MQTTv5
    )
    if certs is None:
        raw.tls_set(ca_certs=str(ca))
    else:
        raw.tls_set(str(ca), str(certs / "bridge.crt"), str(certs / "bridge.key"))
    state = Client(raw)
    answered = threading.Event()

    def on_connect(c: paho.Client, u: object, f: object, reason: ReasonCode, p: object) -> None:
        state.connack = reason
        answered.set()

    raw.on_connect = on_connect
    raw.on_disconnect = lambda *_: answered.set()  # TLS 1.3: refused after the handshake
    raw.on_publish = lambda c, u, mid, reason, p: state.pubacks.__setitem__(mid, reason)
    try:
        raw.connect(central.host, central.bridge_port)
    except (ssl.SSLError, OSError) as err:
        return state, f"refused by TLS: {err}"
    raw.loop_start()
    if not answered.wait(30):
        return state, "no answer in 30 s"
    return state, str(state.connack) if state.connack else "disconnected before CONNACK"


def test_the_central_broker_takes_a_bridge_by_its_certificate_for_its_devices_only(
    tmp_path: Path, certs: tuple[Path, Path]
) -> None:
    central_ca, commune_ca = certs
    accounts = BrokerAccounts(tmp_path / "auth", load_registry(SAMPLE_REGISTRY))
    accounts.sync()
    other = tmp_path / f"{OTHER}.yaml"
    other.write_text(generate(1, 2, 1, seed=3), encoding="utf-8")
    write_bridges_acl(accounts.folder, {COMMUNE: SAMPLE_REGISTRY, OTHER: other})
    acl = (accounts.folder / "acl-bridges").read_text(encoding="utf-8")
    assert f"user bridge-{COMMUNE}\n" in acl and f"topic write {telemetry(FOREIGN)}" in acl

    with CentralBroker(tmp_path / "central", accounts.folder, central_ca) as central:
        anonymous, answer = bridge_client(central, central_ca / "ca.crt", None)
        assert answer.startswith(("refused by TLS", "disconnected before")), answer
        anonymous.client.loop_stop()

        bridge, answer = bridge_client(central, central_ca / "ca.crt", commune_ca)
        assert answer == "Success", answer
        own = bridge.client.publish(telemetry(A), b"own", qos=1, properties=Properties(8))  # type: ignore[no-untyped-call]
        forged = bridge.client.publish(telemetry(FOREIGN), b"x", qos=1, properties=Properties(8))  # type: ignore[no-untyped-call]
        cmd = bridge.client.publish(f"sangsach/v1/{A}/cmd", b"x", qos=1, properties=Properties(8))  # type: ignore[no-untyped-call]
        wait_until(lambda: len(bridge.pubacks) == 3, 15, "three PUBACKs")
        assert not bridge.pubacks[own.mid].is_failure  # "No matching subscribers": taken
        assert str(bridge.pubacks[forged.mid]) == "Not authorized"
        assert str(bridge.pubacks[cmd.mid]) == "Not authorized"  # commands come from the centre
        assert f" as bridge-{COMMUNE} (" in central.log()  # its client id: the certificate's CN
        close(bridge)
