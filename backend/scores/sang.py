"""Sáng: lamp-time lit, dark and unknown inside the required lighting windows, per lamp."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Protocol

from .model import Span, clip, known_runs

_DAY = 24 * 3600

LitSample = tuple[int, bool]  # (ts, domain.rules.lamp_lit)


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


def lamp_seconds(lamp: LampInput, start: int, end: int, stale_s: int) -> tuple[int, int, int]:
    """(required, lit, dark) seconds of one lamp; the rest of required is unknown.

    Only the samples that can bear on a required span are walked: from ``stale_s`` before it
    (an older sample is unknown by then) to its end. Found by bisection, they are about half a
    year's samples when lamps must be lit half the time. A chunk's last sample may be followed
    by one beyond the span, which would end its segment sooner, but never inside the span: the
    seconds inside are the same (tests/unit/test_sang_walk.py checks against a plain sum).
    """
    required = clip(sorted(lamp.required), start, end)
    samples = lamp.samples
    if samples and samples[0][0] < start:  # sorted: keep those in the period
        samples = samples[bisect_left(samples, start, key=itemgetter(0)) :]
    timeline = [lamp.before, *samples] if lamp.before is not None else list(samples)
    times = [ts for ts, _ in timeline]
    lit = dark = 0
    for ra, rb in required:
        first = bisect_left(times, ra - stale_s)
        last = bisect_left(times, rb, first)
        for a, b, state in known_runs(timeline[first:last], stale_s):
            seconds = (b if b < rb else rb) - (a if a > ra else ra)  # overlap, inlined
            if seconds <= 0:
                continue
            if state:
                lit += seconds
            else:
                dark += seconds
    return sum(b - a for a, b in required), lit, dark


def sample_windows(required: Sequence[Span], start: int, end: int, stale_s: int) -> list[Span]:
    """Where ``lamp_seconds`` reads samples: ``stale_s`` before each required span to its end.

    Sorted and merged where they meet, so a store can be asked for only these samples (about
    half a year's) and the seconds come out the same: ``before`` is walked only when it lies
    inside the first window, and then it is also the last sample fetched before ``start``.
    """
    out: list[Span] = []
    for ra, rb in clip(sorted(required), start, end):
        a = ra - stale_s
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], rb))
        else:
            out.append((a, rb))
    return out
