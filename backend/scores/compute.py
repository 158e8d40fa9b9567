"""Scores from stored data: the edge between the time-series store and the pure engine."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import asdict
from operator import itemgetter
from typing import Any

from sangsach.lighting import LightingSchedule
from sangsach.registry_file import Census, Commune, Village

from ..alerts.model import Thresholds
from ..alerts.rules import lit_samples
from ..timeseries.port import TimeSeriesStore
from .ranking import RankRow, VillageScores, formula_text, rank
from .sach import (
    BIN_STALE_S,
    FillSample,
    collection_score,
    coverage_score,
    overflow_score,
    sach_result,
)
from .sang import STALE_S, LampInput, required_spans, sample_windows, sang_score

SLA_LOOKBACK_S = 24 * 3600  # a full event decided in the period may have started a day before
LIT_FIELDS = ("on", "current_a", "fault")  # what alerts.rules.lit_samples reads of a lamp


def village_scores(
    store: TimeSeriesStore,
    commune: Commune,
    village: Village,
    start: int,
    end: int,
    census: Census | None = None,
) -> VillageScores:
    """One village's scores; ``census`` (default: the registry file's) for the coverage."""
    th = Thresholds()
    info = commune.commune
    schedule = LightingSchedule(info.latitude, info.longitude, village.lighting or ())
    required = required_spans(schedule, start, end)
    # One call per kind for the village's devices: plain tuples, no object per reading.
    lamp_ids = [lamp.id for lane in village.lanes for lamp in lane.lamps]
    # Only the samples the Sáng walk reads: the required spans, each from STALE_S before.
    lamp_rows = store.series(
        "lamp",
        lamp_ids,
        LIT_FIELDS,
        start=start - STALE_S,
        end=end,
        within=sample_windows(required, start, end, STALE_S),
    )
    lamps = []
    for lamp_id in lamp_ids:
        timeline = lit_samples(lamp_rows[lamp_id], th)
        first = bisect_left(timeline, start, key=itemgetter(0))  # ordered by ts
        before = timeline[first - 1] if first else None
        lamps.append(LampInput(required, timeline[first:], before))
    bin_ids = [[bin_.id for bin_ in point.bins] for point in village.points]
    bin_rows = store.series(
        "bin",
        [bin_id for ids in bin_ids for bin_id in ids],
        ("fill_pct",),
        start=start - SLA_LOOKBACK_S - BIN_STALE_S,
        end=end,
    )
    points: list[list[list[FillSample]]] = [
        [[(ts, float(fill or 0.0)) for ts, fill in bin_rows[bin_id]] for bin_id in ids]
        for ids in bin_ids
    ]
    census = census or village.census
    sach = sach_result(
        collection_score([b for p in points for b in p], start, end),
        overflow_score(points, start, end),
        coverage_score(census.main_road_households, census.main_road_standard_bins),
    )
    return VillageScores(village.id, sang_score(lamps, start, end), sach)


def commune_scores(
    store: TimeSeriesStore,
    commune: Commune,
    start: int,
    end: int,
    census: dict[str, Census] | None = None,
) -> dict[str, Any]:
    """Every village's indicators, the ranking and its formula, as plain data for the API."""
    census = census or {}
    scores = [
        village_scores(store, commune, v, start, end, census.get(v.id)) for v in commune.villages
    ]
    names = {v.id: v.name for v in commune.villages}
    ranking: list[RankRow] = rank(scores)
    return {
        "start": start,
        "end": end,
        "villages": [
            {
                "village_id": s.village_id,
                "name": names[s.village_id],
                "sang": asdict(s.sang),
                "sach": asdict(s.sach),
            }
            for s in scores
        ],
        "ranking": [asdict(row) for row in ranking],
        "formula": formula_text(),
    }
