"""The whole commune in simulated time: every node's output in order, faults and bad messages in.

Pure and deterministic: the same commune, seed, start and end give the same events (apart from
the timestamp of ``future_ts`` messages, which is set against the real clock).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from random import Random
from zoneinfo import ZoneInfo

from sangsach.lighting import festival_nights
from sangsach.registry_file import Commune

from .faults import NO_FAULTS, Kind, plan_faults
from .invalid import BadMessage, BadMessages
from .lamp import LampNode, LampSpec
from .node import Node, Output, Send
from .wastebin import LITRES_PER_HOUSEHOLD_DAY, BinNode, BinSpec, CollectionRounds


@dataclass(frozen=True, slots=True)
class Event:
    t: int  # simulated Unix seconds
    client_id: str  # who publishes: the node, or the sender of a bad message
    what: Output | BadMessage


def device_kinds(commune: Commune) -> dict[str, Kind]:
    return {device.id: device.kind for device in commune.devices()}


def build_nodes(commune: Commune, *, seed: int, start: int, end: int | None) -> list[Node]:
    """One node per registry device, each with its own random stream and its planned faults."""
    tz = ZoneInfo(commune.commune.timezone)
    plan = plan_faults(device_kinds(commune), seed=seed, start=start, end=end)
    nodes: list[Node] = []

    # Every random stream has its own name, so that no two share a seed.
    def rng(device_id: str) -> Random:
        return Random(f"{seed}/device/{device_id}")

    for village in commune.villages:
        windows = tuple(village.lighting or ())
        nights = festival_nights(commune, village)
        for lane in village.lanes:
            for lamp in lane.lamps:
                lamp_spec = LampSpec(lamp.id, lamp.lat, lamp.lon, lamp.watts, windows, tz, nights)
                faults = plan.get(lamp.id, NO_FAULTS)
                nodes.append(LampNode(lamp_spec, faults, rng(lamp.id), start))
        for point in village.points:
            rounds = CollectionRounds.draw(f"{seed}/point/{point.id}", tz)
            litres = point.households_served * LITRES_PER_HOUSEHOLD_DAY
            capacity = sum(bin_.capacity_l for bin_ in point.bins)
            for bin_ in point.bins:
                share = litres * bin_.capacity_l / capacity
                bin_spec = BinSpec(bin_.id, bin_.depth_cm, bin_.capacity_l, share, rounds, tz)
                faults = plan.get(bin_.id, NO_FAULTS)
                nodes.append(BinNode(bin_spec, faults, rng(bin_.id), start))
    return nodes


def timeline(
    commune: Commune,
    *,
    seed: int,
    start: int,
    end: int | None,
    bad_rate: float,
    wall: Callable[[], float],
) -> Iterator[Event]:
    """Events from ``start`` until ``end`` (exclusive; None: forever), in time order."""
    if end is not None and end <= start:
        raise ValueError(f"the run must end after it starts: {start} to {end}")
    bad = BadMessages(device_kinds(commune), seed=seed, rate=bad_rate, wall=wall)
    return _events(build_nodes(commune, seed=seed, start=start, end=end), bad, end)


def _events(nodes: list[Node], bad: BadMessages, end: int | None) -> Iterator[Event]:
    # (next wake, index): ties go to registry order, so the order is the same every run.
    queue = [(node.next_wake, index) for index, node in enumerate(nodes)]
    heapq.heapify(queue)
    while queue:
        t, index = queue[0]
        if end is not None and t >= end:
            return
        node = nodes[index]
        for output in node.wake(t):
            yield Event(t, node.device_id, output)
            if isinstance(output, Send):
                for message in bad.after(node.device_id, node.boot, t):
                    yield Event(t, message.sender, message)
        heapq.heapreplace(queue, (node.next_wake, index))
