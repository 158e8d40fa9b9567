"""The fill forecast (backend/forecast.py): trained on simulated weeks, measured on a held-out
week; the weekday table learns a weekly pattern; collections and the brim are left out."""

from __future__ import annotations

from datetime import datetime
from random import Random

from sangsach.backend.domain.rules import Thresholds
from sangsach.backend.forecast import (
    MIN_SAMPLES,
    cell_of,
    evaluate,
    fit,
    full_at,
    increments,
    project,
)
from sangsach.contract import Batch, BinReading
from sangsach.simulators.faults import NO_FAULTS
from sangsach.simulators.node import Send
from sangsach.simulators.wastebin import BinNode, BinSpec, CollectionRounds
from sangsach.sun import VIETNAM

START = int(datetime(2026, 3, 2, 0, 0, tzinfo=VIETNAM).timestamp())  # a Monday
WEEK = 7 * 86_400
TH = Thresholds()


def simulated(seed: int, litres_per_day: float, weeks: int) -> list[tuple[int, float | None]]:
    """A simulated bin's readings ``(ts, fill_pct)``: its own collection rounds, some missed."""
    spec = BinSpec(
        f"bin-fc-{seed:02d}", depth_cm=110, capacity_l=660, litres_per_day=litres_per_day,
        rounds=CollectionRounds.draw(f"forecast/{seed}"),
    )  # fmt: skip
    node = BinNode(spec, NO_FAULTS, Random(seed), START)
    rows: list[tuple[int, float | None]] = []
    while node.next_wake < START + weeks * WEEK:
        for output in node.wake(node.next_wake):
            if isinstance(output, Send) and isinstance(output.message, Batch):
                readings = output.message.readings
                rows += [(r.ts, r.fill_pct) for r in readings if isinstance(r, BinReading)]
    return sorted(rows, key=lambda row: row[0])


def test_error_on_a_held_out_simulated_week() -> None:
    """Four weeks train each bin's model, the fifth is held out: the fill forecast a day ahead
    is within a few points of the fill read then."""
    errors: list[tuple[int, float]] = []
    for seed, litres in enumerate((120.0, 200.0, 300.0, 420.0)):
        rows = simulated(seed, litres, weeks=5)
        held_out = START + 4 * WEEK
        model = fit(increments([r for r in rows if r[0] < held_out], TH))
        assert model is not None
        # the median rate is the bin's true rate (its share of the point's waste)
        assert abs(model.per_day() - litres / 660 * 100) < 0.1 * litres / 660 * 100
        for horizon in (6 * 3600, 86_400):
            result = evaluate(model, [r for r in rows if r[0] >= held_out], TH, horizon_s=horizon)
            errors.append((result.cases, result.mae_pct))
    cases = sum(n for n, _ in errors)
    mae = sum(n * e for n, e in errors) / cases
    print(f"forecast error on held-out simulated weeks: {mae:.2f} points over {cases} cases")
    assert cases >= 100
    assert mae < 3.0


def test_the_weekday_table_learns_a_weekly_pattern() -> None:
    """A bin filling twice as fast on Sundays (market day) is forecast so, per weekday."""
    rows: list[tuple[int, float | None]] = []
    fill = 0.0
    for step in range(4 * WEEK // 600):
        ts = START + step * 600
        if step % 144 == 0:
            fill = 0.0  # emptied every morning at midnight
        else:
            fill += (4.0 if cell_of(ts)[0] == 6 else 2.0) / 6
        rows.append((ts, round(fill, 1)))
    model = fit(increments(rows, TH))
    assert model is not None
    assert abs(model.rate((6, 2)) - 4.0) < 0.05
    assert abs(model.rate((2, 2)) - 2.0) < 0.05
    saturday = int(datetime(2026, 3, 28, 0, 0, tzinfo=VIETNAM).timestamp())
    assert abs(project(model, saturday, 10.0, saturday + 86_400) - 58.0) < 0.5
    sunday_noon = saturday + 86_400 + 12 * 3600
    assert abs(project(model, sunday_noon, 10.0, sunday_noon + 3600) - 14.0) < 0.05
    # from 10 % on a Sunday at midnight, 80 % is 17.5 hours away
    assert full_at(model, saturday + 86_400, 10.0, 80.0) == saturday + 86_400 + 63_000


def test_collections_gaps_and_the_brim_make_no_increments() -> None:
    hour = 3600
    rows: list[tuple[int, float | None]] = [
        (START, 40.0), (START + hour, 42.0),  # one increment: 2 points an hour
        (START + 2 * hour, 2.0),  # emptied: none across
        (START + 3 * hour, None),  # no measurement
        (START + 10 * hour, 20.0),  # after a gap of 8 hours: none across
        (START + 11 * hour, 99.5),  # at the brim: none
    ]  # fmt: skip
    assert increments(rows, TH) == [(cell_of(START + hour / 2), 2.0)]


def test_too_little_history_gives_no_model_and_none_never_fills() -> None:
    rows: list[tuple[int, float | None]] = [
        (START + i * 3600, 10.0 + i) for i in range(MIN_SAMPLES)
    ]
    assert fit(increments(rows, TH)) is None
    flat = [(START + i * 3600, 10.0) for i in range(10)]
    model = fit(increments(flat, TH))
    assert model is not None and model.overall == 0.0
    assert full_at(model, START, 10.0, 80.0) is None
    assert full_at(model, START, 85.0, 80.0) == START
