"""The intake acknowledges messages only after the spool has them, and drops duplicates."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sangsach.gateway.dedup import RecentKeys
from sangsach.gateway.intake import Intake, Pending
from sangsach.gateway.spool import Spool, SpoolFull
from sangsach.gateway.throttle import DeviceThrottle
from sangsach.gateway.validate import Incoming, Limits, Validator, letter_id

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


@dataclass
class Ack:
    """One call of the ack callback: the packet ids, their connection and what was on disk."""

    mids: list[int]
    generation: int
    spooled: int


def make(tmp_path: Path, fail_first: int = 0) -> tuple[Intake, RecordingSpool, list[Ack]]:
    spool = RecordingSpool(tmp_path / "spool.sqlite", fail_first)
    acks: list[Ack] = []

    def ack(mids: list[int], generation: int) -> None:
        # At the moment of the ack the messages must already be on disk.
        acks.append(Ack(list(mids), generation, len(Spool(spool.path))))

    intake = Intake(Validator(Limits()), RecentKeys(1000), spool, ack)
    return intake, spool, acks


def one(msg: Incoming, mid: int, generation: int = 1) -> Pending:
    return Pending([msg], [mid], generation)


def test_one_ack_call_after_spooled_and_duplicates_acked_but_not_stored(tmp_path: Path) -> None:
    intake, _, acks = make(tmp_path)
    first = Pending([message(0), message(1)], [1, 2], 1)
    second = Pending([message(2), message(1), message(0)], [3, 4, 5], 1)
    intake.commit([first, second], threading.Event())
    assert acks == [Ack([1, 2, 3, 4, 5], 1, 3)]
    assert intake.stats.accepted == 3
    assert intake.stats.duplicates == 2


def test_acks_keep_the_connection_they_came_on(tmp_path: Path) -> None:
    """The client drops acks of an earlier connection; the intake must not relabel them."""
    intake, _, acks = make(tmp_path)
    intake.commit([one(message(0), 1, 1), one(message(1), 1, 2)], threading.Event())
    assert sorted((a.generation, a.mids) for a in acks) == [(1, [1]), (2, [1])]


def test_batches_handed_over_are_committed_together(tmp_path: Path) -> None:
    intake, spool, acks = make(tmp_path)
    intake.on_messages([message(0), message(1)], [11, 12], 3)
    intake.on_messages([message(2)], [13], 3)
    stop = threading.Event()
    worker = threading.Thread(target=intake.run, args=(stop,))
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not acks and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(5)
    assert acks == [Ack([11, 12, 13], 3, 3)]
    assert len(spool) == 3


def test_full_spool_delays_acks_until_there_is_room(tmp_path: Path) -> None:
    intake, _, acks = make(tmp_path, fail_first=1)
    intake.commit([one(message(0), 7)], threading.Event())
    assert acks == [Ack([7], 1, 1)]


def test_stop_while_spool_full_sends_no_ack(tmp_path: Path) -> None:
    intake, spool, acks = make(tmp_path, fail_first=1)
    stop = threading.Event()
    stop.set()
    intake.commit([one(message(0), 7)], stop)
    assert acks == []
    assert len(spool) == 0


def test_rejections_are_spooled_too(tmp_path: Path) -> None:
    intake, spool, _ = make(tmp_path)
    bad = Incoming("sangsach/v1/lamp-a-01/telemetry", b"garbage", NOW)
    intake.commit([Pending([message(0), bad], [1, 2], 1)], threading.Event())
    assert [entry.kind for entry in spool.peek(10)] == ["reading", "rejection"]
    assert spool.peek(10)[1].body["reason"] == "malformed_json"


class Exploding(Validator):
    """A validator with a bug for one payload: what no test of the contract foresaw."""

    def check(self, msg: Incoming) -> Any:
        if msg.payload == b"boom":
            raise KeyError("a bug")
        return super().check(msg)


def test_a_message_whose_check_raises_is_a_dead_letter_and_intake_goes_on(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    acks: list[list[int]] = []
    intake = Intake(Exploding(Limits()), RecentKeys(1000), spool, lambda m, g: acks.append(m))
    bad = Incoming("sangsach/v1/lamp-a-01/telemetry", b"boom", NOW)
    intake.commit([Pending([message(0), bad, message(1)], [1, 2, 3], 1)], threading.Event())
    assert acks == [[1, 2, 3]]
    entries = spool.peek(10)
    assert [entry.kind for entry in entries] == ["reading", "rejection", "reading"]
    letter = entries[1].body
    assert letter["reason"] == "unprocessable"
    assert letter["device_id"] == "lamp-a-01"
    assert letter["detail"] == "checking the message failed: KeyError: 'a bug'"
    assert intake.stats.rejected_by_reason == {"unprocessable": 1}


def test_stalled_when_messages_wait_and_nothing_is_committed(tmp_path: Path) -> None:
    now = [100.0]
    spool = Spool(tmp_path / "spool.sqlite")
    intake = Intake(
        Validator(Limits()), RecentKeys(1000), spool, lambda m, g: None, clock=lambda: now[0]
    )
    now[0] = 500.0  # idle for long, nothing waiting: not stalled
    assert intake.stalled(60) == ""
    intake.on_messages([message(0), message(1)], [1, 2], 1)
    now[0] = 559.0
    assert intake.stalled(60) == ""
    now[0] = 561.0
    assert "intake stalled: 2 messages waiting, nothing committed for 61 s" in intake.stalled(60)
    assert intake.stalled(60).startswith("nhận tin bị treo: 2 tin chờ")
    intake.stats.spool_full = "disk full"  # a paused intake says so elsewhere
    assert intake.stalled(60) == ""
    intake.stats.spool_full = ""
    intake.commit(intake._take(0.1), threading.Event())
    now[0] = 1000.0
    assert intake.stalled(60) == ""


def test_items_keep_their_message_beside_them_the_bytes_only_once(tmp_path: Path) -> None:
    """For a dead letter the gateway makes if the backend refuses an item: the message's id
    and bytes, the bytes with its first item only; nothing of it in what is forwarded."""
    intake, spool, _ = make(tmp_path)
    readings = [json.loads(message(seq).payload) for seq in (5, 6, 7)]
    batch = Incoming(
        "sangsach/v1/lamp-a-01/telemetry", json.dumps({"readings": readings}).encode(), NOW
    )
    intake.commit([Pending([message(0), batch], [1, 2], 1)], threading.Event())
    entries = spool.peek(10)
    origins = spool.origins([entry.id for entry in entries])
    single, first, *rest = (origins[entry.id] for entry in entries)
    assert single == (None, message(0).payload)  # one item: its id made if it is refused
    assert first == (letter_id(batch), batch.payload)
    assert rest == [(letter_id(batch), None)] * 2
    assert all("raw" not in entry.text for entry in entries)


def test_junk_counts_against_the_rate_and_beyond_it_is_one_flood_letter(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    throttle = DeviceThrottle(per_minute=10)
    intake = Intake(
        Validator(Limits()), RecentKeys(1000), spool, lambda m, g: None, throttle=throttle
    )
    junk = [Incoming("sangsach/v1/lamp-a-01/telemetry", b"junk%d" % i, NOW) for i in range(40)]
    valid = [message(seq, "lamp-b-01") for seq in range(5)]
    intake.commit([Pending(junk[:25] + valid, [0] * 30, 1)], threading.Event())
    intake.commit([Pending(junk[25:], [0] * 15, 1)], threading.Event())
    letters = [e.body for e in spool.peek(100) if e.kind == "rejection"]
    floods = [letter for letter in letters if letter["reason"] == "flood"]
    assert len([x for x in letters if x["reason"] == "malformed_json"]) == 10
    assert [f["messages"] for f in floods] == [15, 30], "sent again, grown, after each commit"
    assert len({f["id"] for f in floods}) == 1
    assert len([e for e in spool.peek(100) if e.kind == "reading"]) == 5, "the others untouched"
    assert intake.stats.flooded == 30
    # A valid reading of the flooding device in that minute is folded too: it counts alike.
    intake.commit([Pending([message(0)], [0], 1)], threading.Event())
    assert [e.body["messages"] for e in spool.peek(100) if e.kind == "rejection"][-1] == 31
