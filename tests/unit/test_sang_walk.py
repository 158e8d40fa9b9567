"""``lamp_seconds`` against a plain reference: every known segment of the lamp's timeline
(``known_segments``, unmerged) intersected with every required span, summed by state. And the
same seconds from only the samples inside ``sample_windows``, as ``village_scores`` fetches."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sangsach.backend.scores.model import known_segments
from sangsach.backend.scores.sang import LampInput, lamp_seconds, sample_windows
from sangsach.backend.timeseries.port import check_windows, clip_windows, keep_within

STALE = 900


def reference(lamp: LampInput, start: int, end: int, stale_s: int) -> tuple[int, int, int]:
    required = [(max(a, start), min(b, end)) for a, b in sorted(lamp.required)]
    required = [(a, b) for a, b in required if a < b]
    timeline = ([lamp.before] if lamp.before else []) + [s for s in lamp.samples if s[0] >= start]
    lit = dark = 0
    for a, b, state in known_segments(timeline, stale_s):
        for ra, rb in required:
            seconds = max(0, min(b, rb) - max(a, ra))
            lit, dark = (lit + seconds, dark) if state else (lit, dark + seconds)
    return sum(b - a for a, b in required), lit, dark


@st.composite
def lamps(draw: st.DrawFn) -> tuple[LampInput, int, int]:
    """Disjoint required spans, some close together (gaps shorter than the stale time), and
    samples at irregular steps, some far apart: every way a sample can bear on a span."""
    t, required = 0, []
    for _ in range(draw(st.integers(0, 6))):
        t += draw(st.integers(0, 3 * STALE))
        length = draw(st.integers(1, 4 * STALE))
        required.append((t, t + length))
        t += length
    ts, samples = draw(st.integers(-2 * STALE, STALE)), []
    for _ in range(draw(st.integers(0, 40))):
        ts += draw(st.integers(0, 2 * STALE))
        samples.append((ts, draw(st.booleans())))
    start = draw(st.integers(-STALE, STALE))
    end = draw(st.integers(start, t + 2 * STALE))
    before = [s for s in samples if s[0] < start]
    inside = [s for s in samples if s[0] >= start]
    lamp = LampInput(required, inside, before[-1] if before else None)
    return lamp, start, end


@settings(max_examples=2000)
@given(lamps())
def test_lamp_seconds_is_the_sum_of_segments_inside_the_spans(
    case: tuple[LampInput, int, int],
) -> None:
    lamp, start, end = case
    assert lamp_seconds(lamp, start, end, STALE) == reference(lamp, start, end, STALE)


@settings(max_examples=2000)
@given(lamps())
def test_the_samples_inside_the_sample_windows_give_the_same_seconds(
    case: tuple[LampInput, int, int],
) -> None:
    lamp, start, end = case
    windows = sample_windows(lamp.required, start, end, STALE)
    check_windows(windows)
    # What village_scores does: fetch [start - stale, end) within the windows, then split.
    stored = ([lamp.before] if lamp.before else []) + list(lamp.samples)
    fetched = keep_within(stored, clip_windows(windows, start - STALE, end))
    before = [s for s in fetched if s[0] < start]
    samples = [s for s in fetched if s[0] >= start]
    fewer = LampInput(lamp.required, samples, before[-1] if before else None)
    assert lamp_seconds(fewer, start, end, STALE) == lamp_seconds(lamp, start, end, STALE)
