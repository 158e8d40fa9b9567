"""The intake acknowledges a message only after the spool has it, and drops duplicates."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from sangsach.gateway.dedup import RecentKeys
from sangsach.gateway.intake import Intake, Pending
from sangsach.gateway.spool import Spool, SpoolFull
from sangsach.gateway.validate import Incoming, Limits, Validator

NOW = 1_780_000_000.0


def message(seq: int, device: str = "lamp-a-01") -> Incoming:
    body = {"id": device, "kind": "lamp", "boot": 1, "seq": seq, "ts": int(NOW), "on": True}
    return Incoming(f"sangsach/v1/{device}/telemetry", json.dumps(body).encode(), NOW)


class RecordingSpool(Spool):
    """A real spool that records what the acks could see at the moment of each ack."""

    def __init__(self, path: Path, fail_first: int = 0) -> None:
        super().__init__(path)
        self.fail_first = fail_first

    def append(self, items: Any) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise SpoolFull("full for the test")
        super().append(items)


def make(
    tmp_path: Path, fail_first: int = 0
) -> tuple[Intake, RecordingSpool, list[tuple[int, int]]]:
    spool = RecordingSpool(tmp_path / "spool.sqlite", fail_first)
    acks: list[tuple[int, int]] = []

    def ack(mid: int, generation: int) -> None:
        # At the moment of the ack the message must already be on disk.
        acks.append((mid, len(Spool(spool.path))))

    intake = Intake(Validator(Limits()), RecentKeys(1000), spool, ack, clock=lambda: NOW)
    return intake, spool, acks


def test_ack_only_after_spooled_and_duplicates_acked_but_not_stored(tmp_path: Path) -> None:
    intake, _, acks = make(tmp_path)
    batch = [Pending(message(seq), mid, 1) for mid, seq in enumerate([0, 1, 2, 1, 0], start=1)]
    intake.commit(batch, threading.Event())
    assert [mid for mid, _ in acks] == [1, 2, 3, 4, 5]
    assert all(spooled == 3 for _, spooled in acks)
    assert intake.stats.accepted == 3
    assert intake.stats.duplicates == 2


def test_full_spool_delays_acks_until_there_is_room(tmp_path: Path) -> None:
    intake, _, acks = make(tmp_path, fail_first=1)
    intake.commit([Pending(message(0), 7, 1)], threading.Event())
    assert acks == [(7, 1)]


def test_stop_while_spool_full_sends_no_ack(tmp_path: Path) -> None:
    intake, spool, acks = make(tmp_path, fail_first=1)
    stop = threading.Event()
    stop.set()
    intake.commit([Pending(message(0), 7, 1)], stop)
    assert acks == []
    assert len(spool) == 0


def test_rejections_are_spooled_too(tmp_path: Path) -> None:
    intake, spool, _ = make(tmp_path)
    bad = Incoming("sangsach/v1/lamp-a-01/telemetry", b"garbage", NOW)
    intake.commit([Pending(message(0), 1, 1), Pending(bad, 2, 1)], threading.Event())
    assert [entry.kind for entry in spool.peek(10)] == ["reading", "rejection"]
    assert spool.peek(10)[1].body["reason"] == "malformed_json"
