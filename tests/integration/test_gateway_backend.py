"""Broker -> gateway -> backend on real processes: valid readings stored once, bad ones kept."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sangsach.gateway.spool import Kind, Spool
from sangsach.gateway.validate import Incoming, letter_id
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


def test_backend_dead_letters_keep_the_bytes_and_one_id_per_message(
    stack: Stack, broker: LocalBroker
) -> None:
    """An unknown device's batch, a lamp reporting as a bin, and a retained status of an unknown
    device: each one dead letter, the bytes and size as published, the id the gateway gives the
    same topic and bytes; the retained status replayed at a gateway restart makes no second."""
    now = int(time.time()) - 60
    ghost = "lamp-nowhere-002"
    batch = (
        b'{ "readings": [' + reading(ghost, "lamp", 1, now) + b",\n  "
        + reading(ghost, "lamp", 2, now + 1) + b", " + reading(ghost, "lamp", 3, now + 2)
        + b"],  \"dropped\": 0 }"
    )  # fmt: skip
    wrong = b'{"kind": "lamp", "id": "bin-dong-ha-01",  "boot":1,"seq":5,"ts":%d,"on":true}' % now
    status = b'{"id": "bin-nowhere-09", "state": "online",   "fw": "1.0.0"}'
    sent = [
        (telemetry(ghost), batch),
        (telemetry(BIN), wrong),
    ]
    publish_all(broker.port, sent)
    status_topic = "sangsach/v1/bin-nowhere-09/status"
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="retainer")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.publish(status_topic, status, qos=1, retain=True).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
    sent.append((status_topic, status))

    wait_until(lambda: len(stack.dead_letters()) == 3, 30, "three dead letters")
    stack.gateway.stop()
    stack.start_gateway()  # the retained status comes again
    wait_until(lambda: stack.gateway_health()["intake"]["statuses"] == 1, 20, "the retained replay")
    time.sleep(2)  # a second dead letter would be stored by now
    letters = {d["topic"]: d for d in stack.dead_letters()}
    assert len(letters) == 3 and len(stack.dead_letters()) == 3
    validator_ids = {t: letter_id(Incoming(t, p, 0.0)) for t, p in sent}
    for topic, payload in sent:
        letter = letters[topic]
        assert letter["payload"] == payload.decode()
        assert letter["payload_bytes"] == len(payload)
        assert letter["id"] == validator_ids[topic]
    assert letters[telemetry(ghost)]["reason"] == "unknown_device"
    assert letters[telemetry(BIN)]["reason"] == "kind_mismatch"
    assert letters[status_topic]["reason"] == "unknown_device"
    assert stack.stored() == 0


def test_an_entry_the_backend_refuses_for_good_is_set_aside_and_the_rest_goes_on(
    stack: Stack, broker: LocalBroker
) -> None:
    """A spooled entry the backend answers 422 for (here one from an older or broken gateway,
    with a field the backend does not know) would hold back the spool forever. It is found by
    halving the batch and replaced by an `unprocessable` dead letter quoting it."""
    stack.gateway.stop()
    now = int(time.time()) - 600
    good = [json.loads(reading(LAMP, "lamp", seq, now + seq)) for seq in range(60)]
    entries: list[tuple[Kind, dict[str, object]]] = [
        ("reading", {**body, "synced": True, "received_at": now + 1.0}) for body in good
    ]
    bad = {**entries[37][1], "seq": 999, "bogus": "\udc00"}  # unknown field, lone surrogate
    entries.insert(37, ("reading", bad))
    spool = Spool(Path(stack.env["SANGSACH_DATA_DIR"]) / "spool-gw-1.sqlite")
    spool.append(entries)
    spool.close()
    stack.start_gateway()
    wait_until(lambda: stack.stored() == 60, 60, "the 60 readings around the refused one")
    [letter] = stack.dead_letters()
    assert letter["reason"] == "unprocessable" and letter["device_id"] == LAMP
    assert "refused this spooled reading for good (422)" in letter["detail"]
    assert "bogus" in letter["detail"] and '"seq":999' in letter["payload"]
    wait_until(lambda: stack.gateway_health()["spooled"] == 0, 20, "the spool drained")
    assert stack.gateway_health()["forwarder"]["set_aside"] == 1


def test_a_gateway_forwards_only_with_a_token_of_its_own_id(
    tmp_path: Path, broker: LocalBroker
) -> None:
    """The shared token speaks for gw-1 only: gateway gw-2 is refused (403, in its log), keeps
    everything spooled, and delivers it all with a token named after it."""
    stack = Stack(tmp_path / "stack", broker.port,
                  {"SANGSACH_INGEST_GATEWAY_IDS": "gw-1", "SANGSACH_GATEWAY_ID": "gw-2"})  # fmt: skip
    try:
        stack.start()
        now = int(time.time())
        publish_all(
            broker.port, [(telemetry(LAMP), reading(LAMP, "lamp", s, now - 50)) for s in range(20)]
        )
        refusal = "speaks for 'gw-1', not for gateway 'gw-2'"
        wait_until(lambda: stack.gateway.log().count(refusal) >= 2, 30, "the refusals logged")
        assert "backend answered 403" in stack.gateway.log()  # the batch
        assert "the backend refused the gateway state: 403" in stack.gateway.log()  # heartbeat
        assert stack.stored() == 0
        assert stack.http.get("/api/v1/gateways").json() == []

        issued = stack.http.post("/api/v1/tokens", json={"name": "gw-2", "role": "gateway"})
        stack.gateway.stop()
        stack.gateway.env = {**stack.env, "SANGSACH_INGEST_TOKEN": issued.json()["token"]}
        stack.start_gateway()
        wait_until(lambda: stack.stored() == 20, 60, "the spooled readings")
        wait_until(lambda: len(stack.http.get("/api/v1/gateways").json()) == 1, 30, "its state")
        assert stack.http.get("/api/v1/gateways").json()[0]["gateway_id"] == "gw-2"
    finally:
        stack.close()
