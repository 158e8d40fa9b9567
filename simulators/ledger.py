"""What a run sent and the broker acknowledged, so that tests can check the pipeline end to end.

Kept in memory and, with a sink, written as JSON lines as the acknowledgements arrive: one line
per event, so the file holds everything acknowledged up to the moment a run stopped.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from sangsach.contract import Batch, BinReading, LampReading, Reason

from .faults import Kind
from .invalid import BadMessage

# A reading whose seq is a multiple of this keeps its time and one value in the ledger.
SPOT_EVERY: Final = 10
SPOT_FIELD: Final[dict[Kind, str]] = {"lamp": "on", "bin": "fill_pct"}


@dataclass(frozen=True, slots=True)
class Spot:
    """One reading's time and one of its values, to look for downstream."""

    device_id: str
    boot: int
    seq: int
    ts: int
    synced: bool
    kind: Kind
    field: str
    value: float | bool


@dataclass(frozen=True, slots=True)
class InvalidRecord:
    """A deliberately invalid message and the reason the gateway must reject it with."""

    sender: str
    topic: str
    reason: Reason
    sha256: str  # of the payload: identifies the message without keeping 64 KB payloads
    size: int
    tag: int


class Ledger:
    def __init__(self, sink: TextIO | None = None) -> None:
        self.readings: dict[str, set[tuple[int, int]]] = defaultdict(set)  # id -> (boot, seq)
        self.spots: list[Spot] = []
        self.births: dict[str, list[int]] = defaultdict(list)  # id -> boots announced
        # id -> boots that ended with a dropped connection: the broker sent the last will.
        self.offline: dict[str, list[int]] = defaultdict(list)
        self.invalid: list[InvalidRecord] = []
        self.telemetry_messages = 0  # valid ones; a batch is one message
        self._sink = sink

    @property
    def reading_count(self) -> int:
        return sum(len(keys) for keys in self.readings.values())

    def summary(self) -> str:
        """One line for a person: what the broker acknowledged."""
        offline = sum(len(boots) for boots in self.offline.values())
        return (
            f"{self.reading_count} readings in {self.telemetry_messages} messages from "
            f"{len(self.readings)} devices, {len(self.invalid)} invalid messages, "
            f"{offline} nodes dropped offline"
        )

    def add_telemetry(self, device_id: str, message: LampReading | BinReading | Batch) -> None:
        readings = message.readings if isinstance(message, Batch) else [message]
        spots = [
            {
                "boot": r.boot,
                "seq": r.seq,
                "ts": r.ts,
                "synced": r.synced,
                "kind": r.kind,
                "field": SPOT_FIELD[r.kind],
                "value": getattr(r, SPOT_FIELD[r.kind]),
            }
            for r in readings
            if r.seq % SPOT_EVERY == 0
        ]
        keys = [[r.boot, r.seq] for r in readings]
        self._record({"event": "telemetry", "id": device_id, "keys": keys, "spots": spots})

    def add_birth(self, device_id: str, boot: int) -> None:
        self._record({"event": "birth", "id": device_id, "boot": boot})

    def add_offline(self, device_id: str, boot: int) -> None:
        self._record({"event": "offline", "id": device_id, "boot": boot})

    def add_invalid(self, message: BadMessage) -> None:
        self._record(
            {
                "event": "invalid",
                "sender": message.sender,
                "topic": message.topic,
                "reason": message.reason.value,
                "sha256": hashlib.sha256(message.payload).hexdigest(),
                "size": len(message.payload),
                "tag": message.tag,
            }
        )

    def _record(self, entry: dict[str, Any]) -> None:
        if self._sink is not None:
            self._sink.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._apply(entry)

    def _apply(self, entry: dict[str, Any]) -> None:
        event = entry["event"]
        if event == "telemetry":
            device_id = entry["id"]
            self.telemetry_messages += 1
            self.readings[device_id].update((boot, seq) for boot, seq in entry["keys"])
            self.spots.extend(Spot(device_id, **spot) for spot in entry["spots"])
        elif event == "birth":
            self.births[entry["id"]].append(entry["boot"])
        elif event == "offline":
            self.offline[entry["id"]].append(entry["boot"])
        elif event == "invalid":
            fields = {k: v for k, v in entry.items() if k != "event"}
            self.invalid.append(InvalidRecord(**fields | {"reason": Reason(entry["reason"])}))
        else:
            raise ValueError(f"unknown ledger event {event!r}")

    @classmethod
    def load(cls, path: Path) -> Ledger:
        """Read a ledger written by a run (``--ledger FILE``)."""
        ledger = cls()
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    ledger._apply(json.loads(line))
                except (ValueError, KeyError, TypeError) as err:
                    raise ValueError(f"{path}:{number}: not a ledger line: {err}") from err
        return ledger
