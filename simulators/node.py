"""What every simulated node shares: boot counter, sequence numbers, clock sync and outages.

A node is a pure state machine. The scenario wakes it at ``next_wake`` (simulated Unix
seconds) and gets back what it sends: a birth message when it boots, readings, and a crash
when its outage begins. Nothing here does I/O.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from random import Random
from typing import ClassVar, Final, Literal, NamedTuple

from sangsach.contract import Batch, BinReading, LampReading, Status

from .faults import DeviceFaults, Outage

FIRMWARE: Final = "sim-1"


@dataclass(frozen=True, slots=True)
class Birth:
    """The node connected: its retained birth message."""

    boot: int
    status: Status


@dataclass(frozen=True, slots=True)
class Send:
    """A telemetry message: one reading, or a batch of them."""

    message: LampReading | BinReading | Batch


@dataclass(frozen=True, slots=True)
class Crash:
    """The node dropped off the network without a goodbye; the broker sends its last will."""

    boot: int


Output = Birth | Send | Crash


class Stamp(NamedTuple):
    """The fields that identify a reading and date it."""

    id: str
    boot: int
    seq: int
    ts: int
    synced: bool


def first_boot(start: int) -> int:
    """The boot number of a node's first boot in a run starting at ``start`` (Unix seconds)."""
    return start // 60


class Node(ABC):
    kind: ClassVar[Literal["lamp", "bin"]]

    def __init__(self, device_id: str, faults: DeviceFaults, rng: Random, start: int) -> None:
        self.device_id = device_id
        # A real node keeps its boot counter in flash across power cuts. A simulated one starts
        # from the minute the run starts, so a second run against the same backend brings new
        # (id, boot, seq) keys instead of duplicates of the first run's.
        self.first_boot = first_boot(start)
        self.boot = self.first_boot - 1  # not booted yet: the first wake boots it
        self.next_wake = start
        self._rng = rng
        self._outage = faults.outage
        self._unsynced_left = faults.unsynced_readings
        self._up = False
        self._seq = 0
        self._booted_at = start
        self._reboot_at = start

    def wake(self, now: int) -> list[Output]:
        """Advance to ``now``, which is ``next_wake``, and return what the node sends."""
        if not self._up:
            outputs: list[Output] = [self._boot(now)]
        elif self._outage is not None and now >= self._outage.start:
            outputs = [self._crash(self._outage)]
        else:
            outputs = self._work(now)
        self.next_wake = self._plan(now)
        return outputs

    def _boot(self, now: int) -> Birth:
        self.boot += 1
        self._seq = 0
        self._booted_at = now
        self._up = True
        self._started(now, first=self.boot == self.first_boot)
        known_time = now if self._unsynced_left == 0 else None
        return Birth(
            self.boot,
            Status(
                id=self.device_id,
                state="online",
                kind=self.kind,
                boot=self.boot,
                fw=FIRMWARE,
                ts=known_time,
            ),
        )

    def _crash(self, outage: Outage) -> Crash:
        self._up = False
        self._reboot_at = outage.end
        self._outage = None
        self._unsynced_left = 0  # only the first boot starts without a synced clock
        return Crash(self.boot)

    def _plan(self, now: int) -> int:
        if not self._up:
            return self._reboot_at
        wake = self._next_work(now)
        return wake if self._outage is None else min(wake, self._outage.start)

    def _stamp(self, now: int) -> Stamp:
        """Number the next reading; an unsynced clock gives seconds since boot."""
        synced = self._unsynced_left == 0
        if not synced:
            self._unsynced_left -= 1
        ts = now if synced else now - self._booted_at
        stamp = Stamp(self.device_id, self.boot, self._seq, ts, synced)
        self._seq += 1
        return stamp

    @abstractmethod
    def _started(self, now: int, *, first: bool) -> None:
        """Set the timers after a boot; ``first`` is the boot at the start of the run."""

    @abstractmethod
    def _work(self, now: int) -> list[Output]:
        """Measure and report, as due at ``now``."""

    @abstractmethod
    def _next_work(self, now: int) -> int:
        """When ``_work`` is next due (at least ``now``)."""
