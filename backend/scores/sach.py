"""Sạch from the bins: full events decided on time or late, and overflow at gathering points.

Each function returns additive parts of a village-day (counts and seconds), never a share:
any period's indicator is a share of the summed parts (``verdict.py``). The full, overflow and
emptied rules are ``domain.rules``'s, with the village's thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from ..domain.rules import Thresholds, bin_emptied, bin_full, bin_overflowing
from .model import Span, known_runs

FillSample = tuple[int, float]  # (ts, fill_pct)


def full_events(
    fills: Sequence[FillSample], th: Thresholds, baseline: float | None = None
) -> list[tuple[int, int | None]]:
    """(full since, emptied at or None) for one bin's sorted series.

    An event starts at a reading that is full (``bin_full``) after one that was not; it ends
    at the first later emptying (``bin_emptied``: a drop of at least the emptied threshold
    from the reading before). ``baseline`` is the bin's last fill before ``fills`` however old
    (a bin back from a long silence already full starts an event); without one, the first
    reading is only a baseline.
    """
    events: list[tuple[int, int | None]] = []
    since: int | None = None
    prev = baseline
    for ts, fill in fills:
        if since is not None and prev is not None and bin_emptied(prev, fill, th):
            events.append((since, ts))
            since = None
        elif since is None and prev is not None and not bin_full(prev, th) and bin_full(fill, th):
            since = ts
        prev = fill
    if since is not None:
        events.append((since, None))
    return events


def collection_parts(
    bins: Sequence[tuple[Sequence[FillSample], float | None]],
    start: int,
    end: int,
    th: Thresholds,
) -> tuple[int, int]:
    """(on time, late): the full events *decided* in [start, end).

    An event is decided when emptied within the SLA (on time, at the emptying) or when the SLA
    runs out (late, at full + SLA). Counting each event in the period of its decision counts it
    once across consecutive periods, so days add up to any period. Each bin is its readings
    from at least ``start - SLA`` and its baseline (the last fill before them).
    """
    on_time = late = 0
    sla = th.collection_sla_s
    for fills, baseline in bins:
        for since, emptied in full_events(fills, th, baseline):
            deadline = since + sla
            if emptied is not None and emptied <= deadline:
                on_time += start <= emptied < end
            else:
                late += start <= deadline < end
    return on_time, late


def point_seconds(
    bins: Sequence[tuple[Sequence[FillSample], Span]],
    start: int,
    end: int,
    th: Thresholds,
    stale_s: int,
) -> tuple[int, int, int]:
    """(required, overflow, unknown) seconds of one gathering point in [start, end).

    A bin counts only inside its active span (installed to removed). The point is required
    while one of its bins is active; it overflows while an active bin is known to overflow,
    is unknown while none is known to overflow and an active one is stale or silent, and is
    otherwise measured and not overflowing. Each bin's series must hold its last reading
    before ``start`` so that the first minutes are known.
    """
    per_bin = [
        (known_runs([(ts, bin_overflowing(fill, th)) for ts, fill in fills], stale_s), active)
        for fills, active in bins
    ]
    edges = {start, end}
    for segments, (act_a, act_b) in per_bin:
        edges.update(t for t in (act_a, act_b) if start < t < end)
        edges.update(t for a, b, _ in segments for t in (a, b) if start < t < end)
    required = over = unknown = 0
    at = [0] * len(per_bin)  # per bin, the first segment that may still hold
    # Each piece between consecutive edges has one state per bin: the state at its start.
    for a, b in pairwise(sorted(edges)):
        active = False
        states: list[bool | None] = []
        for k, (segments, (act_a, act_b)) in enumerate(per_bin):
            if not act_a <= a < act_b:
                continue
            active = True
            while at[k] < len(segments) and segments[at[k]][1] <= a:
                at[k] += 1
            held = at[k] < len(segments) and segments[at[k]][0] <= a
            states.append(segments[at[k]][2] if held else None)
        if not active:
            continue
        required += b - a
        if True in states:
            over += b - a
        elif None in states:
            unknown += b - a
    return required, over, unknown
