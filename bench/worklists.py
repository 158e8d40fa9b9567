"""The day's work lists of every collection crew of a province: routes by OR-Tools.

    python -m bench.worklists                      # 100 communes, every point on every list
    python -m bench.worklists --communes 10 --runs 1
    python -m bench.worklists --time-limit 0.5     # guided local search, 0.5 s a route
    python -m bench.worklists --workers 2          # communes solved in two processes

Communes made by ``sangsach.registry_gen`` (the format of the sample commune): about 40
gathering points each, in 10, 15 or 20 villages served by 2, 3 or 4 crews (5 villages a crew),
so 20, 15 or 10 points a crew. Timed, ``--runs`` times (median reported): ``plan`` of each crew's
list, the solved route and the library's first tour it is held to (``backend/worklists``), with
``--share`` of the crew's points on the list (1.0: all of them, the longest routes).

What is not timed here: the forecasts the lists are chosen by (``python -m bench.forecasts``:
every bin's model from 28 days of readings, when not fitted within the hour), the alerts'
query, keeping the lists and queuing their SMS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from random import Random
from typing import Any

from sangsach.backend.worklists.plan import PointState, plan
from sangsach.registry_file import Commune, parse_registry
from sangsach.registry_gen import generate
from sangsach.sun import VIETNAM

from .common import load_average

DAY = date(2026, 12, 3)
AT_0530 = int(datetime(2026, 12, 3, 5, 30, tzinfo=VIETNAM).timestamp())
# (villages, bins a village): about 40 gathering points of 2 bins, 2 to 4 crews of 5 villages
SHAPES = ((10, 8), (15, 6), (20, 4))


@dataclass(frozen=True, slots=True)
class Crew:
    team_id: str
    name: str
    depot: tuple[float, float]
    points: list[PointState]


def commune(number: int) -> Commune:
    villages, bins = SHAPES[number % len(SHAPES)]
    return parse_registry(generate(villages, 0, bins, seed=number), f"commune-{number}")


def crews(one: Commune, share: float, rng: Random) -> Iterator[Crew]:
    """Each collection crew with the points on its list: ``share`` of its points, drawn."""
    codes = one.point_codes()
    for team in one.teams:
        if team.role != "collection":
            continue
        points = [
            PointState(p.id, codes[p.id], p.name, v.id, v.name, p.lat, p.lon, known=True,
                       full_now=True)
            for v in one.villages if v.id in team.villages for p in v.points
            if share >= 1.0 or rng.random() < share
        ]  # fmt: skip
        depot = one.depot_of(team)
        yield Crew(team.id, team.name, (depot.lat, depot.lon), points)


def solve_commune(job: tuple[list[Crew], float]) -> list[dict[str, Any]]:
    """Each crew's list, timed one by one."""
    found, time_limit_s = job
    rows = []
    for crew in found:
        t = time.perf_counter()
        worklist = plan(
            crew.team_id, crew.name, DAY, crew.depot, crew.points, made_at=AT_0530,
            next_round=AT_0530 + 86_400, time_limit_s=time_limit_s,
        )  # fmt: skip
        rows.append({
            "seconds": time.perf_counter() - t, "points": len(worklist.stops),
            "route_m": worklist.route_m, "reference_m": worklist.reference_m,
        })  # fmt: skip
    return rows


def province(communes: int, share: float, seed: int = 1) -> list[list[Crew]]:
    rng = Random(seed)
    return [list(crews(commune(number), share, rng)) for number in range(communes)]


def timed(jobs: list[list[Crew]], time_limit_s: float, workers: int) -> dict[str, Any]:
    t = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            rows = [r for one in pool.map(solve_commune, [(j, time_limit_s) for j in jobs])
                    for r in one]  # fmt: skip
    else:
        rows = [r for one in jobs for r in solve_commune((one, time_limit_s))]
    seconds = time.perf_counter() - t
    per_crew = [r["seconds"] for r in rows]
    return {
        "seconds": seconds,
        "crews": len(rows),
        "points": sum(r["points"] for r in rows),
        "crew_ms_median": statistics.median(per_crew) * 1000,
        "crew_ms_max": max(per_crew) * 1000,
        "route_km": sum(r["route_m"] for r in rows) / 1000,
        "reference_km": sum(r["reference_m"] for r in rows) / 1000,
    }


def run(
    communes: int, share: float, time_limit_s: float, workers: int, runs: int
) -> dict[str, Any]:
    jobs = province(communes, share)
    load_before = load_average()
    results = [timed(jobs, time_limit_s, workers) for _ in range(runs)]
    middle = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
    return {
        "communes": communes, "share": share, "time_limit_s": time_limit_s, "workers": workers,
        "load_before": load_before, "load_after": load_average(),
        "runs_s": [round(r["seconds"], 2) for r in results],
        **{k: round(v, 2) if isinstance(v, float) else v for k, v in middle.items()},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--share", type=float, default=1.0, help="of a crew's points listed")
    parser.add_argument("--time-limit", type=float, default=0.0, help="s of guided search")
    parser.add_argument("--workers", type=int, default=1, help="processes")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    out = run(args.communes, args.share, args.time_limit, args.workers, args.runs)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
