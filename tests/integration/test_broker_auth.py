"""A real Mosquitto on the deployed configuration with accounts written by `sangsach devices`.

Each device speaks only for itself: it cannot publish on another device's topics nor read
another's commands; a wrong password, an unknown or a revoked account is refused; the gateway
reads every device through a shared subscription over TLS.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sangsach.broker.accounts import BrokerAccounts
from sangsach.cli import main
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.deploybroker import MAKE_CERTS, DeployBroker
from tests.harness import Stack, reading, wait_until

pytestmark = pytest.mark.integration

A, B = "lamp-dong-ha-001", "bin-dong-ha-01"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    subprocess.run([MAKE_CERTS, folder, "localhost", "127.0.0.1"], check=True, capture_output=True)
    return folder


@pytest.fixture
def accounts(tmp_path: Path) -> BrokerAccounts:
    return BrokerAccounts(tmp_path / "auth", load_registry(SAMPLE_REGISTRY))


@pytest.fixture
def secured(tmp_path: Path, accounts: BrokerAccounts, certs: Path) -> Iterator[DeployBroker]:
    # Mosquitto needs both files to start; an empty password file lets nobody in.
    accounts.sync()
    with DeployBroker(tmp_path / "mosquitto", accounts.folder, certs) as running:
        yield running


@dataclass
class Client:
    """A paho MQTT v5 client that records its CONNACK, SUBACK, PUBACK reasons and messages."""

    client: paho.Client
    connack: ReasonCode | None = None
    disconnected: threading.Event = field(default_factory=threading.Event)
    subacks: list[str] = field(default_factory=list)
    pubacks: dict[int, ReasonCode] = field(default_factory=dict)
    messages: list[tuple[str, bytes]] = field(default_factory=list)


def connect(
    broker: DeployBroker,
    user: str,
    password: str,
    *,
    tls_ca: Path | None = None,
    service: bool = False,
    client_id: str = "",
    clean_start: bool = True,
    will: tuple[str, bytes] | None = None,
) -> Client:
    """Connect on the devices' listener, or with ``service`` on the services' one."""
    raw = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"t-{user}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    raw.username_pw_set(user, password)
    state = Client(raw)
    answered = threading.Event()

    def on_connect(c: paho.Client, u: object, f: object, reason: ReasonCode, p: object) -> None:
        state.connack = reason
        answered.set()

    def on_subscribe(
        c: paho.Client, u: object, m: int, reasons: list[ReasonCode], p: object
    ) -> None:
        state.subacks += [str(reason) for reason in reasons]

    def on_publish(c: paho.Client, u: object, mid: int, reason: ReasonCode, p: object) -> None:
        state.pubacks[mid] = reason

    raw.on_connect = on_connect
    raw.on_subscribe = on_subscribe
    raw.on_publish = on_publish
    raw.on_message = lambda c, u, m: state.messages.append((m.topic, bytes(m.payload)))
    raw.on_disconnect = lambda *_: state.disconnected.set()
    if tls_ca is not None:
        raw.tls_set(ca_certs=str(tls_ca))
    if service:
        port = broker.service_tls_port if tls_ca else broker.service_port
    else:
        port = broker.tls_port if tls_ca else broker.port
    if will is not None:
        raw.will_set(*will, qos=1, retain=True)
    raw.connect(broker.host, port, clean_start=clean_start)
    raw.loop_start()
    assert answered.wait(15), f"no CONNACK for {user}"
    return state


def refused(broker: DeployBroker, user: str, password: str, *, service: bool = False) -> bool:
    state = connect(broker, user, password, service=service)
    assert state.connack is not None
    if not state.connack.is_failure:
        state.client.disconnect()
    state.client.loop_stop()
    return str(state.connack) == "Not authorized"


def subscribe(state: Client, *filters: str) -> None:
    state.client.subscribe([(f, 1) for f in filters])
    wait_until(lambda: len(state.subacks) >= len(filters), 15, "SUBACK", every=0.02)


def publish(state: Client, topic: str, payload: bytes) -> ReasonCode:
    info = state.client.publish(topic, payload, qos=1, properties=Properties(8))  # type: ignore[no-untyped-call]
    wait_until(lambda: info.mid in state.pubacks, 15, f"PUBACK for {topic}", every=0.02)
    return state.pubacks[info.mid]


def test_each_device_speaks_only_for_itself(
    secured: DeployBroker, accounts: BrokerAccounts, certs: Path
) -> None:
    gateway, backend = accounts.add("gateway"), accounts.add("backend")
    a, b = accounts.add(A), accounts.add(B)
    secured.reload()
    wait_until(lambda: not refused(secured, A, a.password), 15, "the reloaded password file")

    reader = connect(secured, "gateway", gateway.password, tls_ca=certs / "ca.crt", service=True)
    assert str(reader.connack) == "Success"
    subscribe(
        reader,
        "$share/gw/sangsach/v1/+/telemetry",
        "$share/gw/sangsach/v1/+/status",
        "sangsach/v1/+/cmd",  # not the gateway's to read: granted, but nothing is delivered
    )
    dev_a = connect(secured, A, a.password)
    dev_b = connect(secured, B, b.password)
    subscribe(dev_a, f"sangsach/v1/{A}/cmd", f"sangsach/v1/{B}/cmd", f"sangsach/v1/{A}/config")
    subscribe(dev_b, f"sangsach/v1/{B}/cmd")

    assert str(publish(dev_a, f"sangsach/v1/{A}/telemetry", b"a-own")) == "Success"
    assert str(publish(dev_a, f"sangsach/v1/{A}/status", b"a-status")) == "Success"
    assert str(publish(dev_a, f"sangsach/v1/{B}/telemetry", b"a-as-b")) == "Not authorized"
    assert str(publish(dev_a, f"sangsach/v1/{A}/cmd", b"a-cmd")) == "Not authorized"
    assert str(publish(dev_a, f"sangsach/v1/{A}/config", b"a-cfg")) == "Not authorized"
    assert str(publish(dev_b, f"sangsach/v1/{B}/telemetry", b"b-own")) == "Success"
    assert str(publish(reader, f"sangsach/v1/{A}/cmd", b"gw-cmd")) == "Not authorized"

    operator = connect(secured, "backend", backend.password, service=True)
    assert str(publish(operator, f"sangsach/v1/{B}/cmd", b"for-b")) == "Success"
    assert str(publish(operator, f"sangsach/v1/{A}/config", b"cfg-a")) == "Success"
    assert str(publish(operator, f"sangsach/v1/{A}/telemetry", b"forged")) == "Not authorized"

    wait_until(lambda: len(reader.messages) >= 3 and bool(dev_b.messages), 15, "deliveries")
    wait_until(lambda: bool(dev_a.messages), 15, "the config for A")
    assert sorted(reader.messages) == sorted(
        [
            (f"sangsach/v1/{A}/status", b"a-status"),
            (f"sangsach/v1/{A}/telemetry", b"a-own"),
            (f"sangsach/v1/{B}/telemetry", b"b-own"),
        ]
    )
    assert dev_b.messages == [(f"sangsach/v1/{B}/cmd", b"for-b")]
    assert dev_a.messages == [(f"sangsach/v1/{A}/config", b"cfg-a")]  # not B's command

    assert refused(secured, A, "wrong-password")
    assert refused(secured, A, b.password)
    assert refused(secured, "lamp-dong-ha-002", "anything")  # in the registry, no account
    for state in (reader, dev_a, dev_b, operator):
        state.client.disconnect()
        state.client.loop_stop()


def test_revoked_device_is_disconnected_and_refused(
    secured: DeployBroker, accounts: BrokerAccounts
) -> None:
    first = accounts.add(A)
    secured.reload()
    wait_until(lambda: not refused(secured, A, first.password), 15, "the reloaded password file")
    online = connect(secured, A, first.password)

    rotated = accounts.rotate(A)
    secured.reload()
    wait_until(lambda: refused(secured, A, first.password), 15, "the old password refused")
    assert not refused(secured, A, rotated.password)

    accounts.revoke(A)
    secured.reload()
    assert online.disconnected.wait(15), "a connected device keeps its session after revoke"
    assert refused(secured, A, rotated.password)
    assert A not in accounts.acl_path.read_text(encoding="utf-8")
    online.client.loop_stop()


def test_devices_command_issues_an_account_mosquitto_accepts(
    tmp_path: Path, certs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SANGSACH_DEVICE_MQTT_HOST", "192.168.1.10")
    runner = CliRunner()
    added = runner.invoke(main, ["devices", "add", A, "--wifi-ssid", "xa-chi-lang"])
    assert added.exit_code == 0, added.output
    out = added.stdout  # stderr says which data directory was opened
    snippet = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert snippet["mqtt_user"] == A and snippet["mqtt_host"] == "192.168.1.10"
    password = snippet["mqtt_password"]
    assert password in out.splitlines()[0]
    assert f"tài khoản broker (broker accounts): {tmp_path / 'broker'}" in added.stderr

    auth = tmp_path / "broker"
    for name in ("passwd", "acl"):
        assert (auth / name).stat().st_mode & 0o777 == 0o640, name
    assert password not in (auth / "passwd").read_text(encoding="utf-8")

    with DeployBroker(tmp_path / "mosquitto", auth, certs) as running:
        assert not refused(running, A, password)
        revoked = runner.invoke(main, ["devices", "revoke", A])
        assert revoked.exit_code == 0, revoked.output
        running.reload()
        wait_until(lambda: refused(running, A, password), 15, "the revoked account refused")

    again = runner.invoke(main, ["devices", "revoke", A])
    assert again.exit_code == 2 and f"{A} chưa có tài khoản" in again.output
    unknown = runner.invoke(main, ["devices", "add", "lamp-nowhere-9"])
    assert unknown.exit_code == 2 and "không có trong sổ đăng ký" in unknown.output


def test_a_device_takes_neither_another_devices_client_id_nor_the_gateways_session(
    tmp_path: Path, secured: DeployBroker, accounts: BrokerAccounts
) -> None:
    """The attacks of issue 16: a lamp connecting with another lamp's client id knocked it
    offline (its will fired); connecting with the gateway's, clean start off, it received the
    gateway's queued session, and those readings never reached the backend. Now a device's
    client id is its user name on the devices' listeners, and its password opens nothing on the
    services' ones."""
    victim = "lamp-dong-ha-002"
    gateway, attacker, lamp = accounts.add("gateway-gw-1"), accounts.add(A), accounts.add(victim)
    backend = accounts.add("backend")
    secured.reload()
    wait_until(lambda: not refused(secured, A, attacker.password), 15, "the reloaded accounts")
    env = {"SANGSACH_MQTT_USERNAME": "gateway-gw-1", "SANGSACH_MQTT_PASSWORD": gateway.password}
    stack = Stack(tmp_path / "stack", secured.service_port, env).start()
    status = f"sangsach/v1/{victim}/status"
    watcher = connect(secured, "backend", backend.password, service=True)
    subscribe(watcher, status)
    node = connect(  # the firmware's client id is its device id
        secured,
        victim,
        lamp.password,
        client_id=victim,
        will=(status, json.dumps({"id": victim, "state": "offline"}).encode()),
    )
    now = int(time.time()) - 600
    try:
        stack.gateway.stop()  # offline: the broker queues its readings in its session
        telemetry = f"sangsach/v1/{victim}/telemetry"
        for seq in range(20):
            assert (
                str(publish(node, telemetry, reading(victim, "lamp", seq, now + seq))) == "Success"
            )

        as_victim = connect(secured, A, attacker.password, client_id=victim)
        as_gateway = connect(
            secured, A, attacker.password, client_id="sangsach-gw-1", clean_start=False
        )
        assert str(as_victim.connack) == str(as_gateway.connack) == "Success"  # as itself
        assert refused(secured, A, attacker.password, service=True)
        time.sleep(2)  # a taken-over client id, or a queued session delivered, shows by now
        assert not node.disconnected.is_set(), "the victim lamp was knocked offline"
        assert as_victim.messages == as_gateway.messages == []
        connected = [line for line in secured.log().splitlines() if f"u'{A}')" in line]
        assert len(connected) >= 2 and all(f" as {A} (" in line for line in connected), connected

        for seq in range(20, 40):
            assert (
                str(publish(node, telemetry, reading(victim, "lamp", seq, now + seq))) == "Success"
            )
        stack.start_gateway()
        wait_until(lambda: stack.stored() == 40, 60, "the 40 readings queued for the gateway")
        assert watcher.messages == [], "the victim's last will fired"
        for state in (as_victim, as_gateway, node, watcher):
            state.client.disconnect()
            state.client.loop_stop()
    finally:
        stack.close()
