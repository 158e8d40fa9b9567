"""Deliberately invalid messages, each tagged with the reason the gateway must give it.

They are mixed into the stream so that a run exercises the gateway's dead-letter path. None of
them carries the key (id, boot, seq) of a valid reading: their seq numbers start at
``BAD_SEQ_BASE``, which no node reaches, and each is unique in the run (its ``tag``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from random import Random
from typing import Any, Final

from sangsach.config import GatewaySettings
from sangsach.contract import Reason, topic

from .faults import Kind

BAD_SEQ_BASE: Final = 1_000_000_000
GATEWAY_MAX_PAYLOAD: Final[int] = GatewaySettings.model_fields["max_payload_bytes"].default
FUTURE_S: Final = 86_400
STRANGERS: Final = 3  # devices, not in the registry, that publish readings

REASONS: Final = (
    Reason.MALFORMED_JSON,
    Reason.SCHEMA,
    Reason.UNKNOWN_DEVICE,
    Reason.OVERSIZED,
    Reason.ID_MISMATCH,
    Reason.FUTURE_TS,
)
# Field values the contract refuses: out of limits, or of the wrong type.
_BROKEN: Final[dict[Kind, tuple[dict[str, Any], ...]]] = {
    "lamp": ({"voltage_v": 999.0}, {"on": "yes"}),
    "bin": ({"fill_pct": 150.0}, {"fill_pct": "full"}),
}


@dataclass(frozen=True, slots=True)
class BadMessage:
    sender: str  # the MQTT client that publishes it
    topic: str
    payload: bytes
    reason: Reason
    tag: int


def _reading(device_id: str, kind: Kind, boot: int, seq: int, ts: int) -> dict[str, Any]:
    """A reading that passes the contract, to be spoiled in one way."""
    head = {"id": device_id, "kind": kind, "boot": boot, "seq": seq, "ts": ts}
    if kind == "lamp":
        return head | {"on": False, "current_a": 0.0, "voltage_v": 230.0}
    return head | {"fill_pct": 50.0, "distance_cm": 50.0}


def _encode(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _malformed(body: dict[str, Any], rng: Random) -> bytes:
    text = _encode(body)
    variants = (
        text[:-1],  # cut short (and still unique: it keeps its tag)
        b"\xc3\x28" + text,  # not UTF-8
        _encode([body]),  # JSON, but not an object
    )
    return rng.choice(variants)


def stranger_ids(devices: Mapping[str, Kind]) -> tuple[tuple[str, Kind], ...]:
    """Ids, with their kind, that are not in the registry."""
    found: list[tuple[str, Kind]] = []
    number = 0
    while len(found) < STRANGERS:
        number += 1
        kind: Kind = "lamp" if number % 2 else "bin"
        candidate = f"{kind}-unregistered-{number:02d}"
        if candidate not in devices:
            found.append((candidate, kind))
    return tuple(found)


class BadMessages:
    """The stream of invalid messages of one run, drawn from its own seeded random stream."""

    def __init__(
        self,
        devices: Mapping[str, Kind],
        *,
        seed: int,
        rate: float,
        wall: Callable[[], float],
    ) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"bad_rate must be at least 0 and below 1, got {rate}")
        self._rng = Random(f"{seed}/invalid")
        self._rate = rate
        self._wall = wall
        self._kinds = dict(devices)
        self._ids = sorted(devices)
        self._ids_of: dict[Kind, list[str]] = {
            kind: [d for d in self._ids if devices[d] == kind] for kind in ("lamp", "bin")
        }
        self.strangers = stranger_ids(devices)
        # A mistaken id needs a second device to be mistaken for.
        self._reasons = tuple(r for r in REASONS if len(devices) > 1 or r is not Reason.ID_MISMATCH)
        self._count = 0

    def after(self, device_id: str, boot: int, now: int) -> list[BadMessage]:
        """The invalid messages a node sends right after a valid one.

        There are ``rate / (1 - rate)`` of them on average, so that they make ``rate`` of all
        telemetry messages.
        """
        messages = []
        while self._rate and self._rng.random() < self._rate:
            reason = self._rng.choice(self._reasons)
            messages.append(self._make(reason, device_id, boot, now))
        return messages

    def _make(self, reason: Reason, device_id: str, boot: int, now: int) -> BadMessage:
        rng = self._rng
        tag = BAD_SEQ_BASE + self._count
        self._count += 1
        sender, kind = device_id, self._kinds[device_id]
        body = _reading(device_id, kind, boot, tag, now)
        if reason is Reason.SCHEMA:
            body |= rng.choice(_BROKEN[kind])
        elif reason is Reason.UNKNOWN_DEVICE:
            sender, kind = rng.choice(self.strangers)
            body = _reading(sender, kind, 1, tag, now)
        elif reason is Reason.OVERSIZED:
            body["pad"] = "x" * GATEWAY_MAX_PAYLOAD
        elif reason is Reason.ID_MISMATCH:
            other = self._other_than(device_id)
            body = _reading(other, self._kinds[other], 1, tag, now)
        elif reason is Reason.FUTURE_TS:
            # Against the real clock: the simulated one may be days behind it.
            body["ts"] = int(self._wall()) + FUTURE_S
        payload = _malformed(body, rng) if reason is Reason.MALFORMED_JSON else _encode(body)
        return BadMessage(sender, topic(sender, "telemetry"), payload, reason, tag)

    def _other_than(self, device_id: str) -> str:
        """A device this one may be mistaken for: one of the same kind when there is one."""
        same_kind = self._ids_of[self._kinds[device_id]]
        candidates = same_kind if len(same_kind) > 1 else self._ids
        other = device_id
        while other == device_id:
            other = self._rng.choice(candidates)
        return other
