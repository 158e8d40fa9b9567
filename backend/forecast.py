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
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final

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


def cell_of(ts: float, tz: tzinfo = VIETNAM) -> Cell:
    local = datetime.fromtimestamp(ts, tz)
    return local.weekday(), local.hour * BANDS // 24


def increments(
    rows: Iterable[tuple[int, float | None]], th: Thresholds, tz: tzinfo = VIETNAM
) -> list[tuple[Cell, float]]:
    """``(cell, rate in points an hour)`` of a bin's readings ``(ts, fill_pct)``, oldest first."""
    found: list[tuple[Cell, float]] = []
    anchor: tuple[int, float] | None = None
    previous: tuple[int, float] | None = None
    for ts, fill in rows:
        if fill is None:
            continue
        current = (int(ts), float(fill))
        if (
            anchor is None
            or previous is None
            or current[0] - previous[0] > MAX_GAP_S
            or _break(previous[1], current[1], th)
        ):
            anchor = previous = current
            continue
        previous = current
        span = current[0] - anchor[0]
        if span < STEP_S:
            continue
        if current[1] < BRIM_PCT:
            rate = (current[1] - anchor[1]) * 3600 / span
            found.append((cell_of(anchor[0] + span / 2, tz), rate))
        anchor = current
    return found


def _break(previous: float, current: float, th: Thresholds) -> bool:
    """Waste was taken out between two readings: a collection, or less (docs/decisions.md)."""
    drop = previous - current
    if drop >= BREAK_DROP_PCT:
        return True
    # the rule in tenths only near its threshold: this runs for every reading of a month
    return drop > th.bin_emptied_drop_pct - 0.2 and bin_emptied(previous, current, th)


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
    if len(found) < MIN_SAMPLES:
        return None
    by_cell: dict[Cell, list[float]] = defaultdict(list)
    by_day: dict[int, list[float]] = defaultdict(list)
    for cell, rate in found:
        by_cell[cell].append(rate)
        by_day[cell[0]].append(rate)

    def median(values: list[float]) -> float:
        return max(0.0, statistics.median(values))  # waste does not shrink in a bin

    return FillModel(
        {c: median(v) for c, v in by_cell.items() if len(v) >= MIN_SAMPLES},
        {d: median(v) for d, v in by_day.items() if len(v) >= MIN_SAMPLES},
        median([rate for _, rate in found]),
        len(found),
    )


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
    readings = [(int(t), float(f)) for t, f in rows if f is not None]
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
        between = readings[i : j + 1]
        if any(_break(a[1], b[1], th) for a, b in itertools.pairwise(between)):
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
