"""The route's solver reads the distances as a matrix (``RegisterTransitMatrix``), no longer
through a Python callback per arc: the same model, so the same tours as before, at a quarter
of the time (docs/performance.md). The reference here is the callback version, as it was."""

from __future__ import annotations

from random import Random

import pytest
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from sangsach.backend.worklists.routing import LatLon, distances, solve


def callback_tour(depot: LatLon, points: list[LatLon], improve: bool) -> list[int]:
    matrix = distances(depot, points)
    manager = pywrapcp.RoutingIndexManager(len(points) + 1, 1, 0)
    model = pywrapcp.RoutingModel(manager)

    def cost(i: int, j: int) -> int:
        return int(matrix[manager.IndexToNode(i)][manager.IndexToNode(j)])

    model.SetArcCostEvaluatorOfAllVehicles(model.RegisterTransitCallback(cost))
    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    search.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    if not improve:
        search.solution_limit = 1
    solution = model.SolveWithParameters(search)
    order = []
    index = solution.Value(model.NextVar(model.Start(0)))
    while not model.IsEnd(index):
        order.append(manager.IndexToNode(index) - 1)
        index = solution.Value(model.NextVar(index))
    return order


@pytest.mark.parametrize("seed", range(12))
def test_the_matrix_gives_the_tours_of_the_callback(seed: int) -> None:
    rng = Random(seed)
    depot = (20.72 + rng.uniform(-0.02, 0.02), 106.23 + rng.uniform(-0.02, 0.02))
    points = [
        (20.72 + rng.uniform(-0.03, 0.03), 106.23 + rng.uniform(-0.03, 0.03))
        for _ in range(rng.randint(2, 30))
    ]
    for improve in (True, False):
        assert solve(depot, points, improve=improve).order == callback_tour(depot, points, improve)
