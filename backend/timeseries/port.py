"""The time-series port: what the backend asks of a store of readings, whatever the engine.

Times are Unix seconds; a range is ``start`` inclusive, ``end`` exclusive, either may be open.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from types import NoneType, TracebackType
from typing import Any, Literal, Self, get_args, get_origin

from pydantic import BaseModel

from sangsach.contract import BinReading, LampReading

from ..domain.readings import (
    FIELDS,
    AlertEvent,
    DailyScore,
    DevicePoint,
    StatusEvent,
    StoredReading,
    Value,
    sensor_errors_text,
)

Kind = Literal["lamp", "bin"]
KINDS: tuple[Kind, ...] = ("lamp", "bin")
FieldType = type[bool] | type[int] | type[float] | type[str]
Window = tuple[int, int]  # [a, b) in Unix seconds


@dataclass(frozen=True, slots=True)
class DailySums:
    days: int  # rows summed
    sums: dict[str, int | float]  # a field absent from every row sums to 0
    last: dict[str, int | float | None]


class TimeSeriesError(Exception):
    """The store refused an operation; the message carries the store's own reason."""


class TimeSeriesUnavailable(TimeSeriesError):
    """The store could not be reached or failed on its side: the same call may succeed later."""


class TimeSeriesStore(ABC):
    """Readings and status events of the nodes, kept by an adapter (SQLite, InfluxDB).

    A reading's identity is ``(device_id, boot, seq)`` and its content, ``ts`` included, is fixed
    by that key, so writing a batch again after a failure or a redelivery stores nothing twice.
    Values are stored as the wire contract types them (``lux`` given as ``120`` reads back as
    ``120.0``), and a kind's fields absent from ``values`` read back as None.
    """

    @abstractmethod
    def ensure_ready(self) -> None:
        """Create the database and tables if missing; safe to call at every start."""

    @abstractmethod
    def write(self, readings: Sequence[StoredReading]) -> None: ...

    @abstractmethod
    def write_statuses(self, events: Sequence[StatusEvent]) -> None:
        """Keep one event per device and second; a later write for that second replaces it."""

    @abstractmethod
    def write_daily_scores(self, scores: Sequence[DailyScore]) -> None:
        """Keep one row per village and day; writing a day again replaces it."""

    @abstractmethod
    def daily_scores(self, *, start: int | None = None, end: int | None = None) -> list[DailyScore]:
        """Daily scores whose day starts in the range, by day then village."""

    @abstractmethod
    def daily_sums(
        self, summed: Sequence[str], last: Sequence[str], *, start: int, end: int
    ) -> dict[str, DailySums]:
        """Per village, over the daily rows whose day starts in [start, end): how many rows,
        the sum of each ``summed`` field and the latest row's value of each ``last`` field
        (None where no row has it). Aggregated by the engine: a province's year is one answer
        per village, not a row per village and day. Rows are counted by the first ``summed``
        field (which must be given): rows without it are not counted, and villages without
        any are left out."""

    @abstractmethod
    def write_device_points(self, points: Sequence[DevicePoint]) -> None:
        """Keep one map point per device and second; a later write for that second replaces it."""

    @abstractmethod
    def device_points(
        self, *, start: int | None = None, end: int | None = None
    ) -> list[DevicePoint]:
        """Map points in the range, by time then device."""

    @abstractmethod
    def write_alert_events(self, events: Sequence[AlertEvent]) -> None:
        """Keep alert openings and clearings; writing one twice keeps it once."""

    @abstractmethod
    def alert_events(self, *, start: int | None = None, end: int | None = None) -> list[AlertEvent]:
        """Alert events in the range, oldest first."""

    @abstractmethod
    def count(
        self,
        *,
        kind: str | None = None,
        device_id: str | None = None,
        village_id: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> int: ...

    @abstractmethod
    def readings(
        self,
        device_id: str,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int = 10_000,
    ) -> list[StoredReading]:
        """The device's first ``limit`` readings in the range, ordered by (ts, boot, seq)."""

    @abstractmethod
    def series(
        self,
        kind: Kind,
        device_ids: Sequence[str],
        names: Sequence[str],
        *,
        start: int | None = None,
        end: int | None = None,
        within: Sequence[Window] | None = None,
    ) -> dict[str, list[tuple[Any, ...]]]:
        """Per device, ``(ts, *values of names)`` of its ``kind`` readings, as ``readings`` orders.

        The scores' path: a year of a village's readings as plain tuples, in one query, instead
        of a ``StoredReading`` each. Every id is a key (``[]`` without readings). A value may come
        back as the store keeps it (a bool as 0 or 1, a whole float as an int): equal, not
        typed, to what ``readings`` gives; an absent value is None.

        ``within``, sorted ``[a, b)`` windows that do not overlap (``check_windows``), keeps only
        the readings inside one of them as well as inside [start, end): the Sáng walk reads only
        the samples near the required lighting, about half a year's. ``[]`` keeps nothing. An
        adapter that cannot push the windows into its engine filters with ``keep_within``.
        """

    @abstractmethod
    def last_before(
        self, kind: Kind, device_ids: Sequence[str], names: Sequence[str], before: int
    ) -> dict[str, tuple[Any, ...] | None]:
        """Per device, ``(ts, *values of names)`` of its last ``kind`` reading before ``before``
        however old, or None: the baseline a walk over later readings starts from."""

    @abstractmethod
    def first_seen(self, kind: Kind, device_ids: Sequence[str]) -> dict[str, int | None]:
        """Per device, the ``ts`` of its first ``kind`` reading, or None without any."""

    @abstractmethod
    def keys(
        self, device_id: str, *, start: int | None = None, end: int | None = None
    ) -> set[tuple[int, int]]:
        """The ``(boot, seq)`` of the device's readings in the range."""

    @abstractmethod
    def statuses(
        self, device_id: str, *, start: int | None = None, end: int | None = None
    ) -> list[StatusEvent]:
        """The device's status events in the range, oldest first."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def kinds(kind: str | None) -> tuple[Kind, ...]:
    """The kinds a ``kind`` filter selects; an unknown kind is a caller's mistake."""
    if kind is None:
        return KINDS
    for known in KINDS:
        if kind == known:
            return (known,)
    raise ValueError(f"kind must be one of {', '.join(KINDS)} or None: {kind!r}")


def check_names(kind: Kind, names: Sequence[str]) -> None:
    """``series`` asks only for the kind's fields."""
    unknown = [name for name in names if name not in FIELDS[kind]]
    if unknown:
        raise ValueError(f"{kind} readings have no fields {unknown}: {', '.join(FIELDS[kind])}")


def check_windows(within: Sequence[Window]) -> None:
    """``within`` of ``series``: each window not empty, each after the one before it."""
    previous = None
    for a, b in within:
        if not a < b or (previous is not None and a < previous):
            raise ValueError(f"windows must be sorted, not empty and not overlapping: {within!r}")
        previous = b


def clip_windows(within: Sequence[Window], start: int | None, end: int | None) -> list[Window]:
    """The parts of the windows inside [start, end), either open; empty parts dropped."""
    out = []
    for a, b in within:
        a = a if start is None or a >= start else start
        b = b if end is None or b <= end else end
        if a < b:
            out.append((a, b))
    return out


def keep_within(rows: list[tuple[Any, ...]], within: Sequence[Window]) -> list[tuple[Any, ...]]:
    """The rows, sorted by ``ts`` first, whose ``ts`` lies in a window: one slice per window.

    The port's own way to honour ``series(within=...)``, correct for any adapter; bisection keeps
    it to a few steps per window rather than a test per row.
    """
    out: list[tuple[Any, ...]] = []
    at = itemgetter(0)
    i = 0
    for a, b in within:
        i = bisect_left(rows, a, i, key=at)
        j = bisect_left(rows, b, i, key=at)
        out.extend(rows[i:j])
        i = j
    return out


def _stored_type(model: type[BaseModel], name: str) -> FieldType:
    # The wire model is the one source of truth for a field's type; `float | None` -> float.
    annotation = model.model_fields[name].annotation
    (stored,) = [t for t in get_args(annotation) or (annotation,) if t is not NoneType]
    if stored is bool or stored is int or stored is float:
        return stored
    if get_origin(stored) is list:  # sensor_errors: kept as text (sensor_errors_text)
        return str
    raise TypeError(f"field {name} of {model.__name__} has no storable type: {annotation}")


FIELD_TYPES: dict[str, FieldType] = {
    name: _stored_type(model, name)
    for kind, model in (("lamp", LampReading), ("bin", BinReading))
    for name in FIELDS[kind]
}


def coerce(name: str, value: object) -> Value:
    """``value`` as field ``name``'s contract type: InfluxDB's JSON returns 1.0 as 1."""
    if value is None:
        return None
    typed = FIELD_TYPES[name]
    if typed is str:
        if isinstance(value, list | tuple):
            return sensor_errors_text(value)
        if not isinstance(value, str):
            raise TypeError(f"field {name} holds a {type(value).__name__}: {value!r}")
        return value or None
    if not isinstance(value, bool | int | float):
        raise TypeError(f"field {name} holds a {type(value).__name__}: {value!r}")
    return typed(value)


# Flags that are false unless set: a lamp's ``fault`` (the contract's default is false, and
# nearly every reading says so). Stored as a bool, None counting as false; InfluxDB writes the
# field only when true, as ``synced`` only when false, and reads it back false when left out
# (an eighth less of influxd's CPU a lamp point: docs/performance.md).
STORED_WHEN_TRUE: frozenset[str] = frozenset({"fault"})


def stored_values(reading: StoredReading) -> dict[str, Value]:
    """Every field of the reading's kind as stored: typed as the contract says, None when absent
    (but a flag of ``STORED_WHEN_TRUE``: false).

    Typing matters beyond neatness: InfluxDB fixes a field's type at its first write, so a lux of
    ``120`` sent as an integer would make every later ``120.5`` a field type conflict.
    """
    names = FIELDS[reading.kind]
    unknown = set(reading.values) - set(names)
    if unknown:
        raise ValueError(f"{reading.kind} {reading.device_id} has unknown fields {sorted(unknown)}")
    return {name: as_stored(name, reading.values.get(name)) for name in names}


def as_stored(name: str, value: object) -> Value:
    """Field ``name``'s value as a store keeps it and gives it back: its contract type, None
    when absent; a flag of ``STORED_WHEN_TRUE`` true or false (left out, or None: false)."""
    if name in STORED_WHEN_TRUE:
        return coerce(name, value) is True
    return coerce(name, value)
