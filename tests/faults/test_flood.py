"""Abuse: one lamp floods at 100 times the fastest rate the contract allows, or sends junk as
fast as it can. The gateway throttles it per device, folds what comes beyond the rate into one
``flood`` dead letter per device-minute with the count, counts them in its health file, and the
other devices' readings and alerts still get through.

Their latency is measured with and without the flood and printed side by side; no timing is
asserted (the machine is shared), only that nothing of theirs is lost or throttled.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sangsach.localbroker import LocalBroker
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.harness import Stack, publish_all, reading, wait_until

pytestmark = pytest.mark.e2e

DEVICES = list(load_registry(SAMPLE_REGISTRY).devices())
FLOODER = next(d.id for d in DEVICES if d.kind == "lamp")
BINS = [d.id for d in DEVICES if d.kind == "bin"][:30]
OTHERS, PROBES = BINS[:20], BINS[20:]
ROUNDS = 6
RATE_PER_MIN = 60  # the gateway's default: readings per device-minute
# 100 times the fastest report interval the contract allows (10 s); 3000 times the default.
FLOOD_PER_S = 10


def telemetry(device_id: str) -> str:
    return f"sangsach/v1/{device_id}/telemetry"


class Flooder:
    """One lamp publishing QoS 1 readings back to back, each stamped with the real clock."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent = 0
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="flooder")
        client.max_inflight_messages_set(100)
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        began = time.monotonic()
        while not self._stop.is_set():
            infos = [
                client.publish(
                    telemetry(FLOODER),
                    reading(FLOODER, "lamp", self.sent + i, int(time.time())),
                    qos=1,
                )
                for i in range(5)
            ]
            for info in infos:
                info.wait_for_publish(30)
            self.sent += len(infos)
            # Paced to FLOOD_PER_S, with the clock it stamps: a node stuck in a fast loop.
            time.sleep(max(0.0, began + self.sent / FLOOD_PER_S - time.monotonic()))
        self.seconds = time.monotonic() - began
        client.disconnect()
        client.loop_stop()

    def __enter__(self) -> Flooder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


def rounds(stack: Stack, port: int, first_seq: int, probe: str) -> tuple[list[float], float]:
    """Publish ROUNDS rounds of one reading per other bin; returns each round's latency from
    publish to stored, and the latency of one bin-full alert of ``probe``."""
    latencies = []
    for r in range(ROUNDS):
        target = stack.stats()["readings"]["bin"] + len(OTHERS)
        now = int(time.time())
        sent = time.monotonic()
        publish_all(
            port,
            [(telemetry(b), reading(b, "bin", first_seq + r, now)) for b in OTHERS],
            client_id="others",
        )
        wait_until(lambda t=target: stack.stats()["readings"]["bin"] >= t, 60, "a round", 0.05)  # type: ignore[misc]
        latencies.append(time.monotonic() - sent)
    sent = time.monotonic()
    publish_all(
        port, [(telemetry(probe), reading(probe, "bin", 1, int(time.time()), fill_pct=95.0))]
    )
    wait_until(lambda: _opened(stack, probe), 60, f"bin_full of {probe}", 0.05)
    return latencies, time.monotonic() - sent


def _opened(stack: Stack, device_id: str) -> bool:
    params = {"device": device_id, "type": "bin_full"}
    return bool(stack.http.get("/api/v1/alerts", params=params).raise_for_status().json())


def test_a_flooding_device_is_throttled_and_the_others_are_not_held_back(
    tmp_path: Path, broker: LocalBroker
) -> None:
    env = {"SANGSACH_ALERT_QUIET_HOURS": ""}
    stack = Stack(tmp_path / "stack", broker.port, env).start()
    try:
        quiet, quiet_alert = rounds(stack, broker.port, 1, PROBES[0])
        with Flooder(broker.port) as flood:
            # Two device-minutes at most hold this many: at least 10 must be throttled.
            wait_until(lambda: flood.sent > 2 * RATE_PER_MIN + 10, 60, "the flood to outrun it")
            flooded, flooded_alert = rounds(stack, broker.port, 100, PROBES[1])
        wait_until(
            lambda: (
                stack.gateway_health()["intake"]["received"]
                >= flood.sent + 2 * (ROUNDS * len(OTHERS) + 1)
            ),
            120,
            "the whole flood to reach the gateway",
        )
        stats = stack.stats()
        assert stats["readings"]["bin"] == 2 * ROUNDS * len(OTHERS) + 2, "others lost readings"

        wait_until(lambda: stack.stored() + _folded(stack) >= stats["readings"]["bin"]
                   + flood.sent, 60, "every flooded reading stored or folded")  # fmt: skip
        limited = _floods(stack)
        folded = _folded(stack)
        stored_flood = stack.stats()["readings"]["lamp"]
        assert {d["device_id"] for d in limited} == {FLOODER}
        assert all("messages in one minute" in d["detail"] for d in limited)
        assert stored_flood + folded == flood.sent, "a flooded reading was lost"
        minutes = int(flood.seconds // 60) + 2  # device-minutes the flood's clock touched
        assert stored_flood <= RATE_PER_MIN * minutes
        assert len(limited) <= minutes, "more than one flood letter per device-minute"
        wait_until(lambda: stack.gateway_health()["intake"]["flooded"] == folded, 10, "health")

        ratio = statistics.median(flooded) / statistics.median(quiet)
        print(
            f"\nflood: {flood.sent} readings in {flood.seconds:.1f} s "
            f"({flood.sent / flood.seconds:.1f}/s; the contract allows one per 10 s), {stored_flood} stored, "
            f"{folded} folded into {len(limited)} flood letters; others' round latency median "
            f"{statistics.median(quiet) * 1000:.0f} ms quiet vs "
            f"{statistics.median(flooded) * 1000:.0f} ms flooded (ratio {ratio:.2f}); "
            f"bin_full alert {quiet_alert * 1000:.0f} ms vs {flooded_alert * 1000:.0f} ms"
        )
    finally:
        stack.close()


def _floods(stack: Stack) -> list[dict[str, Any]]:
    response = stack.http.get("/api/v1/dead-letters", params={"reason": "flood", "limit": 10_000})
    return response.raise_for_status().json()  # type: ignore[no-any-return]


def _folded(stack: Stack) -> int:
    return sum(int(letter["messages"]) for letter in _floods(stack))


def test_a_device_flooding_junk_fills_no_disk_and_holds_no_one_back(
    tmp_path: Path, broker: LocalBroker
) -> None:
    """3,000 malformed messages from one lamp as fast as it can: they count against its rate
    like readings; beyond it they are one flood letter per minute with the count, not 3,000
    letters of 4 KiB. The other devices' readings all arrive."""
    junk_sent = 3000
    stack = Stack(tmp_path / "stack", broker.port).start()
    try:
        junk = [(telemetry(FLOODER), b"{junk %05d " % i + b"x" * 4000) for i in range(junk_sent)]
        now = int(time.time())
        others = [(telemetry(b), reading(b, "bin", 1, now)) for b in OTHERS]
        began = time.monotonic()
        publish_all(broker.port, junk + others, client_id="junk")
        took = time.monotonic() - began
        wait_until(
            lambda: stack.gateway_health()["intake"]["received"] == junk_sent + len(OTHERS),
            120,
            "every message at the gateway",
        )
        wait_until(lambda: stack.stats()["readings"]["bin"] == len(OTHERS), 60, "the others")

        def kept() -> tuple[int, int]:
            letters = stack.dead_letters()
            single = [d for d in letters if d["reason"] == "malformed_json"]
            return len(single), sum(d["messages"] for d in letters if d["reason"] == "flood")

        wait_until(lambda: sum(kept()) == junk_sent, 60, "every junk message kept or folded")
        single, folded = kept()
        floods = _floods(stack)
        minutes = int(took // 60) + 2  # arrival minutes the junk can touch
        assert single <= RATE_PER_MIN * minutes and len(floods) <= minutes
        assert {d["device_id"] for d in floods} == {FLOODER}
        kept_kib = sum(len(d["payload"]) + len(d["detail"]) for d in stack.dead_letters()) / 1024
        unthrottled_kib = junk_sent * (4096 + 60) / 1024
        print(
            f"\njunk flood: {junk_sent} malformed messages of 4 KB in {took:.1f} s; {single} "
            f"kept one by one, {folded} folded into {len(floods)} flood letter(s); "
            f"{kept_kib:.0f} KiB of text kept instead of about {unthrottled_kib:.0f} KiB; "
            f"the others' {len(OTHERS)} readings all stored"
        )
    finally:
        stack.close()
