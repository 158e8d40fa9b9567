"""The order of a crew's visits: a closed tour from its depot over the points, solved by
Google OR-Tools' routing library (a travelling-salesman model), not by a heuristic of ours.

Distances are great-circle metres between the coordinates of the registry (lanes between
villages are not known to the system; a straight line is the same for every order, so the
order it gives is the one a road map would give in a flat commune of short lanes). The solver
starts from the library's cheapest-arc tour and improves it by its local search (two-opt,
or-opt, relocate, exchange, ...) until no move shortens it, or for a time limit with the
guided local search when one is set (``SANGSACH_WORKLIST_ROUTE_TIME_LIMIT_S``). Greedy descent
stops by itself and gives the same tour on every machine; it is never longer than the
cheapest-arc tour it starts from (tests/unit/test_worklists.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

EARTH_M: Final = 6_371_000.0

LatLon = tuple[float, float]


def distance_m(a: LatLon, b: LatLon) -> int:
    """Great-circle distance in whole metres (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return round(2 * EARTH_M * math.asin(math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Route:
    order: list[int]  # indices into the points, in visiting order
    length_m: int  # depot, the points in order, back to the depot


def distances(depot: LatLon, points: Sequence[LatLon]) -> list[list[int]]:
    """Metres between every two of the depot (node 0) and the points (nodes 1, 2, ...)."""
    nodes = [depot, *points]
    return [[distance_m(a, b) for b in nodes] for a in nodes]


def tour_length(depot: LatLon, points: Sequence[LatLon], order: Sequence[int]) -> int:
    stops = [depot, *(points[i] for i in order), depot]
    return sum(distance_m(a, b) for a, b in itertools.pairwise(stops))


def solve(
    depot: LatLon,
    points: Sequence[LatLon],
    *,
    improve: bool = True,
    time_limit_s: float = 0.0,
    matrix: Sequence[Sequence[int]] | None = None,
) -> Route:
    """The tour from ``depot`` over every point and back. ``improve=False``: the library's
    first tour (cheapest arc) alone, the reference the tests hold the solved tour to;
    ``time_limit_s`` > 0: guided local search for that long instead of greedy descent.
    ``matrix``: ``distances(depot, points)``, when the caller has it already."""
    if not points:
        return Route([], 0)
    if len(points) == 1:
        return Route([0], tour_length(depot, points, [0]))
    if matrix is None:
        matrix = distances(depot, points)
    # imported with the first tour, not at start: OR-Tools is 19 MB of a backend's memory
    # (docs/performance.md, "Issue 22: the backend back under 250 MB")
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    manager = pywrapcp.RoutingIndexManager(len(points) + 1, 1, 0)
    model = pywrapcp.RoutingModel(manager)

    # the matrix itself, not a Python callback the search would call for every arc it tries
    model.SetArcCostEvaluatorOfAllVehicles(
        model.RegisterTransitMatrix([list(row) for row in matrix])
    )
    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    strategy = routing_enums_pb2.LocalSearchMetaheuristic
    if not improve:
        search.local_search_metaheuristic = strategy.GREEDY_DESCENT
        search.solution_limit = 1
    elif time_limit_s > 0:
        search.local_search_metaheuristic = strategy.GUIDED_LOCAL_SEARCH
        search.time_limit.FromMilliseconds(max(1, round(time_limit_s * 1000)))
    else:
        search.local_search_metaheuristic = strategy.GREEDY_DESCENT
    solution = model.SolveWithParameters(search)
    if solution is None:  # cannot happen without constraints; the input order then
        order = list(range(len(points)))
        return Route(order, tour_length(depot, points, order))
    order = []
    index = solution.Value(model.NextVar(model.Start(0)))
    while not model.IsEnd(index):
        order.append(manager.IndexToNode(index) - 1)
        index = solution.Value(model.NextVar(index))
    return Route(order, tour_length(depot, points, order))
