"""Sáng %: lamp-time lit and healthy inside the required lighting windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sangsach.backend.scores.model import Span, at_least, clip, known_runs, percent

STALE_S = 3 * 300  # three lamp report intervals, as the alert engine's offline rule
SANG_TARGET = 95.0
_DAY = 24 * 3600

LitSample = tuple[int, bool]  # (ts, lit by the alert engine's rule: on, current, no fault)


class Schedule(Protocol):
    """What ``required_spans`` needs of ``sangsach.lighting.LightingSchedule``."""

    def is_lit(self, t: int) -> bool: ...

    def next_change(self, t: int) -> int | None: ...


def required_spans(schedule: Schedule, start: int, end: int) -> list[Span]:
    """The spans in [start, end) when the schedule wants the lamp lit, adjacent ones merged."""
    spans: list[Span] = []
    t = start
    while t < end:
        lit = schedule.is_lit(t)
        # No switch within a day (never, at 20.7° N) would mean the state holds: step a day.
        change = schedule.next_change(t)
        nxt = min(t + _DAY if change is None else change, end)
        if lit:
            if spans and spans[-1][1] == t:
                spans[-1] = (spans[-1][0], nxt)
            else:
                spans.append((t, nxt))
        t = nxt
    return spans


@dataclass(frozen=True, slots=True)
class LampInput:
    """One active lamp: its required spans, its samples in the period, its last one before.

    ``required`` must not overlap (``required_spans`` gives that); ``samples`` sorted by ts.
    """

    required: Sequence[Span]
    samples: Sequence[LitSample]
    before: LitSample | None = None


@dataclass(frozen=True, slots=True)
class SangResult:
    """Minutes are seconds / 60 (floats, exact for whole minutes); percent = lit / required."""

    required_minutes: float
    lit_minutes: float
    unknown_minutes: float
    dark_minutes: float
    percent: float | None
    target: float
    meets: bool | None


def lamp_seconds(lamp: LampInput, start: int, end: int, stale_s: int) -> tuple[int, int, int]:
    """(required, lit, dark) seconds of one lamp; the rest of required is unknown."""
    required = clip(sorted(lamp.required), start, end)
    timeline = [lamp.before] if lamp.before is not None else []
    timeline += [s for s in lamp.samples if s[0] >= start]
    lit = dark = 0
    # Both lists are sorted and non-overlapping: walk them together (a year is ~100k samples).
    i, n = 0, len(required)
    for a, b, state in known_runs(timeline, stale_s):
        while i < n and required[i][1] <= a:
            i += 1
        j = i
        while j < n:
            ra, rb = required[j]
            if ra >= b:
                break
            seconds = max(0, (b if b < rb else rb) - (a if a > ra else ra))  # overlap, inlined
            if state:
                lit += seconds
            else:
                dark += seconds
            j += 1
    return sum(b - a for a, b in required), lit, dark


def sang_score(
    lamps: Sequence[LampInput],
    start: int,
    end: int,
    *,
    stale_s: int = STALE_S,
    target: float = SANG_TARGET,
) -> SangResult:
    """The village's Sáng % over [start, end); unknown time counts as not lit."""
    required = lit = dark = 0
    for lamp in lamps:
        r, li, d = lamp_seconds(lamp, start, end, stale_s)
        required, lit, dark = required + r, lit + li, dark + d
    share = percent(lit, required)
    return SangResult(
        required_minutes=required / 60,
        lit_minutes=lit / 60,
        unknown_minutes=(required - lit - dark) / 60,
        dark_minutes=dark / 60,
        percent=share,
        target=target,
        meets=at_least(share, target),
    )
