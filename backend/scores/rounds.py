"""Planned visits against collections that happened: the work lists' stops judged by the bins'
readings (pure).

A crew's list of a day (``backend/worklists/``) plans a visit to each of its stops. The
**round** of a list runs from when it was made to the end of its local day. A planned stop is
**collected** when a bin of its point was emptied in the round (``bin_emptied``, the rule of
the Sạch score), **unknown** when no bin of the point sent a reading in the round (the system
cannot tell), else **missed**. A collection at a point of a crew whose list of that round did
not have it is **unplanned**. The crew's ``XONG`` is counted beside (**reported**), never in
place of what the readings saw.

Like the full events of ``sach.py``, each stop is counted in the part of time in which it is
*decided*: when its point is emptied, else at the last second of its round (its day). So a day's parts hold the
stops decided that day and any period's parts are the sum of its days'.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class KeptStop:
    place_id: str
    done_at: int | None  # the crew's XONG


@dataclass(frozen=True, slots=True)
class KeptRound:
    """One kept work list: a crew's planned visits of one day."""

    team_id: str
    made_at: int
    end: int  # the end of the list's local day
    tet: bool  # a day of the rounds before Tết
    stops: tuple[KeptStop, ...]


class RoundParts(NamedTuple):
    planned: int = 0
    collected: int = 0
    unknown: int = 0
    reported: int = 0
    unplanned: int = 0
    tet_planned: int = 0
    tet_collected: int = 0
    tet_unknown: int = 0


def round_parts(
    rounds: Sequence[KeptRound],
    emptied: Mapping[str, Sequence[int]],
    heard: Mapping[str, Sequence[int]],
    team_of: Mapping[str, str],
    start: int,
    end: int,
) -> RoundParts:
    """The stops decided in [start, end) of the village's points.

    ``emptied``: per point, the sorted times a bin of it was emptied; ``heard``: per point, the
    sorted times of its bins' readings; ``team_of``: per point of the village, the collection
    crew serving it (points without a crew are in no list). ``rounds`` are the kept lists whose
    round overlaps [start, end); their stops at other villages' points are ignored.
    """
    planned = collected = unknown = reported = unplanned = 0
    tet_planned = tet_collected = tet_unknown = 0
    planned_in: dict[tuple[str, int], bool] = {}  # (point, round's made_at) -> planned
    for kept in rounds:
        for stop in kept.stops:
            if stop.place_id not in team_of:
                continue
            planned_in[(stop.place_id, kept.made_at)] = True
            at = _first_in(emptied.get(stop.place_id, ()), kept.made_at, kept.end)
            decided = at if at is not None else kept.end - 1  # the round's last second
            if stop.done_at is not None and start <= stop.done_at < end:
                reported += 1
            if not start <= decided < end:
                continue
            planned += 1
            tet_planned += kept.tet
            if at is not None:
                collected += 1
                tet_collected += kept.tet
            elif _first_in(heard.get(stop.place_id, ()), kept.made_at, kept.end) is None:
                unknown += 1
                tet_unknown += kept.tet
    for place_id, team_id in team_of.items():
        for kept in rounds:
            if kept.team_id != team_id or (place_id, kept.made_at) in planned_in:
                continue
            at = _first_in(emptied.get(place_id, ()), kept.made_at, kept.end)
            unplanned += at is not None and start <= at < end
    return RoundParts(
        planned, collected, unknown, reported, unplanned, tet_planned, tet_collected, tet_unknown
    )


def _first_in(times: Sequence[int], a: int, b: int) -> int | None:
    """The first of the sorted ``times`` in [a, b), or None."""
    i = bisect_left(times, a)
    return times[i] if i < len(times) and times[i] < b else None
