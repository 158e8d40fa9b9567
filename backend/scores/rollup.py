"""Daily scores per village, written to the time-series store for Grafana and reports.

Recomputing a day replaces it, so a past period can be rolled up again at any time (after a
late buffer replay, or a registry correction) and gives the same numbers as the API.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sangsach.registry_file import Census, Commune
from sangsach.sun import VIETNAM

from ..domain.readings import DailyScore
from ..timeseries.port import TimeSeriesStore
from .compute import village_scores
from .ranking import VillageScores


def local_midnight(day: date) -> int:
    return int(datetime.combine(day, time(), VIETNAM).timestamp())


def daily_values(scores: VillageScores) -> dict[str, float | bool | None]:
    sang, sach = scores.sang, scores.sach
    return {
        "sang_pct": sang.percent,
        "sang_required_min": sang.required_minutes,
        "sang_lit_min": sang.lit_minutes,
        "sang_unknown_min": sang.unknown_minutes,
        "sang_meets": sang.meets,
        "collection_pct": sach.collection.percent,
        "collection_on_time": sach.collection.on_time,
        "collection_late": sach.collection.late,
        "overflow_h": sach.overflow.hours,
        "coverage_pct": sach.coverage.percent,
        "sach_meets": sach.meets,
    }


def roll_up(
    store: TimeSeriesStore,
    commune: Commune,
    first: date,
    last: date,
    census: dict[str, Census] | None = None,
) -> int:
    """Compute and store every village's scores for the local days ``first`` to ``last``."""
    census = census or {}
    written = 0
    day = first
    while day <= last:
        start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
        rows = [
            DailyScore(
                v.id,
                start,
                daily_values(village_scores(store, commune, v, start, end, census.get(v.id))),
            )
            for v in commune.villages
        ]
        store.write_daily_scores(rows)
        written += len(rows)
        day += timedelta(days=1)
    return written
