"""One rule in one place: for any reading and thresholds, every consumer gives the same answer
as ``domain.rules`` (the alert engine's track, the scores' walk, the map and Grafana's state)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sangsach.backend.alerts.model import AlertType
from sangsach.backend.alerts.rules import Track, observe
from sangsach.backend.domain.readings import StoredReading, Value
from sangsach.backend.domain.rules import (
    Thresholds,
    battery_level,
    bin_emptied,
    bin_full,
    bin_overflowing,
    device_state,
    effective_thresholds,
    lamp_lit,
    lamp_lit_values,
    lit_samples,
)
from sangsach.backend.scores.sach import full_events
from sangsach.registry_file import SAMPLE_REGISTRY, AlertThresholds, load_registry

tenth = st.integers(min_value=0, max_value=1000).map(lambda n: n / 10)
thresholds = st.builds(
    Thresholds,
    min_lit_current_a=st.sampled_from([0.0, 0.05, 0.1]),
    bin_full_pct=st.integers(500, 900).map(lambda n: n / 10),
    bin_overflow_pct=st.integers(900, 1000).map(lambda n: n / 10),
    bin_emptied_drop_pct=st.integers(100, 500).map(lambda n: n / 10),
)
current = st.one_of(st.none(), st.sampled_from([0.0, 0.04, 0.05, 0.18]))


@given(st.booleans(), current, st.one_of(st.none(), st.booleans()), thresholds)
def test_lit_is_the_same_for_the_engine_the_scores_and_the_map(
    on: bool, current_a: float | None, fault: bool | None, th: Thresholds
) -> None:
    lit = lamp_lit(on, current_a, fault, th)
    values: dict[str, Value] = {"on": on, "current_a": current_a, "fault": fault}
    assert lamp_lit_values(values, th) is lit
    assert lit_samples([(1, on, current_a, fault)], th) == [(1, lit)]
    track = Track("lamp-1", "lamp")
    observe(track, StoredReading("lamp-1", "lamp", "v", "p", 1, 1, 100, True, values), 100.0, th)
    assert track.lit is lit
    state = device_state("lamp", True, values, th)
    assert (state == "lit") is lit
    if on and not lit:
        assert state == "fault"  # on without current, or a fault: never "lit" on the map


@given(tenth, tenth, thresholds)
def test_full_overflow_and_emptied_are_the_same_everywhere(
    before: float, fill: float, th: Thresholds
) -> None:
    track = Track("bin-1", "bin")
    for seq, value in enumerate((before, fill), start=1):
        reading = StoredReading(
            "bin-1", "bin", "v", "p", 1, seq, seq * 60, True, {"fill_pct": value}
        )
        collected = observe(track, reading, seq * 60.0, th)
    assert (collected is not None) is bin_emptied(before, fill, th)
    state = device_state("bin", True, {"fill_pct": fill}, th)
    assert (state == "bin_overflow") is bin_overflowing(fill, th)
    assert (state in ("bin_full", "bin_overflow")) is (
        bin_full(fill, th) or bin_overflowing(fill, th)
    )
    if bin_overflowing(fill, th):
        assert AlertType.BIN_OVERFLOW in track.held
    events = full_events([(60, before), (120, fill)], th, baseline=0.0)
    starts_full = bin_full(before, th)
    assert bool(events) is (starts_full or bin_full(fill, th))
    if starts_full and bin_emptied(before, fill, th):
        assert events == [(60, 120)]


@given(
    st.integers(250, 450).map(lambda n: n / 100),
    st.sampled_from([3.2, 3.3, 3.4, 3.5]).map(lambda v: Thresholds(battery_low_v=v)),
)
def test_a_battery_the_pages_call_weak_is_one_the_alert_calls_low(
    volts: float, th: Thresholds
) -> None:
    """The pages' "Yếu – cần thay" and the low-battery alert open at the same voltage."""
    track = Track("bin-1", "bin")
    observe(track, StoredReading("bin-1", "bin", "v", "p", 1, 1, 60, True, {"battery_v": volts}),
            60.0, th)  # fmt: skip
    level = battery_level(volts, th)
    assert (level == "low") is (AlertType.BATTERY_LOW in track.held)
    assert (level == "good") is (volts >= th.battery_low_v + 0.3 - 1e-9)


def test_scores_and_alerts_use_the_village_overrides() -> None:
    commune = load_registry(SAMPLE_REGISTRY)
    village = commune.villages[0]
    tuned = village.model_copy(update={"alerts": AlertThresholds(bin_full_pct=70.0)})
    found = effective_thresholds(
        AlertThresholds(min_lit_current_a=0.1), [tuned, *commune.villages[1:]]
    )
    assert found[village.id].bin_full_pct == 70.0
    assert found[village.id].min_lit_current_a == 0.1  # the commune's, kept
    assert found[commune.villages[1].id].bin_full_pct == 80.0
    from sangsach.backend.scores.compute import CommuneRules

    rules = CommuneRules.of(commune.model_copy(update={"villages": [tuned, *commune.villages[1:]]}))
    assert rules.thresholds[village.id].bin_full_pct == 70.0
