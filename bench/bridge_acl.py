"""The central broker's cost of the bridges' ACL: a commune's readings checked device by device.

    python -m bench.bridge_acl                                  # communes of 1, 400 and 4,000
    python -m bench.bridge_acl --devices 1 1000 --messages 50000

For each commune size, a central Mosquitto on the shipped files (tests/bridgedbrokers.py) with
`sangsach bridges acl` written for one commune of that many devices (five ACL lines a device),
a client holding the commune's bridge certificate publishing QoS 1 readings round-robin over
all its devices (as the bridge does, MQTT 3.1.1 over TLS on the bridges' listener), and a
gateway reading them through its shared subscription. Printed: the broker's CPU per 1,000
readings (from /proc), so the difference from the one-device commune is what the ACL's scan
costs.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from sangsach.broker.accounts import BrokerAccounts
from sangsach.registry_file import load_registry
from tests.bridgedbrokers import MAKE_BRIDGE_CERT, CentralBroker, central_certs, write_bridges_acl

from .common import cpu_seconds, generate_registry, load_average, readings

COMMUNE = "xa-bench"


def _client(client_id: str) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    return client


def run(devices: int, messages: int, folder: Path, certs: Path) -> float:
    """The broker's CPU seconds per 1,000 readings for a commune of ``devices`` devices."""
    registry = folder / f"{COMMUNE}.yaml"
    fleet = generate_registry(registry, devices)[:devices]
    accounts = BrokerAccounts(folder / "auth", load_registry(registry))
    gateway_password = accounts.add("gateway-bench").password
    write_bridges_acl(accounts.folder, {COMMUNE: registry})
    with CentralBroker(folder / "central", accounts.folder, certs) as central:
        pid = central.pid
        received = 0
        done = threading.Event()

        def on_message(c: paho.Client, u: object, m: paho.MQTTMessage) -> None:
            nonlocal received
            received += 1
            if received >= messages:
                done.set()

        gateway = _client("sangsach-bench")
        gateway.username_pw_set("gateway-bench", gateway_password)
        gateway.on_message = on_message
        gateway.connect(central.host, central.service_port)
        gateway.subscribe("$share/gw/sangsach/v1/+/telemetry", qos=1)
        gateway.loop_start()
        bridge = _client("bridge")
        bridge.tls_set(
            str(certs / "ca.crt"),
            str(certs / f"bridge-{COMMUNE}" / "bridge.crt"),
            str(certs / f"bridge-{COMMUNE}" / "bridge.key"),
        )
        bridge.connect(central.host, central.bridge_port)
        bridge.loop_start()
        time.sleep(1)  # both connected and subscribed

        before = cpu_seconds(pid)
        pending: deque[paho.MQTTMessageInfo] = deque()
        for topic, payload in readings(fleet, messages, int(time.time()) - 3600):
            pending.append(bridge.publish(topic, payload, qos=1))
            while len(pending) > 20_000 or (pending and pending[0].is_published()):
                pending.popleft().wait_for_publish(120)
        for info in pending:
            info.wait_for_publish(120)
        if not done.wait(120):
            raise SystemExit(f"the gateway got {received} of {messages} readings")
        used = cpu_seconds(pid) - before
        for client in (bridge, gateway):
            client.disconnect()
            client.loop_stop()
    return used / messages * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 400, 4000])
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-bridge-acl-") as tmp:
        certs = central_certs(Path(tmp) / "certs")
        subprocess.run([MAKE_BRIDGE_CERT, certs, COMMUNE], check=True, capture_output=True)
        print(f"load average {load_average()}; {args.messages} readings each")
        for size in args.devices:
            cost = run(size, args.messages, Path(tmp) / f"n{size}", certs)
            print(f"commune of {size:>6} devices ({size * 5:>6} ACL lines): "
                  f"broker CPU {cost * 1000:.1f} ms per 1,000 readings")  # fmt: skip


if __name__ == "__main__":
    main()
