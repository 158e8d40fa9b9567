"""Sạch: collection timeliness, overflow hours at gathering points, main-road bin coverage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from sangsach.backend.scores.model import at_least, known_runs, percent

FULL_PCT = 80.0
OVERFLOW_PCT = 95.0
EMPTIED_DROP_PCT = 30.0
SLA_S = 24 * 3600
BIN_STALE_S = 3 * 3600  # three bin report intervals, as the alert engine's offline rule
COLLECTION_TARGET = 90.0  # the plan says "promptly"; 90 % on time is our default
OVERFLOW_ALLOWED_H_PER_POINT_DAY = 0.5
COVERAGE_TARGET = 90.0  # from the commune's plan

FillSample = tuple[int, float]  # (ts, fill_pct)


@dataclass(frozen=True, slots=True)
class CollectionResult:
    on_time: int
    late: int
    percent: float | None  # on_time / (on_time + late)
    target: float
    meets: bool | None


@dataclass(frozen=True, slots=True)
class OverflowResult:
    points: int
    hours: float  # summed over points
    unknown_hours: float  # no bin of the point known to overflow, at least one stale
    allowed_hours: float
    meets: bool | None  # hours <= allowed_hours; None without points


@dataclass(frozen=True, slots=True)
class CoverageResult:
    households: int  # on main roads
    with_bin: int
    percent: float | None
    target: float
    meets: bool | None


@dataclass(frozen=True, slots=True)
class SachResult:
    collection: CollectionResult
    overflow: OverflowResult
    coverage: CoverageResult
    meets: bool | None  # False if any indicator fails, None if none fails but one is undecided


def full_events(
    fills: Sequence[FillSample],
    *,
    full_pct: float = FULL_PCT,
    drop_pct: float = EMPTIED_DROP_PCT,
) -> list[tuple[int, int | None]]:
    """(full since, emptied at or None) for one bin's sorted series.

    An event starts when a reading reaches full_pct from below (the first reading is only a
    baseline) and ends at the first reading at least drop_pct below its predecessor, the rule
    the alert engine uses for a collection.
    """
    events: list[tuple[int, int | None]] = []
    since: int | None = None
    prev: float | None = None
    for ts, fill in fills:
        if since is not None and prev is not None and prev - fill >= drop_pct:
            events.append((since, ts))
            since = None
        elif since is None and prev is not None and prev < full_pct <= fill:
            since = ts
        prev = fill
    if since is not None:
        events.append((since, None))
    return events


def collection_score(
    bins: Sequence[Sequence[FillSample]],
    start: int,
    end: int,
    *,
    full_pct: float = FULL_PCT,
    drop_pct: float = EMPTIED_DROP_PCT,
    sla_s: int = SLA_S,
    target: float = COLLECTION_TARGET,
) -> CollectionResult:
    """On-time share of the full events decided in [start, end).

    An event is decided when emptied within the SLA (on time, at the emptying) or when the SLA
    runs out (late, at full + SLA). Counting each event in the period of its decision counts it
    once across consecutive periods; so pass readings from at least start - sla_s. An event
    still open at ``end`` and within the SLA is undecided and counted later.
    """
    on_time = late = 0
    for fills in bins:
        for since, emptied in full_events(fills, full_pct=full_pct, drop_pct=drop_pct):
            deadline = since + sla_s
            if emptied is not None and emptied <= deadline:
                on_time += start <= emptied < end
            else:
                late += start <= deadline < end
    share = percent(on_time, on_time + late)
    return CollectionResult(on_time, late, share, target, at_least(share, target))


def _point_seconds(
    bins: Sequence[Sequence[FillSample]], start: int, end: int, pct: float, stale_s: int
) -> tuple[int, int]:
    """(overflow, unknown) seconds of one point: it overflows when any of its bins does."""
    per_bin = [known_runs([(ts, fill >= pct) for ts, fill in fills], stale_s) for fills in bins]
    edges = {start, end}
    for segments in per_bin:
        edges.update(t for a, b, _ in segments for t in (a, b) if start < t < end)
    over = unknown = 0
    at = [0] * len(per_bin)  # per bin, the first segment that may still hold
    # Each piece between consecutive edges has one state per bin: the state at its start.
    for a, b in pairwise(sorted(edges)):
        states: list[bool | None] = []
        for k, segments in enumerate(per_bin):
            while at[k] < len(segments) and segments[at[k]][1] <= a:
                at[k] += 1
            held = at[k] < len(segments) and segments[at[k]][0] <= a
            states.append(segments[at[k]][2] if held else None)
        if True in states:
            over += b - a
        elif None in states:
            unknown += b - a
    return over, unknown


def overflow_score(
    points: Sequence[Sequence[Sequence[FillSample]]],
    start: int,
    end: int,
    *,
    overflow_pct: float = OVERFLOW_PCT,
    stale_s: int = BIN_STALE_S,
    allowed_h_per_point_day: float = OVERFLOW_ALLOWED_H_PER_POINT_DAY,
) -> OverflowResult:
    """Hours at or above overflow_pct per gathering point (a list of bins' series), summed.

    Pass each bin's last reading before ``start`` first in its series so that the period's
    first minutes are known.
    """
    over = unknown = 0
    for bins in points:
        o, u = _point_seconds(bins, start, end, overflow_pct, stale_s)
        over, unknown = over + o, unknown + u
    allowed = allowed_h_per_point_day * len(points) * (end - start) / (24 * 3600)
    hours = over / 3600
    return OverflowResult(
        points=len(points),
        hours=hours,
        unknown_hours=unknown / 3600,
        allowed_hours=allowed,
        meets=(hours <= allowed) if points else None,
    )


def coverage_score(
    main_road_households: int, main_road_standard_bins: int, *, target: float = COVERAGE_TARGET
) -> CoverageResult:
    """Main-road households with a standard bin (Census fields of the same names)."""
    share = percent(main_road_standard_bins, main_road_households)
    return CoverageResult(
        main_road_households, main_road_standard_bins, share, target, at_least(share, target)
    )


def sach_result(
    collection: CollectionResult, overflow: OverflowResult, coverage: CoverageResult
) -> SachResult:
    verdicts = (collection.meets, overflow.meets, coverage.meets)
    meets = False if False in verdicts else (None if None in verdicts else True)
    return SachResult(collection, overflow, coverage, meets)
