"""The scores' fast paths give what the plain rules give: the lit rule inlined per reading,
and known segments merged into runs."""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sangsach.backend.domain.rules import Thresholds, lamp_lit_values, lit_samples
from sangsach.backend.scores.model import known_runs, known_segments

TH = Thresholds()


def test_lit_samples_is_lamp_lit_for_every_kind_of_value() -> None:
    least = TH.min_lit_current_a
    ons = [None, False, True, 0, 1]
    currents = [None, 0, 0.0, least - 1e-9, least, least + 1e-9, 2]
    faults = [None, False, True, 0, 1]
    rows = [(n, *values) for n, values in enumerate(product(ons, currents, faults))]
    expected = [
        (ts, lamp_lit_values({"on": on, "current_a": current, "fault": fault}, TH))
        for ts, on, current, fault in rows
    ]
    got = lit_samples(rows, TH)
    assert got == expected
    assert [type(lit) for _, lit in got] == [bool] * len(rows)
    # on True or 1; current None, the least or above (4 of 7); fault None, False or 0
    assert sum(lit for _, lit in got) == 2 * 4 * 3


def _merged(segments: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    out: list[tuple[int, int, bool]] = []
    for a, b, state in segments:
        if out and out[-1][1] == a and out[-1][2] == state:
            out[-1] = (out[-1][0], b, state)
        else:
            out.append((a, b, state))
    return out


@given(
    st.lists(st.tuples(st.integers(-50, 200), st.booleans()), max_size=30),
    st.sampled_from([-5, 0, 1, 3, 10, 900]),
)
def test_known_runs_are_known_segments_merged(samples: list[tuple[int, bool]], stale: int) -> None:
    samples.sort(key=lambda sample: sample[0])
    assert known_runs(samples, stale) == _merged(known_segments(samples, stale))


def test_known_runs_refuse_unsorted_samples() -> None:
    with pytest.raises(ValueError, match="sorted by ts"):
        known_runs([(10, True), (5, True)], 900)
