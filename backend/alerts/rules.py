"""Which alert conditions hold for a device at a moment. Pure: plain data and a clock.

A ``Track`` remembers what the rules need of a device's past (when its lamp went dark, when
its bin became full, its recent switches); ``observe`` updates it with each new reading and
``conditions`` reads it at a moment. Data older than three report intervals is unknown: the
device is offline and nothing else is judged, neither raised nor cleared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, NamedTuple

from ..domain.readings import StoredReading
from ..domain.rules import (
    battery_low,
    bin_emptied,
    bin_full,
    bin_overflowing,
    failed_sensors,
    lamp_lit_values,
    tenths,
)
from .model import AlertType, Thresholds

Required = Callable[[int], bool]  # is the lamp required to be lit at this Unix second?


# Hysteresis of the bin alerts: a condition, once it holds, ends only when the value is back
# past its threshold by this margin (the fill also ends with a collection). Sensor noise
# around a threshold would otherwise open and clear the alert, and text the team, over and over.
FILL_MARGIN_PCT = 10.0
TEMP_MARGIN_C = 5.0
TILT_MARGIN_DEG = 10.0
BATTERY_MARGIN_V = 0.1


@dataclass(slots=True)
class Track:
    """What the rules remember of one device's past.

    ``switches`` and ``held`` are tuples, replaced and never changed in place: so a copy may
    share them, and the garbage collector stops tracking them (the backend keeps a track per
    device, and a full collection walks all it tracks).
    """

    device_id: str
    kind: str
    last_ts: int | None = None
    last_seen: float | None = None  # gateway receive time of the latest message
    will_at: float | None = None  # the broker announced the node offline
    lit: bool | None = None
    dark_since: int | None = None
    lit_since: int | None = None
    switches: tuple[int, ...] = ()
    fill: float | None = None
    full_since: int | None = None
    temp: float | None = None
    tilt: float | None = None
    battery: float | None = None
    held: tuple[str, ...] = ()  # bin conditions holding, with hysteresis
    failed: tuple[str, ...] = ()  # sensors the latest reading reports as failed
    failed_since: int | None = None  # since when readings report failed sensors without a break

    def to_json(self) -> dict[str, Any]:
        # The track as stored, without ``asdict``'s deep copy (a batch saves every track it saw).
        data = dict(zip(_TRACK_FIELDS, _track_values(self), strict=True))
        data["switches"] = list(self.switches)
        data["held"] = list(self.held)
        data["failed"] = list(self.failed)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Track:
        track = cls(**data)  # a track saved before a field existed takes its default
        track.switches = tuple(track.switches)
        track.held = tuple(track.held)
        track.failed = tuple(track.failed)
        return track

    def copy(self) -> Track:
        # Shallow, and so cheap enough for every track of every batch (see the tuples).
        return Track(*_track_values(self))


_TRACK_FIELDS = tuple(f.name for f in fields(Track))
_track_values: Callable[[Track], tuple[Any, ...]] = attrgetter(*_TRACK_FIELDS)
# A track's freshness: its newest reading's time and when it last heard from the device. The
# ingest keeps both in ``device_state`` too, so a batch that moved only these need not save the
# track (alerts/engine.py, ``_unsaved``).
FRESHNESS = ("last_ts", "last_seen")
_track_rest: Callable[[Track], tuple[Any, ...]] = attrgetter(
    *(name for name in _TRACK_FIELDS if name not in FRESHNESS)
)


# A bin's newest values, each the newest reading's own (``observe`` keeps the one before when a
# reading lacks it): ``device_state`` holds that reading too, so a batch that moved only these
# besides the freshness need not save the track either (``newest_kept``, ``take_newest``).
NEWEST = {"fill": "fill_pct", "temp": "temp_c", "tilt": "tilt_deg", "battery": "battery_v"}
_track_history: Callable[[Track], tuple[Any, ...]] = attrgetter(
    *(name for name in _TRACK_FIELDS if name not in FRESHNESS and name not in NEWEST)
)


freshness: Callable[[Track], tuple[Any, ...]] = attrgetter(*FRESHNESS)


def same_but_freshness(a: Track, b: Track) -> bool:
    """The two tracks differ at most in their freshness."""
    return _track_rest(a) == _track_rest(b)


def same_history(a: Track, b: Track) -> bool:
    """The two tracks differ at most in their freshness and their newest values (``NEWEST``)."""
    return _track_history(a) == _track_history(b)


def newest_kept(track: Track, values: dict[str, Any]) -> bool:
    """Whether ``take_newest`` of a reading's ``values`` gives a track read back from SQL the
    newest values this one holds, whatever older ones the stored row has: each is that
    reading's own, or None (never measured: a value once set is never None again)."""
    for name, key in NEWEST.items():
        mine = getattr(track, name)
        if mine is not None and mine != _number(values.get(key), None):
            return False
    return True


def take_newest(track: Track, values: dict[str, Any]) -> None:
    """Take the newest values of the device's newest stored reading, as ``observe`` does."""
    for name, key in NEWEST.items():
        setattr(track, name, _number(values.get(key), getattr(track, name)))


def catch_up(track: Track, ts: int | None, last_seen: float | None) -> bool:
    """Take the device's newest stored reading (``device_state``) into a track read back from
    SQL: its freshness, when the track was not saved for it. Never moves the track back.
    Returns whether that reading is newer than the track's (then its newest values are due:
    ``take_newest``)."""
    behind = ts is not None and (track.last_ts is None or ts > track.last_ts)
    if behind:
        track.last_ts = ts
    if last_seen is not None and (track.last_seen is None or last_seen > track.last_seen):
        track.last_seen = last_seen
    return behind


class Conditions(NamedTuple):
    """What holds, and what cannot be judged now. A named tuple: one is made for every device
    of every batch, in a third of a frozen dataclass's time."""

    holding: frozenset[AlertType]
    unknown: frozenset[AlertType]  # not judged now: the device's data is stale


def observe(track: Track, reading: StoredReading, received_at: float, th: Thresholds) -> int | None:
    """Take a reading into the track. Returns the time of a collection if it shows one.

    Readings older than the latest one seen (a node's buffer replayed late) are stored, but
    they do not move the device's state back.
    """
    track.last_seen = max(track.last_seen or 0.0, received_at)
    track.will_at = None
    if track.last_ts is not None and reading.ts < track.last_ts:
        return None
    track.last_ts = reading.ts
    values = reading.values
    failed = failed_sensors(values)
    if failed:
        track.failed_since = track.failed_since if track.failed else reading.ts
    else:
        track.failed_since = None
    track.failed = failed
    if reading.kind == "lamp":
        _observe_lamp(track, reading.ts, lamp_lit_values(values, th), th)
        return None
    return _observe_bin(track, reading.ts, values, th)


def _observe_lamp(track: Track, ts: int, lit: bool, th: Thresholds) -> None:
    if track.lit is not None and lit != track.lit:
        track.switches = (*[t for t in track.switches if t > ts - th.cycling_window_s], ts)
    if lit:
        track.dark_since = None
        track.lit_since = track.lit_since if track.lit else ts
    else:
        track.lit_since = None
        track.dark_since = track.dark_since if track.lit is False else ts
    track.lit = lit


def _observe_bin(track: Track, ts: int, values: dict[str, Any], th: Thresholds) -> int | None:
    fill = values.get("fill_pct")
    collected = None
    if isinstance(fill, float | int):
        if track.fill is not None and bin_emptied(track.fill, fill, th):
            collected = ts
        emptied = collected is not None
        _hold(
            track,
            AlertType.BIN_FULL,
            bin_full(fill, th),
            emptied or tenths(fill) < tenths(th.bin_full_pct - FILL_MARGIN_PCT),
        )
        _hold(
            track,
            AlertType.BIN_OVERFLOW,
            bin_overflowing(fill, th),
            emptied or tenths(fill) < tenths(th.bin_overflow_pct - FILL_MARGIN_PCT),
        )
        full = AlertType.BIN_FULL in track.held
        track.full_since = (track.full_since or ts) if full else None
    take_newest(track, values)  # fill, temp, tilt, battery: the reading's, else as they were
    if track.temp is not None:
        _hold(
            track,
            AlertType.FIRE,
            track.temp >= th.fire_temp_c,
            track.temp < th.fire_temp_c - TEMP_MARGIN_C,
        )
    if track.tilt is not None:
        _hold(
            track,
            AlertType.TILTED,
            track.tilt >= th.tilt_deg,
            track.tilt < th.tilt_deg - TILT_MARGIN_DEG,
        )
    if track.battery is not None:
        _hold(
            track,
            AlertType.BATTERY_LOW,
            battery_low(track.battery, th),
            track.battery > th.battery_low_v + BATTERY_MARGIN_V,
        )
    return collected


def _hold(track: Track, type_: AlertType, on: bool, off: bool) -> None:
    """Latch a bin condition: it starts at its threshold and ends only past the margin."""
    if on and type_ not in track.held:
        track.held = (*track.held, type_)
    elif off and not on and type_ in track.held:
        track.held = tuple(name for name in track.held if name != type_)


def _number(value: Any, previous: float | None) -> float | None:
    return float(value) if isinstance(value, float | int) else previous


def went_offline(track: Track, at: float) -> None:
    track.will_at = at


def came_online(track: Track, at: float) -> None:
    track.will_at = None
    track.last_seen = max(track.last_seen or 0.0, at)


def conditions(track: Track, now: int, required: Required, th: Thresholds) -> Conditions:
    lamp = track.kind == "lamp"
    judged = LAMP_JUDGED if lamp else BIN_JUDGED
    interval = th.lamp_report_interval_s if lamp else th.bin_report_interval_s
    silent = track.last_seen is None or now - track.last_seen > th.offline_intervals * interval
    if track.will_at is not None or (silent and track.last_seen is not None):
        return Conditions(_OFFLINE, judged)
    if track.last_seen is None:  # never heard from: nothing to say yet
        return Conditions(_NONE, judged)
    device = _device(track, now, th)
    if not lamp:
        found = _bin(track, now, th)
        return Conditions(found | device if device else found, _NONE)
    # Every lamp of every batch is judged (docs/decisions.md): the sets here are shared
    # constants where they can be, and the schedule is asked about ``now`` once.
    required_now = required(now)
    found = _lamp(track, now, required_now, required, th)
    return Conditions(found | device if device else found, _lamp_unknown(track, required_now))


_NONE: frozenset[AlertType] = frozenset()
_OFFLINE = frozenset({AlertType.DEVICE_OFFLINE})
_SENSOR_FAULT = frozenset({AlertType.SENSOR_FAULT})
_LAMP_FAULT = frozenset({AlertType.LAMP_FAULT})
_DAY_BURNING = frozenset({AlertType.DAY_BURNING})


def _device(track: Track, now: int, th: Thresholds) -> frozenset[AlertType]:
    """Conditions of the node itself, lamp or bin: a sensor that keeps failing."""
    since = track.failed_since
    if track.failed and since is not None and now - since >= th.sensor_fault_debounce_s:
        return _SENSOR_FAULT
    return _NONE


def _lamp(
    track: Track, now: int, required_now: bool, required: Required, th: Thresholds
) -> frozenset[AlertType]:
    found = []
    debounce = th.lamp_fault_debounce_s
    if (
        track.dark_since is not None
        and required_now
        and required(now - debounce)
        and now - track.dark_since >= debounce
    ):
        found.append(AlertType.LAMP_FAULT)
    burn = th.day_burning_debounce_s
    if (
        track.lit_since is not None
        and not required_now
        and not required(now - burn)
        and now - track.lit_since >= burn
    ):
        found.append(AlertType.DAY_BURNING)
    switches = track.switches
    if len(switches) >= th.cycling_switches:  # never more recent switches than switches
        since = now - th.cycling_window_s
        if sum(1 for t in switches if t > since) >= th.cycling_switches:
            found.append(AlertType.CYCLING)
    return frozenset(found) if found else _NONE


def _lamp_unknown(track: Track, required_now: bool) -> frozenset[AlertType]:
    """A dark lamp by day says nothing about its fault, nor a lit lamp by night about burning
    by day: those alerts stay as they are until the lamp shows otherwise."""
    if required_now:
        return _NONE if track.lit is False else _DAY_BURNING
    return _NONE if track.lit else _LAMP_FAULT


def _bin(track: Track, now: int, th: Thresholds) -> frozenset[AlertType]:
    overdue = track.full_since is not None and now - track.full_since >= th.collection_sla_s
    if not track.held and not overdue:
        return _NONE
    found = {AlertType(name) for name in track.held}
    if overdue:
        found.add(AlertType.BIN_OVERDUE)
    return frozenset(found)


LAMP_JUDGED = frozenset(
    {AlertType.LAMP_FAULT, AlertType.DAY_BURNING, AlertType.CYCLING, AlertType.SENSOR_FAULT}
)
BIN_JUDGED = frozenset(
    {
        AlertType.BIN_FULL,
        AlertType.BIN_OVERFLOW,
        AlertType.BIN_OVERDUE,
        AlertType.FIRE,
        AlertType.TILTED,
        AlertType.BATTERY_LOW,
        AlertType.SENSOR_FAULT,
    }
)
