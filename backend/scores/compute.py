"""Scores from stored data: the edge between the time-series store and the pure engine."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sangsach.lighting import LightingSchedule
from sangsach.registry_file import Census, Commune, Village

from ..alerts.model import Thresholds
from ..alerts.rules import lamp_lit
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
from .sang import STALE_S, LampInput, required_spans, sang_score

SLA_LOOKBACK_S = 24 * 3600  # a full event decided in the period may have started a day before


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
    lamps = []
    for lane in village.lanes:
        for lamp in lane.lamps:
            readings = store.readings(lamp.id, start=start - STALE_S, end=end, limit=10**7)
            before = [(r.ts, lamp_lit(r.values, th)) for r in readings if r.ts < start]
            samples = [(r.ts, lamp_lit(r.values, th)) for r in readings if r.ts >= start]
            lamps.append(LampInput(required, samples, before[-1] if before else None))
    points: list[list[list[FillSample]]] = []
    for point in village.points:
        bins = []
        for bin_ in point.bins:
            rows = store.readings(
                bin_.id, start=start - SLA_LOOKBACK_S - BIN_STALE_S, end=end, limit=10**7
            )
            bins.append([(r.ts, float(r.values["fill_pct"] or 0.0)) for r in rows])
        points.append(bins)
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
