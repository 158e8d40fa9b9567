"""The ledger: what the broker acknowledged, in memory and as JSON lines that load back."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from sangsach.contract import Batch, BinReading, LampReading, Reason
from sangsach.simulators.invalid import BadMessage
from sangsach.simulators.ledger import SPOT_EVERY, InvalidRecord, Ledger, Spot

TS = 1_750_000_000


def lamp(seq: int, boot: int = 1) -> LampReading:
    return LampReading(id="lamp-a-001", kind="lamp", boot=boot, seq=seq, ts=TS + seq, on=True)


def bin_reading(seq: int) -> BinReading:
    return BinReading(id="bin-a-01", kind="bin", boot=1, seq=seq, ts=TS + seq, fill_pct=40.5)


def filled(ledger: Ledger) -> Ledger:
    for seq in range(12):
        ledger.add_telemetry("lamp-a-001", lamp(seq))
    ledger.add_telemetry("bin-a-01", Batch(readings=[bin_reading(seq) for seq in range(6)]))
    ledger.add_birth("lamp-a-001", 1)
    ledger.add_offline("lamp-a-001", 1)
    ledger.add_birth("lamp-a-001", 2)
    bad = BadMessage(
        "lamp-a-001", "sangsach/v1/lamp-a-001/telemetry", b"{", Reason.MALFORMED_JSON, 7
    )
    ledger.add_invalid(bad)
    return ledger


def test_keeps_every_key_and_a_spot_every_tenth_reading() -> None:
    ledger = filled(Ledger())
    assert ledger.readings["lamp-a-001"] == {(1, seq) for seq in range(12)}
    assert ledger.readings["bin-a-01"] == {(1, seq) for seq in range(6)}
    assert ledger.reading_count == 18
    assert ledger.telemetry_messages == 13
    assert ledger.spots == [
        Spot("lamp-a-001", 1, 0, TS, True, "lamp", "on", True),
        Spot("lamp-a-001", 1, SPOT_EVERY, TS + SPOT_EVERY, True, "lamp", "on", True),
        Spot("bin-a-01", 1, 0, TS, True, "bin", "fill_pct", 40.5),
    ]


def test_keeps_births_offline_boots_and_invalid_messages() -> None:
    ledger = filled(Ledger())
    assert ledger.births == {"lamp-a-001": [1, 2]}
    assert ledger.offline == {"lamp-a-001": [1]}
    assert ledger.invalid == [
        InvalidRecord(
            "lamp-a-001",
            "sangsach/v1/lamp-a-001/telemetry",
            Reason.MALFORMED_JSON,
            hashlib.sha256(b"{").hexdigest(),
            1,
            7,
        )
    ]


def test_json_lines_load_back_into_the_same_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    with path.open("w", encoding="utf-8") as sink:
        written = filled(Ledger(sink))
    loaded = Ledger.load(path)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 13 + 3 + 1
    assert loaded.readings == written.readings
    assert loaded.spots == written.spots
    assert loaded.births == written.births
    assert loaded.offline == written.offline
    assert loaded.invalid == written.invalid
    assert loaded.telemetry_messages == written.telemetry_messages


def test_summary_says_what_was_acknowledged() -> None:
    assert filled(Ledger()).summary() == (
        "18 readings in 13 messages from 2 devices, 1 invalid messages, 1 nodes dropped offline"
    )


def test_load_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    sink = io.StringIO()
    Ledger(sink).add_birth("lamp-a-001", 1)
    path.write_text(sink.getvalue() + '{"event": "party"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"ledger.jsonl:2: .*party"):
        Ledger.load(path)
