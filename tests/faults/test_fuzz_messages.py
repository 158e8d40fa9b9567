"""Property-based fuzzing of device messages through the real broker, gateway and backend.

Hypothesis draws batches of messages: random JSON, readings with a field of the wrong type,
NaN and Infinity, huge numbers, odd Unicode in ids (topic and payload), 200 KiB payloads, topics
and ids that disagree, bytes that are not UTF-8, and valid readings sent out of order and
replayed. Whatever arrives, nothing crashes, nothing is lost: every message is stored, kept as a
dead letter with its reason, or dropped as a duplicate of one that was; and the gateway's memory
stays bounded while 200 KiB payloads pass (the broker refuses packets above 256 KiB, so larger
ones never reach the gateway: tests/integration/test_broker_limits.py).

The oracle for the accounting is the contract's pure validator run in the test; the reasons of
the kinds of garbage whose outcome is certain are asserted directly.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sangsach.gateway.validate import Incoming, Limits, Validator
from sangsach.localbroker import LocalBroker
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.harness import Stack, publish_all, wait_until

LAMPS = [d.id for d in load_registry(SAMPLE_REGISTRY).devices() if d.kind == "lamp"][:30]
NOW = int(time.time())
BIG = 200 * 1024  # above the contract's 64 KiB, below the broker's 256 KiB
RSS_LIMIT_MB = 400  # the gateway idles near 60 MB; a leak of big payloads would pass this fast

Message = tuple[str, bytes, str | None]  # topic, payload, the reason it must get (None: any)


def telemetry(device_id: str) -> str:
    return f"sangsach/v1/{device_id}/telemetry"


@st.composite
def valid_reading(draw: st.DrawFn) -> dict[str, Any]:
    lamp = draw(st.sampled_from(LAMPS))
    seq = draw(st.integers(0, 100_000))
    # spread over days of device time, so the per-device throttle never interferes
    ts = NOW - 3 * 86_400 + seq * 2
    body: dict[str, Any] = {"id": lamp, "kind": "lamp", "boot": 1, "seq": seq, "ts": ts}
    body["on"] = draw(st.booleans())
    if draw(st.booleans()):
        body["current_a"] = draw(st.floats(0, 5, allow_nan=False).map(lambda x: round(x, 3)))
    return body


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
# Publishable MQTT topic levels: no wildcards, no level separator, and none of what MQTT and
# Mosquitto refuse in a topic (control characters, surrogates, non-characters): the broker
# drops such a publisher before the gateway could see anything.
ODD_ID = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Cn"), exclude_characters="+#/"), max_size=40
).filter(lambda s: bool(s) and len(s.encode()) < 200)
FIELDS = ("id", "kind", "boot", "seq", "ts", "on", "current_a", "synced")


def dump(body: Any) -> bytes:
    return json.dumps(body, allow_nan=True, ensure_ascii=False).encode()


@st.composite
def garbage(draw: st.DrawFn) -> Message:
    lamp = draw(st.sampled_from(LAMPS))
    base = draw(valid_reading())
    base["id"] = lamp
    kind = draw(
        st.sampled_from(
            ["json", "wrong_type", "nan", "huge", "odd_topic", "odd_id", "mismatch", "bytes"]
        )
    )
    if kind == "json":
        return telemetry(lamp), dump(draw(JSON)), None
    if kind == "wrong_type":
        name = draw(st.sampled_from(FIELDS))
        base[name] = draw(JSON)
        return telemetry(lamp), dump(base), None
    if kind == "nan":
        base["current_a"] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        return telemetry(lamp), dump(base), "schema"
    if kind == "huge":
        name = draw(st.sampled_from(["boot", "seq", "ts", "current_a", "rssi"]))
        base[name] = draw(st.sampled_from([10**30, -(10**30), 1e308, 10**400]))
        return telemetry(lamp), dump(base), "schema"
    if kind == "odd_topic":
        odd = draw(ODD_ID)
        base["id"] = odd
        return telemetry(odd), dump(base), None  # bad_topic, unless the id happens to be valid
    if kind == "odd_id":
        base["id"] = draw(ODD_ID.filter(lambda s: s != lamp))
        return telemetry(lamp), dump(base), None  # schema (pattern) or id_mismatch
    if kind == "mismatch":
        base["id"] = draw(st.sampled_from([x for x in LAMPS if x != lamp]))
        return telemetry(lamp), dump(base), "id_mismatch"
    raw = draw(st.binary(min_size=1, max_size=64).filter(_not_utf8))
    return telemetry(lamp), raw, "malformed_json"


def _not_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@st.composite
def batches(draw: st.DrawFn) -> list[Message]:
    """Valid readings, shuffled (out of order) with replays among them, mixed with garbage."""
    valid = draw(st.lists(valid_reading(), min_size=10, max_size=60))
    messages: list[Message] = [(telemetry(b["id"]), dump(b), None) for b in valid]
    messages += draw(st.lists(garbage(), min_size=20, max_size=80))
    replays = draw(st.lists(st.sampled_from(messages), max_size=15))
    big: list[Message] = [
        (telemetry(LAMPS[0]), b"{" + b" " * (BIG - 2) + b"}", "oversized")
        for _ in range(draw(st.integers(1, 3)))
    ]
    return draw(st.permutations(messages + replays + big))


@dataclass
class Ledger:
    """What the test expects, built with the contract's own validator."""

    validator: Validator = field(default_factory=lambda: Validator(Limits()))
    published: int = 0
    keys: set[tuple[str, int, int]] = field(default_factory=set)
    letters: dict[tuple[str, bytes], str] = field(default_factory=dict)  # -> reason
    duplicates: int = 0
    refused: int = 0  # accepted by the gateway, refused by the backend's registry

    def add(self, topic: str, payload: bytes, reason: str | None) -> None:
        self.published += 1
        checked = self.validator.check(Incoming(topic, payload, time.time()))
        if checked.rejections:
            found = str(checked.rejections[0].reason)
            if reason is not None:
                assert found == reason, (topic, payload[:200], checked.rejections[0].detail)
            letter = (topic, payload)  # the gateway names a dead letter by its exact bytes
            if letter in self.letters:
                self.duplicates += 1  # the same bytes on the same topic: one dead letter
            self.letters[letter] = found
            return
        assert reason is None, f"expected {reason} for {payload[:200]!r}"
        for reading in checked.readings:
            key = (reading["id"], reading["boot"], reading["seq"])
            if key in self.keys:
                self.duplicates += 1
                continue
            self.keys.add(key)
            if reading["id"] not in LAMPS or reading["kind"] != "lamp":
                self.refused += 1  # the backend keeps it as unknown_device or kind_mismatch


class RssSampler:
    """Samples the gateway's resident memory from /proc every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self._stop.wait(0.2):
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.samples.append(int(line.split()[1]) / 1024)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def fuzz_stack(tmp_path: Path, broker: LocalBroker) -> Iterator[Stack]:
    # Throttling off: the garbage of ten drawn batches in a minute or two can pass a lamp's, or
    # the shared no-device, rate; tests/faults/test_flood.py covers what happens then.
    stack = Stack(tmp_path / "stack", broker.port, {"SANGSACH_DEVICE_RATE_PER_MIN": "0"}).start()
    yield stack
    stack.close()


@pytest.mark.e2e
def test_fuzzed_messages_are_stored_or_dead_lettered_never_lost(
    fuzz_stack: Stack, broker: LocalBroker
) -> None:
    ledger = Ledger()
    memory: list[float] = []

    @settings(
        max_examples=10,
        deadline=None,
        phases=[Phase.generate],  # shrinking would replay real processes for minutes
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(messages=batches())
    def one_batch(messages: list[Message]) -> None:
        for topic, payload, reason in messages:
            ledger.add(topic, payload, reason)
        with RssSampler(fuzz_stack.gateway.pid) as rss:
            publish_all(broker.port, [(t, p) for t, p, _ in messages], client_id="fuzzer")
            wait_until(
                lambda: fuzz_stack.gateway_health()["intake"]["received"] == ledger.published,
                120,
                f"the gateway to receive {ledger.published} messages",
            )
        memory.append(max(rss.samples, default=0.0))
        assert fuzz_stack.gateway.running, "the gateway crashed"
        expected = (len(ledger.keys) - ledger.refused, len(ledger.letters) + ledger.refused)
        try:
            wait_until(lambda: _kept(fuzz_stack) == expected, 60, "every message kept")
        except AssertionError:
            health = fuzz_stack.gateway_health()["intake"]
            raise AssertionError(
                f"stored and dead letters {_kept(fuzz_stack)}, expected {expected}; "
                f"gateway {health}; the ledger's duplicates {ledger.duplicates}"
            ) from None

    one_batch()

    health = fuzz_stack.gateway_health()["intake"]
    stored, letters = fuzz_stack.stored(), fuzz_stack.dead_letters()
    at_gateway = [d for d in letters if d["reason"] not in ("unknown_device", "kind_mismatch")]
    dropped = health["duplicates"] + (health["rejected"] - len(at_gateway))
    assert ledger.published == stored + len(letters) + dropped
    assert (stored, len(letters), dropped) == (
        len(ledger.keys) - ledger.refused,
        len(ledger.letters) + ledger.refused,
        ledger.duplicates,
    )
    kept = {(d["topic"], d["payload"]): d for d in at_gateway}
    for (topic, raw), reason in ledger.letters.items():
        payload = raw.decode("utf-8", errors="replace")[:4096]  # what a dead letter keeps
        assert (topic, payload) in kept, f"no dead letter for {payload[:80]!r} on {topic!r}"
        assert kept[topic, payload]["reason"] == reason
        assert kept[topic, payload]["detail"]
    assert max(memory) < RSS_LIMIT_MB, f"gateway RSS peaks {memory} MB"
    print(f"\nfuzz: {ledger.published} published, {stored} stored, {len(letters)} dead letters, "
          f"{dropped} duplicates dropped; gateway RSS peak per batch {memory} MB")  # fmt: skip


def _kept(stack: Stack) -> tuple[int, int]:
    return stack.stored(), len(stack.dead_letters())
