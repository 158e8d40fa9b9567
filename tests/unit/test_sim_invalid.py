"""Deliberately invalid messages: each one deserves the reason it is tagged with, and no other."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection

import pytest
from pydantic import TypeAdapter, ValidationError

from sangsach.contract import Batch, BinReading, LampReading, Reading, Reason, Topic, topic
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.simulators.faults import Kind
from sangsach.simulators.invalid import (
    BAD_SEQ_BASE,
    GATEWAY_MAX_PAYLOAD,
    REASONS,
    BadMessage,
    BadMessages,
)

DEVICES: dict[str, Kind] = {d.id: d.kind for d in load_registry(SAMPLE_REGISTRY).devices()}
WALL = 1_780_000_000.0
NOW = 1_779_990_000
READING: TypeAdapter[LampReading | BinReading] = TypeAdapter(Reading)


def parse_telemetry(payload: bytes) -> list[LampReading | BinReading]:
    """Validate a telemetry payload against the contract: one reading, or a batch."""
    data = json.loads(payload)
    if isinstance(data, dict) and "readings" in data:
        return list(Batch.model_validate_json(payload).readings)
    return [READING.validate_json(payload)]


def assert_rejected_for(
    reason: Reason, topic_: str, payload: bytes, registry: Collection[str], now: float
) -> None:
    """Check, without the simulator's help, that a message deserves ``reason``."""
    topic_id = Topic.parse(topic_).device_id
    if reason is Reason.OVERSIZED:
        assert len(payload) > GATEWAY_MAX_PAYLOAD
        return
    assert len(payload) <= GATEWAY_MAX_PAYLOAD
    if reason is Reason.MALFORMED_JSON:
        try:
            data = json.loads(payload.decode("utf-8"))
        except ValueError:  # not UTF-8, or not JSON
            return
        assert not isinstance(data, dict)
        return
    if reason is Reason.SCHEMA:
        assert isinstance(json.loads(payload), dict)
        with pytest.raises(ValidationError):
            parse_telemetry(payload)
        return
    [reading] = parse_telemetry(payload)  # the other reasons carry a valid reading
    assert reading.seq >= BAD_SEQ_BASE
    if reason is Reason.UNKNOWN_DEVICE:
        assert reading.id == topic_id
        assert reading.id not in registry
    elif reason is Reason.ID_MISMATCH:
        assert reading.id != topic_id
        assert {reading.id, topic_id} <= set(registry)
    else:
        assert reason is Reason.FUTURE_TS
        assert reading.id == topic_id
        assert topic_id in registry
        assert reading.ts > now + 3600


def many(rate: float, sends: int = 3000, seed: int = 1) -> list[BadMessage]:
    bad = BadMessages(DEVICES, seed=seed, rate=rate, wall=lambda: WALL)
    ids = sorted(DEVICES)
    return [m for n in range(sends) for m in bad.after(ids[n % len(ids)], 1, NOW)]


def test_every_message_deserves_its_reason() -> None:
    messages = many(rate=0.5)
    assert set(Counter(m.reason for m in messages)) == set(REASONS)
    for m in messages:
        assert m.topic == topic(m.sender, "telemetry")
        assert_rejected_for(m.reason, m.topic, m.payload, DEVICES, WALL)


def test_registry_devices_send_all_but_unknown_device_messages() -> None:
    for m in many(rate=0.5):
        assert (m.sender in DEVICES) == (m.reason is not Reason.UNKNOWN_DEVICE)


def test_tags_are_unique() -> None:
    messages = many(rate=0.5)
    assert len({m.tag for m in messages}) == len(messages)
    assert all(m.tag >= BAD_SEQ_BASE for m in messages)


def test_rate_is_the_share_of_all_telemetry_messages() -> None:
    sends = 20_000
    bad = len(many(rate=0.2, sends=sends))
    assert bad / (bad + sends) == pytest.approx(0.2, abs=0.01)


def test_no_bad_messages_at_rate_zero() -> None:
    assert many(rate=0.0) == []


def test_same_seed_same_messages() -> None:
    assert many(rate=0.3, sends=500) == many(rate=0.3, sends=500)
    assert many(rate=0.3, sends=500) != many(rate=0.3, sends=500, seed=2)


def test_a_lone_device_is_never_mistaken_for_another() -> None:
    bad = BadMessages({"lamp-alone-001": "lamp"}, seed=1, rate=0.9, wall=lambda: WALL)
    messages = [m for _ in range(300) for m in bad.after("lamp-alone-001", 1, NOW)]
    assert Reason.ID_MISMATCH not in {m.reason for m in messages}
    assert all(s not in DEVICES for s, _ in bad.strangers)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2.0])
def test_refuses_a_rate_outside_0_to_1(rate: float) -> None:
    with pytest.raises(ValueError, match="bad_rate"):
        BadMessages(DEVICES, seed=1, rate=rate, wall=lambda: WALL)
