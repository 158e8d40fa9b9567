"""The forecast's array path (``backend/forecast.py``: ``increments``, ``fit``, ``model_of``)
gives exactly the models of the plain reading-by-reading method it replaced, kept here as the
reference: on simulated bins, on the province benchmark's bins, and on random readings full
of collections, gaps, missing fills, the brim and readings in the same second."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.forecasts import TH as BENCH_TH
from bench.forecasts import series_of
from sangsach.backend.domain.rules import Thresholds, bin_emptied
from sangsach.backend.forecast import (
    BANDS,
    BREAK_DROP_PCT,
    BRIM_PCT,
    MAX_GAP_S,
    MIN_SAMPLES,
    STEP_S,
    Cell,
    Evaluation,
    FillModel,
    evaluate,
    fit,
    increments,
    model_of,
    project,
)
from sangsach.sun import VIETNAM
from tests.unit.test_forecast import START, TH, simulated


def reference_cell(ts: float, tz: tzinfo) -> Cell:
    local = datetime.fromtimestamp(ts, tz)
    return local.weekday(), local.hour * BANDS // 24


def reference_increments(
    rows: Iterable[tuple[int, float | None]], th: Thresholds, tz: tzinfo = VIETNAM
) -> list[tuple[Cell, float]]:
    """The method as first written: one reading at a time."""
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
            or reference_break(previous[1], current[1], th)
        ):
            anchor = previous = current
            continue
        previous = current
        span = current[0] - anchor[0]
        if span < STEP_S:
            continue
        if current[1] < BRIM_PCT:
            rate = (current[1] - anchor[1]) * 3600 / span
            found.append((reference_cell(anchor[0] + span / 2, tz), rate))
        anchor = current
    return found


def reference_break(previous: float, current: float, th: Thresholds) -> bool:
    drop = previous - current
    return drop >= BREAK_DROP_PCT or bin_emptied(previous, current, th)


def reference_fit(found: Sequence[tuple[Cell, float]]) -> FillModel | None:
    if len(found) < MIN_SAMPLES:
        return None
    by_cell: dict[Cell, list[float]] = defaultdict(list)
    by_day: dict[int, list[float]] = defaultdict(list)
    for cell, rate in found:
        by_cell[cell].append(rate)
        by_day[cell[0]].append(rate)

    def median(values: list[float]) -> float:
        return max(0.0, statistics.median(values))

    return FillModel(
        {c: median(v) for c, v in by_cell.items() if len(v) >= MIN_SAMPLES},
        {d: median(v) for d, v in by_day.items() if len(v) >= MIN_SAMPLES},
        median([rate for _, rate in found]),
        len(found),
    )


def same(rows: list[tuple[int, float | None]], th: Thresholds, tz: tzinfo = VIETNAM) -> None:
    expected = reference_increments(rows, th, tz)
    assert increments(rows, th, tz) == expected  # the same floats, not close ones
    model = reference_fit(expected)
    assert fit(expected) == model
    assert model_of(rows, th, tz) == model


def reference_evaluate(
    model: FillModel, rows: Sequence[tuple[int, float | None]], th: Thresholds, horizon_s: int
) -> Evaluation:
    readings = [(int(t), float(f)) for t, f in rows if f is not None]
    errors: list[float] = []
    last_from = -3600
    j = 0
    for i, (ts, fill) in enumerate(readings):
        if ts - last_from < 3600:
            continue
        target = ts + horizon_s
        j = max(j, i)
        while j < len(readings) and readings[j][0] < target - 900:
            j += 1
        if j >= len(readings) or readings[j][0] > target + 900:
            continue
        between = readings[i : j + 1]
        if any(reference_break(a[1], b[1], th) for a, b in itertools.pairwise(between)):
            continue
        if readings[j][1] >= BRIM_PCT:
            continue
        last_from = ts
        errors.append(project(model, ts, fill, readings[j][0]) - readings[j][1])
    if not errors:
        return Evaluation(0, 0.0, 0.0)
    return Evaluation(
        len(errors), sum(abs(e) for e in errors) / len(errors), sum(errors) / len(errors)
    )


def test_the_simulated_bins_give_the_same_models_and_the_same_error() -> None:
    for seed, litres in enumerate((120.0, 200.0, 300.0, 420.0)):
        rows = simulated(seed, litres, weeks=5)
        same(rows, TH)
        model = model_of([r for r in rows if r[0] < START + 28 * 86_400], TH)
        assert model is not None
        held_out = [r for r in rows if r[0] >= START + 28 * 86_400]
        for horizon in (6 * 3600, 86_400):
            assert evaluate(model, held_out, TH, horizon_s=horizon) == reference_evaluate(
                model, held_out, TH, horizon
            )


def test_the_benchmark_bins_give_the_same_models() -> None:
    for rows in series_of(0, 20, 28, 600).values():
        same(rows, BENCH_TH)
        assert model_of(rows, BENCH_TH) is not None


def test_a_zone_whose_offset_changes_is_read_one_time_at_a_time() -> None:
    """Across a change of offset (summer time in Paris, on 29 March 2026) each increment's cell
    is its local time's; Vietnam's fixed offset takes the arithmetic path."""
    paris = ZoneInfo("Europe/Paris")
    start = int(datetime(2026, 3, 26, tzinfo=paris).timestamp())
    rows: list[tuple[int, float | None]] = [
        (start + i * 600, float(i % 300) / 4) for i in range(6 * 24 * 7)
    ]
    same(rows, TH, paris)
    same(rows, TH, timezone(timedelta(hours=7)))
    assert increments(rows, TH, VIETNAM) == increments(rows, TH, timezone(timedelta(hours=7)))


readings = st.lists(
    st.tuples(
        st.sampled_from([0, 1, 300, 600, 601, 1800, 3599, 3600, 3601, 7200, 4 * 3600]),
        st.one_of(
            st.none(),
            st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 1)),
            st.sampled_from([0.0, 7.9, 8.0, 8.1, 30.0, 98.9, 99.0, 100.0]),
        ),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(steps=readings, drop=st.sampled_from([0.5, 5.0, 8.1, 30.0]))
def test_random_readings_give_the_same_increments_and_models(
    steps: list[tuple[int, float | None]], drop: float
) -> None:
    ts = START
    rows: list[tuple[int, float | None]] = []
    for step, fill in steps:
        ts += step
        rows.append((ts, fill))
    same(rows, Thresholds(bin_emptied_drop_pct=drop))


def test_readings_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="oldest first"):
        increments([(START + 600, 10.0), (START, 12.0)], TH)
