"""MQTT over TLS end to end: simulator -> Mosquitto's services' TLS listener -> gateway -> backend.

The broker runs the deployed configuration (accounts on, anonymous refused) with a CA made by
deploy/make-certs.sh; the simulator and the gateway are the real commands, given only the CA
file, their account and the TLS port.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sangsach.broker.accounts import BrokerAccounts
from sangsach.registry_file import parse_registry
from sangsach.registry_gen import generate
from sangsach.simulators.ledger import Ledger
from tests.deploybroker import MAKE_CERTS, DeployBroker
from tests.harness import Stack, wait_until

pytestmark = pytest.mark.e2e


def test_readings_travel_over_tls_and_are_stored(tmp_path: Path) -> None:
    registry = tmp_path / "commune.yaml"
    registry.write_text(generate(1, 4, 2, 3), encoding="utf-8")
    commune = parse_registry(registry.read_text(encoding="utf-8"), str(registry))
    certs = tmp_path / "certs"
    subprocess.run([MAKE_CERTS, certs, "localhost", "127.0.0.1"], check=True, capture_output=True)
    accounts = BrokerAccounts(tmp_path / "auth", commune)
    gateway, simulators = accounts.add("gateway-gw-1"), accounts.add("simulators")

    with DeployBroker(tmp_path / "mosquitto", accounts.folder, certs) as broker:
        tls = {
            "SANGSACH_MQTT_TLS_CA": str(certs / "ca.crt"),
            "SANGSACH_REGISTRY_FILE": str(registry),
        }
        stack = Stack(
            tmp_path / "stack",
            broker.service_tls_port,
            {
                **tls,
                "SANGSACH_MQTT_USERNAME": "gateway-gw-1",
                "SANGSACH_MQTT_PASSWORD": gateway.password,
            },
        )
        try:
            stack.start()
            ledger_path = tmp_path / "ledger.jsonl"
            env = {
                **os.environ,
                **tls,
                "SANGSACH_MQTT_PORT": str(broker.service_tls_port),
                "SANGSACH_MQTT_USERNAME": "simulators",
                "SANGSACH_MQTT_PASSWORD": simulators.password,
            }
            run = subprocess.run(
                [sys.executable, "-m", "sangsach", "simulate", "--hours", "1", "--speed", "1200",
                 "--ledger", str(ledger_path)],
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert run.returncode == 0, run.stderr[-3000:]
            ledger = Ledger.load(ledger_path)
            assert len(ledger.readings) == 6 and ledger.reading_count > 20
            wait_until(
                lambda: stack.stored() >= ledger.reading_count,
                60,
                f"{ledger.reading_count} readings stored; gateway log:\n{stack.gateway.log()[-2000:]}",
            )
            assert stack.stored() == ledger.reading_count
            assert stack.dead_letters() == []
        finally:
            stack.close()
    ports = ports_by_user(broker.log())
    assert ports["gateway-gw-1"] == {broker.service_tls_port}
    assert ports["simulators"] == {broker.service_tls_port}


def ports_by_user(log: str) -> dict[str, set[int]]:
    """Which listener each account connected on, from Mosquitto's connection log lines."""
    port_of: dict[str, int] = {}
    ports: dict[str, set[int]] = {}
    for line in log.splitlines():
        # "New connection from 127.0.0.1:41234 on port 8883."
        found = re.search(r"New connection from (\S+) on port (\d+)", line)
        if found:
            port_of[found[1]] = int(found[2])
        # "New client connected from 127.0.0.1:41234 as gw (p5, c0, k30, u'gateway')."
        found = re.search(r"New client connected from (\S+) as .* u'([^']+)'", line)
        if found:
            ports.setdefault(found[2], set()).add(port_of[found[1]])
    return ports
