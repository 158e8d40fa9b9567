"""Poison messages and a stuck intake, on real processes (Mosquitto, the gateway, the backend).

A poison message is one whose checking raised past the validator: the intake thread died,
nothing was taken in afterwards, the health file still said healthy, and the message, never
acknowledged, came back after every restart. Each known shape is published here followed by a
valid reading that must be stored; each becomes a dead letter with its reason. Then the intake
is stuck for real (another process holds the spool's write lock): the health file and
``GET /api/v1/gateways`` say so, and when it outlasts SQLite's busy timeout
(``SANGSACH_SPOOL_BUSY_TIMEOUT_S``, 15 s here) the intake thread dies and the gateway exits
non-zero instead of idling as if healthy; restarted, it loses nothing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sangsach.localbroker import LocalBroker
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.harness import Stack, publish_all, reading, wait_until

pytestmark = pytest.mark.e2e

LAMPS = [d.id for d in load_registry(SAMPLE_REGISTRY).devices() if d.kind == "lamp"]


def lamp_start(device_id: str) -> bytes:
    now = int(time.time()) - 30
    return f'{{"id":"{device_id}","kind":"lamp","boot":9,"seq":1,"ts":{now},"on":true'.encode()


# name -> (channel, payload for a device, the dead letter's reason, words of its detail)
POISON: dict[str, tuple[str, Callable[[str], bytes], str, str]] = {
    "30,000 nested [ (60 KB)": (
        "telemetry",
        lambda d: lamp_start(d) + b',"x":' + b"[" * 30_000 + b"}",
        "malformed_json",
        "nested deeper than the parser allows",
    ),
    "10,000 nested objects": (
        "telemetry",
        lambda d: b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "malformed_json",
        "nested deeper",
    ),
    "an integer of 5,000 digits": (
        "telemetry",
        lambda d: lamp_start(d) + b',"current_a":' + b"9" * 5000 + b"}",
        "malformed_json",
        "4300 digits",
    ),
    "1e999999": (
        "telemetry",
        lambda d: lamp_start(d) + b',"current_a":1e999999}',
        "schema",
        "current_a: Input should be a finite number",
    ),
    "a lone surrogate in a value": (
        "telemetry",
        lambda d: lamp_start(d) + b',"current_a":"\\ud800"}',
        "schema",
        "current_a",
    ),
    "a lone surrogate as a batch field": (
        "telemetry",
        lambda d: b'{"readings":[' + lamp_start(d) + b'}],"\\udc00":1}',
        "schema",
        "unknown batch field(s): \\udc00",
    ),
    "a lone surrogate in a status": (
        "status",
        lambda d: f'{{"id":"{d}","state":"online","fw":"\\udfff"}}'.encode(),
        "schema",
        "fw",
    ),
    "bytes that are not UTF-8": (
        "telemetry",
        lambda d: b'{"id":"\xff\xfe"}',
        "malformed_json",
        "not UTF-8",
    ),
    "an empty payload": ("telemetry", lambda d: b"", "malformed_json", "Expecting value"),
}


def test_each_poison_message_is_a_dead_letter_and_the_next_reading_is_stored(
    tmp_path: Path, broker: LocalBroker
) -> None:
    stack = Stack(tmp_path / "stack", broker.port).start()
    try:
        now = int(time.time()) - 10
        messages: list[tuple[str, bytes]] = []
        expected: dict[str, tuple[str, str, str]] = {}  # topic -> (shape, reason, detail)
        for n, (shape, (channel, make, reason, words)) in enumerate(POISON.items()):
            device = LAMPS[n]
            topic = f"sangsach/v1/{device}/{channel}"
            messages.append((topic, make(device)))
            expected[topic] = (shape, reason, words)
            valid = f"sangsach/v1/{device}/telemetry"
            messages.append((valid, reading(device, "lamp", 100 + n, now)))
        publish_all(broker.port, messages, client_id="poisoner")

        wait_until(lambda: stack.stored() == len(POISON), 60, "every valid reading stored")
        wait_until(lambda: len(stack.dead_letters()) == len(POISON), 60, "a dead letter per poison")
        letters = {d["topic"]: d for d in stack.dead_letters()}
        for topic, (shape, reason, words) in expected.items():
            letter = letters[topic]
            assert letter["reason"] == reason, (shape, letter["detail"])
            assert words in letter["detail"], (shape, letter["detail"])
        assert stack.gateway.running
        received = 2 * len(POISON)
        wait_until(
            lambda: stack.gateway_health()["intake"]["received"] == received, 10, "the health file"
        )
        health = stack.gateway_health()
        assert health["intake_stalled"] == "" and health["failed"] == ""
        assert stack.gateway_health()["forwarder"]["last_error"] == ""

        # Everything was acknowledged: a restarted gateway gets nothing again.
        stack.gateway.stop()
        stack.start_gateway()
        time.sleep(3)
        assert stack.gateway_health()["intake"]["received"] == 0
        assert (stack.stored(), len(stack.dead_letters())) == (len(POISON), len(POISON))
    finally:
        stack.close()


def hold_spool(stack: Stack) -> sqlite3.Connection:
    """Another process's write transaction on the spool: the intake's append waits for it."""
    spool = Path(stack.env["SANGSACH_DATA_DIR"]) / "spool-gw-1.sqlite"
    holder = sqlite3.connect(spool, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_stuck_intake_is_reported_and_a_dead_one_exits_non_zero_losing_nothing(
    tmp_path: Path, broker: LocalBroker
) -> None:
    # The stall reported after 3 s; SQLite's busy timeout at 15 s instead of 30 (the
    # default): the stall reaches the backend in about 6 s, well before the timeout.
    env = {"SANGSACH_INTAKE_STALL_S": "3", "SANGSACH_SPOOL_BUSY_TIMEOUT_S": "15"}
    stack = Stack(tmp_path / "stack", broker.port, env).start()
    device = LAMPS[0]
    now = int(time.time()) - 60

    def send(seqs: range) -> None:
        topic = f"sangsach/v1/{device}/telemetry"
        publish_all(broker.port, [(topic, reading(device, "lamp", s, now + s)) for s in seqs])

    def reported() -> str:
        states = stack.http.get("/api/v1/gateways").raise_for_status().json()
        return str(states[0]["intake_stalled"]) if states else ""

    try:
        holder = hold_spool(stack)
        send(range(5))
        wait_until(lambda: bool(stack.gateway_health()["intake_stalled"]), 20, "stall in health")
        stalled = stack.gateway_health()["intake_stalled"]
        assert "intake stalled: 5 messages waiting, nothing committed for" in stalled
        assert stalled.startswith("nhận tin bị treo: 5 tin chờ")
        wait_until(lambda: "5 messages waiting" in reported(), 20, "the stall at the backend")
        holder.execute("ROLLBACK")  # unstuck before SQLite's busy timeout (15 s)
        wait_until(lambda: stack.stored() == 5, 30, "the 5 readings after the stall")
        wait_until(lambda: reported() == "", 20, "the stall cleared at the backend")
        assert stack.gateway_health()["intake_stalled"] == ""

        holder.execute("BEGIN IMMEDIATE")  # now for longer than the busy timeout
        send(range(5, 10))
        wait_until(lambda: not stack.gateway.running, 60, "the gateway to exit")
        assert stack.gateway.exit_code == 1
        health = stack.gateway_health()
        assert "the intake thread died: OperationalError: database is locked" in health["failed"]
        assert "stopping the gateway" in stack.gateway.log()
        holder.execute("ROLLBACK")
        holder.close()

        stack.start_gateway()  # as its service manager would: the broker sends the rest again
        wait_until(lambda: stack.stored() == 10, 30, "the 5 unacknowledged readings")
        time.sleep(2)  # a duplicate would show now
        assert stack.stored() == 10
        assert json.loads(stack.gateway_health_path.read_text())["failed"] == ""
    finally:
        stack.close()
