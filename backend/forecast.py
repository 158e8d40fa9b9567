"""When will a bin be full: a forecast from the bin's own history (docs/decisions.md).

Method, pure and deterministic:

1. From the bin's readings of the last ``HISTORY_DAYS`` days, take **fill increments** of about
   an hour: the rise of ``fill_pct`` from an anchor reading to the first reading at least
   ``STEP_S`` later, in percentage points per hour. An increment is not taken across a
   collection (a drop of ``bin_emptied_drop_pct``, the rule of ``domain/rules.py``, or of
   ``BREAK_DROP_PCT`` between two readings: a bin emptied little filled), across a
   gap of more than ``MAX_GAP_S`` without readings, nor when it ends at the brim (a full bin
   stops rising: its rate would be too low).
2. Each increment is filed under the **local weekday** and the **band of the day** (four bands
   of six hours) of its middle. The rate of a cell is the **median** of its increments: robust
   to the sensor's noise, to a bag thrown in at once and to a half-missed collection. A cell
   with fewer than ``MIN_SAMPLES`` increments uses the weekday's median, then the median of
   all: a new bin forecasts from its first day and learns its weekdays over the weeks.
3. The **season** is followed by the window: only the last four weeks count, so the harvest, a
   festival month or Tết move the rates within two weeks. A table by season needs a year of
   history, which no installation has yet.
4. The **fill at a later time** is the last reading's fill plus the cell rates hour by hour;
   the **time it is full** is when that reaches the bin's full threshold (``bin_full_pct``),
   within ``HORIZON_S``; never, when the rates do not get there.

The error is measured by ``evaluate`` on held-out data: from each reading of a held-out week,
the fill forecast a day later against the fill read then (tests/unit/test_forecast.py, on the
simulated bins of ``simulators/wastebin.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from operator import itemgetter
from typing import TYPE_CHECKING, Final

from sangsach.sun import VIETNAM

from .domain.rules import Thresholds, bin_emptied

HISTORY_DAYS: Final = 28
STEP_S: Final = 3600  # an increment spans at least this
MAX_GAP_S: Final = 3 * 3600  # readings further apart: no increment across
BANDS: Final = 4  # of six hours: night, morning, afternoon, evening
MIN_SAMPLES: Final = 4
BRIM_PCT: Final = 99.0  # an increment ending here is cut by the brim
# A fall this large between two readings is waste taken out, not the sensor's noise (about a
# point): a collection of a bin that was little filled, which ``bin_emptied`` does not count.
BREAK_DROP_PCT: Final = 8.0
HORIZON_S: Final = 14 * 86_400

Cell = tuple[int, int]  # (weekday 0 = Monday, band)

# NumPy is imported by the functions that compute, not with the module: 11 MB of a backend's
# memory that only fitting a model needs (docs/performance.md, "Issue 22: the backend back
# under 250 MB").
if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Ints = npt.NDArray[np.int64]
    Floats = npt.NDArray[np.float64]


def cell_of(ts: float, tz: tzinfo = VIETNAM) -> Cell:
    local = datetime.fromtimestamp(ts, tz)
    return local.weekday(), local.hour * BANDS // 24


def increments(
    rows: Iterable[tuple[int, float | None]], th: Thresholds, tz: tzinfo = VIETNAM
) -> list[tuple[Cell, float]]:
    """``(cell, rate in points an hour)`` of a bin's readings ``(ts, fill_pct)``, oldest first."""
    mid, rate = _increments(*_arrays(rows), th)
    weekday, band = _cells(mid, tz)
    cells = zip(weekday.tolist(), band.tolist(), strict=True)
    return list(zip(cells, rate.tolist(), strict=True))


def model_of(
    rows: Iterable[tuple[int, float | None]], th: Thresholds, tz: tzinfo = VIETNAM
) -> FillModel | None:
    """``fit(increments(rows, th, tz))`` without a Python object per reading or increment: the
    backend's path, for a month of readings of every bin (docs/performance.md)."""
    mid, rate = _increments(*_arrays(rows), th)
    weekday, band = _cells(mid, tz)
    return _fit(weekday * BANDS + band, rate)


def _arrays(rows: Iterable[tuple[int, float | None]]) -> tuple[Ints, Floats]:
    """``ts`` (``int(ts)``: whole seconds) and ``fill_pct`` of the readings that have a fill
    (None, or NaN, is a reading without)."""
    import numpy as np

    rows = rows if isinstance(rows, Sequence) else list(rows)
    ts = np.fromiter(map(itemgetter(0), rows), np.int64, len(rows))  # toward zero, as int()
    fill = np.array(list(map(itemgetter(1), rows)), np.float64)  # None: NaN
    measured = ~np.isnan(fill)
    return ts[measured], fill[measured]


def _increments(t: Ints, f: Floats, th: Thresholds) -> tuple[Floats, Floats]:
    """The middle time and the rate of each increment, in time order.

    A stretch of readings starts at the first, after a gap of more than ``MAX_GAP_S`` and after
    waste was taken out (``_breaks``). In each stretch the anchor steps from its first reading
    to the first one at least ``STEP_S`` later, and on from there; each step is an increment,
    unless it ends at the brim."""
    import numpy as np

    n = len(t)
    if n < 2:
        return np.zeros(0, np.float64), np.zeros(0, np.float64)
    if bool(np.any(t[1:] < t[:-1])):
        raise ValueError("readings: ts must be oldest first")
    cut = (t[1:] - t[:-1] > MAX_GAP_S) | _breaks(f, th)
    starts = np.flatnonzero(np.concatenate(([True], cut))).tolist()
    after = np.searchsorted(t, t + STEP_S, side="left").tolist()
    anchors: list[int] = []
    ends: list[int] = []
    for first, stop in zip(starts, [*starts[1:], n], strict=True):
        a, k = first, after[first]
        while k < stop:
            anchors.append(a)
            ends.append(k)
            a, k = k, after[k]
    a_ix = np.array(anchors, dtype=np.intp)
    k_ix = np.array(ends, dtype=np.intp)
    kept = f[k_ix] < BRIM_PCT
    a_ix, k_ix = a_ix[kept], k_ix[kept]
    span = t[k_ix] - t[a_ix]
    # the float operations of one increment at a time, in the same order: the same results
    return t[a_ix] + span / 2, (f[k_ix] - f[a_ix]) * 3600 / span


def _cells(ts: Floats, tz: tzinfo) -> tuple[Ints, Ints]:
    """``cell_of`` of each time: by arithmetic when the zone's offset stays the same over the
    span (Vietnam's has been UTC+7 since 1975), else one at a time."""
    import numpy as np

    if len(ts) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first, last = float(ts.min()), float(ts.max())
    offsets = {_offset_s(x, tz) for x in [*np.arange(first, last, 43_200.0).tolist(), last]}
    if len(offsets) > 1:
        cells = [cell_of(x, tz) for x in ts.tolist()]
        return np.array([c[0] for c in cells], np.int64), np.array([c[1] for c in cells], np.int64)
    local = ts + offsets.pop()
    day = np.floor_divide(local, 86_400)
    hour = np.floor_divide(local - day * 86_400, 3600).astype(np.int64)
    weekday = (day.astype(np.int64) + 3) % 7  # 1 January 1970 was a Thursday
    return weekday, hour * BANDS // 24


def _offset_s(ts: float, tz: tzinfo) -> float:
    offset = datetime.fromtimestamp(ts, tz).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def _breaks(f: Floats, th: Thresholds) -> npt.NDArray[np.bool_]:
    """Between each two readings of fills ``f``: was waste taken out? A collection, or less
    (docs/decisions.md)."""
    import numpy as np

    drop = f[:-1] - f[1:]
    cut = drop >= BREAK_DROP_PCT
    # the rule in tenths only near its threshold, where it can differ
    for k in np.flatnonzero(~cut & (drop > th.bin_emptied_drop_pct - 0.2)).tolist():
        cut[k] = bin_emptied(float(f[k]), float(f[k + 1]), th)
    return cut


@dataclass(frozen=True, slots=True)
class FillModel:
    """Median fill rates (points an hour) by cell, by weekday, and overall."""

    cells: dict[Cell, float]
    weekdays: dict[int, float]
    overall: float
    samples: int

    def rate(self, cell: Cell) -> float:
        if cell in self.cells:
            return self.cells[cell]
        return self.weekdays.get(cell[0], self.overall)

    def per_day(self) -> float:
        """The average rise in a day over the week, points (for people to read)."""
        return sum(self.rate((d, b)) for d in range(7) for b in range(BANDS)) * 24 / BANDS / 7


def fit(found: Sequence[tuple[Cell, float]]) -> FillModel | None:
    """The model of a bin's increments; None with fewer than ``MIN_SAMPLES``."""
    import numpy as np

    keys = np.fromiter((d * BANDS + b for (d, b), _ in found), np.int64, len(found))
    return _fit(keys, np.fromiter((rate for _, rate in found), np.float64, len(found)))


def _fit(keys: Ints, rates: Floats) -> FillModel | None:
    """The model from each increment's cell (``weekday * BANDS + band``) and rate."""
    import numpy as np

    if len(rates) < MIN_SAMPLES:
        return None
    cells = _medians(keys, rates)
    return FillModel(
        {(k // BANDS, k % BANDS): rate for k, rate in cells.items()},
        _medians(keys // BANDS, rates),
        _medians(np.zeros(len(rates), np.int64), rates)[0],
        len(rates),
    )


def _medians(keys: Ints, values: Floats) -> dict[int, float]:
    """Per key with at least ``MIN_SAMPLES`` values, their median (``statistics.median``'s:
    the middle one, or the mean of the two in the middle), at least 0: waste does not shrink
    in a bin."""
    import numpy as np

    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    found, first, count = np.unique(keys, return_index=True, return_counts=True)
    enough = count >= MIN_SAMPLES
    found, first, count = found[enough], first[enough], count[enough]
    middle = (values[first + (count - 1) // 2] + values[first + count // 2]) / 2
    return dict(zip(found.tolist(), np.maximum(middle, 0.0).tolist(), strict=True))


def _steps(start: int, until: int) -> Iterable[tuple[int, int]]:
    """``[a, b)`` pieces of ``[start, until)`` that end on the hour."""
    a = start
    while a < until:
        b = min(until, (a // 3600 + 1) * 3600)
        yield a, b
        a = b


def project(model: FillModel, ts: int, fill: float, until: int, tz: tzinfo = VIETNAM) -> float:
    """The fill at ``until`` of a bin that read ``fill`` at ``ts``, capped at 100."""
    level = fill
    for a, b in _steps(ts, until):
        level += model.rate(cell_of(a, tz)) * (b - a) / 3600
        if level >= 100.0:
            return 100.0
    return level


def full_at(
    model: FillModel, ts: int, fill: float, full_pct: float, tz: tzinfo = VIETNAM
) -> int | None:
    """When a bin that read ``fill`` at ``ts`` reaches ``full_pct``: ``ts`` when it has, None
    when the rates do not get there within ``HORIZON_S``."""
    if fill >= full_pct:
        return ts
    level = fill
    for a, b in _steps(ts, ts + HORIZON_S):
        rate = model.rate(cell_of(a, tz))
        rise = rate * (b - a) / 3600
        if level + rise >= full_pct:
            return a + int((full_pct - level) / rate * 3600)
        level += rise
    return None


@dataclass(frozen=True, slots=True)
class Evaluation:
    cases: int
    mae_pct: float  # mean absolute error of the forecast fill, percentage points
    bias_pct: float  # mean of forecast minus read


def evaluate(
    model: FillModel,
    rows: Sequence[tuple[int, float | None]],
    th: Thresholds,
    *,
    horizon_s: int = 86_400,
    every_s: int = 3600,
    tz: tzinfo = VIETNAM,
) -> Evaluation:
    """The fill forecast ``horizon_s`` ahead from readings of ``rows`` (one each ``every_s``),
    against the reading then (within 15 minutes). Pairs with a collection between them, or
    read at the brim, are left out: the forecast is of the fill, not of the crew."""
    import numpy as np

    readings = [(int(t), float(f)) for t, f in rows if f is not None]
    # breaks before reading j: breaks[j] - breaks[i] of them between readings i and j
    fills = np.array([f for _, f in readings], np.float64)
    found = _breaks(fills, th).tolist() if len(fills) > 1 else []
    breaks = [0, *itertools.accumulate(int(x) for x in found)]
    errors: list[float] = []
    last_from = -every_s
    j = 0
    for i, (ts, fill) in enumerate(readings):
        if ts - last_from < every_s:
            continue
        target = ts + horizon_s
        j = max(j, i)
        while j < len(readings) and readings[j][0] < target - 900:
            j += 1
        if j >= len(readings) or readings[j][0] > target + 900:
            continue
        if breaks[j] > breaks[i]:
            continue
        if readings[j][1] >= BRIM_PCT:
            continue
        last_from = ts
        errors.append(project(model, ts, fill, readings[j][0], tz) - readings[j][1])
    if not errors:
        return Evaluation(0, 0.0, 0.0)
    return Evaluation(
        len(errors), sum(abs(e) for e in errors) / len(errors), sum(errors) / len(errors)
    )
