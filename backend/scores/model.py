"""Shared types and the timeline rule the Sáng and Sạch scores both use."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, islice
from typing import TypeVar

Span = tuple[int, int]  # [start, end) in Unix seconds
Segment = tuple[int, int, bool]  # [start, end) with a known state

S = TypeVar("S")


def known_segments(samples: Sequence[tuple[int, S]], stale_s: int) -> list[tuple[int, int, S]]:
    """Where each sample's state is known: from its ts until the next sample, at most stale_s.

    ``samples`` must be sorted by ts. Time not covered by a segment is unknown: the device was
    silent longer than ``stale_s``, or has not reported yet.
    """
    out: list[tuple[int, int, S]] = []
    for i, (ts, state) in enumerate(samples):
        until = ts + stale_s
        if i + 1 < len(samples):
            nxt = samples[i + 1][0]
            if nxt < ts:
                raise ValueError("samples must be sorted by ts")
            until = min(until, nxt)
        if until > ts:
            out.append((ts, until, state))
    return out


def known_runs(samples: Sequence[tuple[int, S]], stale_s: int) -> list[tuple[int, int, S]]:
    """``known_segments`` with touching segments of the same state merged into one.

    The same known time with the same states in far fewer pieces (a lamp reporting every few
    minutes changes state twice a day), so the scores add up the same seconds faster.
    """
    out: list[tuple[int, int, S]] = []
    if not samples:
        return out
    prev_ts, prev_state = samples[0]
    run_a, run_b, run_state = prev_ts, None, prev_state  # run_b None: no run yet
    # A last pseudo-sample ends the last real one's segment after stale_s.
    tail = (samples[-1][0] + max(stale_s, 0), prev_state)
    for ts, state in chain(islice(samples, 1, None), (tail,)):
        if ts < prev_ts:
            raise ValueError("samples must be sorted by ts")
        until = ts if ts - prev_ts < stale_s else prev_ts + stale_s  # min(), inlined
        if until > prev_ts:
            if run_b == prev_ts and run_state == prev_state:
                run_b = until
            else:
                if run_b is not None:
                    out.append((run_a, run_b, run_state))
                run_a, run_b, run_state = prev_ts, until, prev_state
        prev_ts, prev_state = ts, state
    if run_b is not None:
        out.append((run_a, run_b, run_state))
    return out


def clip(spans: Sequence[Span], start: int, end: int) -> list[Span]:
    """The parts of ``spans`` inside [start, end), empty parts dropped."""
    out = []
    for a, b in spans:
        a, b = max(a, start), min(b, end)
        if a < b:
            out.append((a, b))
    return out
