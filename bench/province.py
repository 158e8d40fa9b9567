"""A province's ranking from ten years of daily parts: the store's own sums, judged and ranked.

    python -m bench.province                    # 100 communes x 10 villages, 10 years
    python -m bench.province --villages 50 --years 1 --store sqlite   # a quick look

Rows are the daily parts a rollup writes (``Parts.values()`` and the day figures), made up
directly (untimed, in bulk), into InfluxDB (a real ``influxd``) and the embedded SQLite store.
Then, timed, three times each: one year's ``daily_sums`` for every village (the store sums),
and the same plus ``judge`` and ``rank`` of every village (what a province-wide ranking costs
the backend). The data is kept under ``--data`` and reused when the same size is asked again.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sangsach.backend.domain.readings import DailyScore
from sangsach.backend.scores.days import local_midnight
from sangsach.backend.scores.parts import CENSUS_NAMES, SUMMED_NAMES, Parts
from sangsach.backend.scores.verdict import judge, rank
from sangsach.backend.timeseries.influx import InfluxStore
from sangsach.backend.timeseries.port import TimeSeriesStore
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.registry_file import Census, ScoreFormula
from tests.services import InfluxD

FIRST = date(2017, 1, 1)
ROWS_PER_WRITE = 20_000


def day_parts(rng: random.Random) -> dict[str, Any]:
    """One village-day of plausible parts: 30 lamps, 8 points, a few full events."""
    required = 30 * 11 * 3600
    unknown = rng.choice((0, 0, 0, rng.randrange(0, required // 4)))
    dark = rng.randrange(0, (required - unknown) // 10)
    bins = 8 * 86_400
    bin_unknown = rng.choice((0, 0, rng.randrange(0, bins // 5)))
    parts = Parts(
        lamp_required_s=required,
        lamp_lit_s=required - unknown - dark,
        lamp_dark_s=dark,
        bin_required_s=bins,
        bin_overflow_s=rng.choice((0, 0, 0, rng.randrange(0, 4 * 3600))),
        bin_unknown_s=bin_unknown,
        full_on_time=rng.randrange(0, 4),
        full_late=rng.choice((0, 0, 1)),
    ).with_census(Census(households=400, main_road_households=120, main_road_standard_bins=110))
    return {**parts.values(), "sang_pct": 95.0, "collection_pct": 90.0, "overflow_h": 0.0}


def load(store: TimeSeriesStore, villages: int, years: int) -> int:
    rng = random.Random(7)
    rows: list[DailyScore] = []
    written = 0
    day = FIRST
    last = FIRST + timedelta(days=365 * years - 1)
    while day <= last:
        midnight = local_midnight(day)
        rows.extend(DailyScore(f"thon-{v:04d}", midnight, day_parts(rng)) for v in range(villages))
        if len(rows) >= ROWS_PER_WRITE:
            store.write_daily_scores(rows)
            written += len(rows)
            rows = []
        day += timedelta(days=1)
    if rows:
        store.write_daily_scores(rows)
        written += len(rows)
    return written


def time_ranking(store: TimeSeriesStore, year: int) -> dict[str, Any]:
    start, end = local_midnight(date(year, 1, 1)), local_midnight(date(year + 1, 1, 1))
    formula = ScoreFormula()
    sums_s, ranked_s = [], []
    for _ in range(3):
        t = time.perf_counter()
        sums = store.daily_sums(SUMMED_NAMES, CENSUS_NAMES, start=start, end=end)
        sums_s.append(time.perf_counter() - t)
        results = [
            judge(
                v,
                v,
                Parts.from_values({**s.sums, **{k: x for k, x in s.last.items() if x is not None}}),
                formula,
            )
            for v, s in sums.items()
        ]
        ranking = rank(results)
        ranked_s.append(time.perf_counter() - t)
    return {
        "villages": len(sums),
        "days_each": min(s.days for s in sums.values()),
        "ranked": len(ranking),
        "daily_sums_s": round(statistics.median(sums_s), 3),
        "ranking_s": round(statistics.median(ranked_s), 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--villages", type=int, default=1000, help="default 1,000 (100 communes)")
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--store", choices=("influxdb", "sqlite", "both"), default="both")
    parser.add_argument("--data", type=Path, default=Path("var/bench-province"))
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    size = f"{args.villages}x{args.years}"
    year = FIRST.year + args.years - 1
    out: dict[str, Any] = {"villages": args.villages, "years": args.years, "year_ranked": year}
    stores = ("sqlite", "influxdb") if args.store == "both" else (args.store,)
    for name in stores:
        marker = args.data / f"{name}.{size}.loaded"
        influxd = None
        if name == "influxdb":
            influxd = InfluxD(args.data / f"influxd-{size}").start()
            store: TimeSeriesStore = InfluxStore(influxd.url, "province", timeout=600)
        else:
            store = SqliteStore(args.data / f"province-{size}.sqlite")
        try:
            store.ensure_ready()
            if not marker.exists():
                t = time.perf_counter()
                rows = load(store, args.villages, args.years)
                marker.write_text(json.dumps({"rows": rows, "load_s": time.perf_counter() - t}))
            out[name] = {**json.loads(marker.read_text()), **time_ranking(store, year)}
            print(name, out[name], flush=True)
        finally:
            store.close()
            if influxd is not None:
                influxd.stop()
    (args.data / "results.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
