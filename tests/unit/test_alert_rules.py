"""Alert rules and lifecycle with a fake clock, at the exact edges."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sangsach.backend.alerts.lifecycle import (
    Alert,
    Level,
    NoticeKind,
    State,
    acknowledge,
    apply_conditions,
    due_notices,
)
from sangsach.backend.alerts.model import AlertType, Policy, Thresholds
from sangsach.backend.alerts.rules import (
    Conditions,
    Track,
    came_online,
    conditions,
    observe,
    went_offline,
)
from sangsach.backend.domain.readings import StoredReading

TH = Thresholds()
T0 = 1_780_000_000  # the tests' own clock; "night" below is whatever `required` says


def reading(kind: str, seq: int, ts: int, **values: object) -> StoredReading:
    return StoredReading("dev-1", kind, "v", "p", 1, seq, ts, True, dict(values))  # type: ignore[arg-type]


def night_from(start: int, end: int):  # type: ignore[no-untyped-def]
    return lambda t: start <= t < end


def lamp_track(*states: tuple[int, bool]) -> Track:
    track = Track("dev-1", "lamp")
    for seq, (ts, on) in enumerate(states):
        observe(track, reading("lamp", seq, ts, on=on, current_a=0.18 if on else 0.0), ts + 1, TH)
    return track


def test_lamp_fault_exactly_at_the_debounce() -> None:
    required = night_from(T0, T0 + 36_000)
    track = lamp_track((T0 - 100, False), (T0 + 300, False))
    debounce = TH.lamp_fault_debounce_s
    assert AlertType.LAMP_FAULT not in conditions(track, T0 + debounce - 1, required, TH).holding
    assert AlertType.LAMP_FAULT in conditions(track, T0 + debounce, required, TH).holding


def test_relay_on_without_current_is_a_fault() -> None:
    required = night_from(T0, T0 + 36_000)
    track = Track("dev-1", "lamp")
    observe(track, reading("lamp", 0, T0, on=True, current_a=0.0, fault=True), T0, TH)
    observe(track, reading("lamp", 1, T0 + 300, on=True, current_a=0.0, fault=True), T0 + 300, TH)
    assert AlertType.LAMP_FAULT in conditions(track, T0 + 600, required, TH).holding


def test_lamp_lit_at_night_is_fine_and_day_burning_after_its_debounce() -> None:
    dawn = T0 + 36_000
    required = night_from(T0, dawn)
    track = lamp_track((T0 + 10, True), (dawn + 100, True))
    assert conditions(track, T0 + 5000, required, TH).holding == frozenset()
    burn = TH.day_burning_debounce_s
    track.last_seen = dawn + burn  # heartbeats keep saying "on"
    assert AlertType.DAY_BURNING not in conditions(track, dawn + burn - 1, required, TH).holding
    assert AlertType.DAY_BURNING in conditions(track, dawn + burn, required, TH).holding


def test_cycling_counts_switches_in_the_window() -> None:
    required = night_from(T0, T0 + 36_000)
    states = [(T0 + 100 * i, i % 2 == 0) for i in range(TH.cycling_switches + 1)]
    track = lamp_track(*states)
    last = states[-1][0]
    assert AlertType.CYCLING in conditions(track, last, required, TH).holding
    first_switch = states[1][0]
    later = first_switch + TH.cycling_window_s
    assert AlertType.CYCLING not in conditions(track, later, required, TH).holding


def test_offline_by_will_and_by_silence_and_nothing_else_judged() -> None:
    required = night_from(T0, T0 + 36_000)
    track = lamp_track((T0, False))
    limit = TH.offline_intervals * TH.lamp_report_interval_s
    assert AlertType.DEVICE_OFFLINE not in conditions(track, T0 + 1 + limit, required, TH).holding
    silent = conditions(track, T0 + 2 + limit, required, TH)
    assert silent.holding == {AlertType.DEVICE_OFFLINE}
    assert AlertType.LAMP_FAULT in silent.unknown
    came_online(track, T0 + 10)
    went_offline(track, T0 + 20)
    assert conditions(track, T0 + 30, required, TH).holding == {AlertType.DEVICE_OFFLINE}


def test_bin_full_overflow_overdue_and_collection() -> None:
    track = Track("bin-1", "bin")
    assert observe(track, reading("bin", 0, T0, fill_pct=79.9), T0, TH) is None
    assert conditions(track, T0, night_from(0, 0), TH).holding == frozenset()
    observe(track, reading("bin", 1, T0 + 600, fill_pct=80.0), T0 + 600, TH)
    assert conditions(track, T0 + 600, night_from(0, 0), TH).holding == {AlertType.BIN_FULL}
    observe(track, reading("bin", 2, T0 + 1200, fill_pct=96.0, temp_c=75.0), T0 + 1200, TH)
    overdue_at = T0 + 600 + TH.collection_sla_s
    track.last_seen = overdue_at  # the bin reports hourly; its data is fresh
    found = conditions(track, overdue_at - 1, night_from(0, 0), TH).holding
    assert found == {AlertType.BIN_FULL, AlertType.BIN_OVERFLOW, AlertType.FIRE}
    assert AlertType.BIN_OVERDUE in conditions(track, overdue_at, night_from(0, 0), TH).holding
    collected = observe(
        track, reading("bin", 3, overdue_at + 60, fill_pct=5.0), overdue_at + 60, TH
    )
    assert collected == overdue_at + 60
    assert conditions(track, overdue_at + 60, night_from(0, 0), TH).holding == {AlertType.FIRE}


def _held(track: Track) -> frozenset[AlertType]:
    track.last_seen = track.last_ts
    return conditions(track, track.last_ts or 0, night_from(0, 0), TH).holding


def test_bin_conditions_hold_through_sensor_noise_until_past_the_margin() -> None:
    track = Track("bin-1", "bin")
    observe(track, reading("bin", 0, T0, fill_pct=80.5, battery_v=3.40), T0, TH)
    assert _held(track) == {AlertType.BIN_FULL, AlertType.BATTERY_LOW}
    full_since = track.full_since
    # Noise just under the thresholds: nothing clears, the overdue clock keeps running.
    observe(track, reading("bin", 1, T0 + 600, fill_pct=79.2, battery_v=3.45), T0 + 600, TH)
    assert _held(track) == {AlertType.BIN_FULL, AlertType.BATTERY_LOW}
    assert track.full_since == full_since
    # Past the margins (10 points of fill below 80, 0.1 V above 3.4): they clear.
    observe(track, reading("bin", 2, T0 + 1200, fill_pct=69.9, battery_v=3.51), T0 + 1200, TH)
    assert _held(track) == frozenset()
    assert track.full_since is None


def test_a_collection_clears_the_fill_alerts_even_inside_the_margin() -> None:
    track = Track("bin-1", "bin")
    observe(track, reading("bin", 0, T0, fill_pct=100.0), T0, TH)
    assert _held(track) == {AlertType.BIN_FULL, AlertType.BIN_OVERFLOW}
    assert observe(track, reading("bin", 1, T0 + 60, fill_pct=88.0), T0 + 60, TH) is None
    assert _held(track) == {AlertType.BIN_FULL, AlertType.BIN_OVERFLOW}  # 88 > 95 - 10
    observe(track, reading("bin", 2, T0 + 120, fill_pct=96.0), T0 + 120, TH)
    assert observe(track, reading("bin", 3, T0 + 180, fill_pct=66.0), T0 + 180, TH) == T0 + 180
    assert _held(track) == frozenset()


def test_fire_and_tilt_hold_until_well_past_their_thresholds() -> None:
    track = Track("bin-1", "bin")
    observe(track, reading("bin", 0, T0, temp_c=71.0, tilt_deg=31.0), T0, TH)
    assert _held(track) == {AlertType.FIRE, AlertType.TILTED}
    observe(track, reading("bin", 1, T0 + 60, temp_c=66.0, tilt_deg=21.0), T0 + 60, TH)
    assert _held(track) == {AlertType.FIRE, AlertType.TILTED}
    observe(track, reading("bin", 2, T0 + 120, temp_c=64.9, tilt_deg=19.9), T0 + 120, TH)
    assert _held(track) == frozenset()


def test_a_track_saved_before_the_latches_loads_and_relatches() -> None:
    saved = Track("bin-1", "bin", last_ts=T0, fill=85.0).to_json()
    del saved["held"]
    track = Track.from_json(saved)
    observe(track, reading("bin", 1, T0 + 60, fill_pct=85.5), T0 + 60, TH)
    assert _held(track) == {AlertType.BIN_FULL}


def test_a_late_replayed_reading_does_not_move_state_back() -> None:
    track = Track("bin-1", "bin")
    observe(track, reading("bin", 5, T0 + 600, fill_pct=90.0), T0 + 600, TH)
    observe(track, reading("bin", 4, T0, fill_pct=10.0), T0 + 700, TH)
    assert track.fill == 90.0


POLICY = Policy()


def at_local(hour: int, minute: int = 0) -> float:
    """A Unix time at this local (UTC+7) hour on a fixed day."""
    return datetime(2026, 6, 1, (hour - 7) % 24, minute, tzinfo=UTC).timestamp()


def opened(now: float, type_: AlertType = AlertType.LAMP_FAULT) -> Alert:
    return Alert("dev-1", type_, "v", opened_at=now, raised_at=now, next_notice_at=now)


def test_new_alert_notifies_the_team_at_once_outside_quiet_hours() -> None:
    alert = opened(at_local(18))
    [notice] = due_notices(alert, at_local(18), POLICY)
    assert (notice.kind, notice.levels) == (NoticeKind.NEW, (Level.TEAM,))
    assert due_notices(alert, at_local(18) + POLICY.reminder_s - 1, POLICY) == []
    [reminder] = due_notices(alert, at_local(18) + POLICY.reminder_s, POLICY)
    assert reminder.kind is NoticeKind.REMINDER and alert.reminders == 1


@pytest.mark.parametrize(("hour", "minute"), [(21, 0), (23, 59), (0, 0), (5, 59)])
def test_quiet_hours_across_midnight_hold_until_six(hour: int, minute: int) -> None:
    now = at_local(hour, minute)
    alert = opened(now)
    assert due_notices(alert, now, POLICY) == []
    assert alert.next_notice_at is not None
    morning = datetime.fromtimestamp(alert.next_notice_at, UTC)
    assert (morning.hour + 7) % 24 == 6 and morning.minute == 0
    assert [n.kind for n in due_notices(alert, alert.next_notice_at, POLICY)] == [NoticeKind.NEW]


def test_quiet_hours_edges() -> None:
    assert not POLICY.is_quiet(at_local(20, 59))
    assert POLICY.is_quiet(at_local(21, 0))
    assert POLICY.is_quiet(at_local(5, 59))
    assert not POLICY.is_quiet(at_local(6, 0))


def test_fire_is_sent_in_quiet_hours_to_team_and_head() -> None:
    active: dict[AlertType, Alert] = {}
    fire = Conditions(frozenset({AlertType.FIRE}), frozenset())
    [alert] = apply_conditions(active, "bin-1", "v", fire, at_local(2)).opened
    assert alert.critical and alert.level is Level.HEAD
    [notice] = due_notices(alert, at_local(2), POLICY)
    assert notice.levels == (Level.TEAM, Level.HEAD)


def test_escalation_to_head_then_office_at_exact_times() -> None:
    start = at_local(8)
    alert = opened(start)
    due_notices(alert, start, POLICY)
    head_at = start + POLICY.escalate_to_head_s
    assert [n.kind for n in due_notices(alert, head_at - 1, POLICY)] == [NoticeKind.REMINDER]
    [to_head] = due_notices(alert, head_at, POLICY)
    assert (to_head.kind, to_head.levels) == (NoticeKind.ESCALATION, (Level.HEAD,))
    office_at = start + POLICY.escalate_to_office_s
    [to_office] = due_notices(alert, office_at, POLICY)
    assert (to_office.kind, to_office.levels) == (NoticeKind.ESCALATION, (Level.OFFICE,))


def test_acknowledged_alert_is_not_reminded_and_clears_when_fixed() -> None:
    active: dict[AlertType, Alert] = {}
    holding = Conditions(frozenset({AlertType.BIN_FULL}), frozenset())
    changes = apply_conditions(active, "bin-1", "v", holding, at_local(9))
    [alert] = changes.opened
    assert apply_conditions(active, "bin-1", "v", holding, at_local(10)).opened == []
    acknowledge(alert, "+84912000181", at_local(10))
    assert alert.state is State.ACKED
    assert due_notices(alert, at_local(15), POLICY) == []
    unknown = Conditions(frozenset({AlertType.DEVICE_OFFLINE}), frozenset({AlertType.BIN_FULL}))
    assert apply_conditions(active, "bin-1", "v", unknown, at_local(11)).cleared == []
    gone = Conditions(frozenset(), frozenset())
    changes = apply_conditions(active, "bin-1", "v", gone, at_local(12))
    assert {a.type for a in changes.cleared} == {AlertType.BIN_FULL, AlertType.DEVICE_OFFLINE}
    assert (alert.state, alert.cleared_at) == (State.CLEARED, at_local(12))


def test_no_alert_clears_before_it_opened() -> None:
    """The tick opens an offline alert at its clock; the node's replayed buffer then starts
    with readings older than that. The alert ends when the node is heard again (the judging
    clock), and no alert's time to clear is negative (the reports' mean hours)."""
    active: dict[AlertType, Alert] = {}
    offline = Conditions(frozenset({AlertType.DEVICE_OFFLINE}), frozenset())
    [alert] = apply_conditions(active, "lamp-1", "v", offline, at_local(12)).opened
    fine = Conditions(frozenset(), frozenset())
    [cleared] = apply_conditions(
        active, "lamp-1", "v", fine, at_local(3), clock=at_local(14)
    ).cleared
    assert cleared is alert and alert.cleared_at == at_local(14)

    fault = Conditions(frozenset({AlertType.LAMP_FAULT}), frozenset())
    [late] = apply_conditions(active, "lamp-1", "v", fault, at_local(20)).opened
    [cleared] = apply_conditions(
        active, "lamp-1", "v", fine, at_local(19), clock=at_local(21)
    ).cleared
    assert cleared is late and late.cleared_at == at_local(20)


def test_registry_threshold_names_are_the_engines() -> None:
    from dataclasses import fields

    from sangsach.registry_file import AlertThresholds

    assert set(AlertThresholds.model_fields) == {f.name for f in fields(Thresholds)}


def test_a_burnt_lamp_stays_in_fault_through_the_day_until_seen_lit() -> None:
    dawn = T0 + 36_000
    required = night_from(T0, dawn)
    track = lamp_track((T0 + 10, False), (T0 + 1000, False))
    assert AlertType.LAMP_FAULT in conditions(track, T0 + 1000, required, TH).holding
    observe(track, reading("lamp", 2, dawn + 100, on=False, current_a=0.0), dawn + 100, TH)
    by_day = conditions(track, dawn + 100, required, TH)
    assert AlertType.LAMP_FAULT not in by_day.holding
    assert AlertType.LAMP_FAULT in by_day.unknown, "by day nobody knows whether it was fixed"
    observe(track, reading("lamp", 3, dawn + 200, on=True, current_a=0.2), dawn + 200, TH)
    assert AlertType.LAMP_FAULT not in conditions(track, dawn + 200, required, TH).unknown


def test_a_copied_track_changes_alone() -> None:
    # Copies share the tuples of a track: the rules must replace them, never change them.
    bin_track = Track("bin-1", "bin")
    observe(bin_track, reading("bin", 0, T0, fill_pct=85.0), T0, TH)
    lamp = lamp_track((T0, True), (T0 + 10, False))
    before = {"bin": (bin_track.copy(), bin_track), "lamp": (lamp.copy(), lamp)}
    copies = {kind: original.copy() for kind, (_, original) in before.items()}
    observe(copies["bin"], reading("bin", 1, T0 + 60, fill_pct=99.0, temp_c=80.0), T0 + 60, TH)
    observe(copies["bin"], reading("bin", 2, T0 + 120, fill_pct=5.0), T0 + 120, TH)
    observe(copies["lamp"], reading("lamp", 9, T0 + 20, on=True, current_a=0.2), T0 + 20, TH)
    for kind, (saved, original) in before.items():
        assert original == saved, f"the {kind} track changed with its copy"
        assert copies[kind] != original
    assert copies["lamp"].switches == (T0 + 10, T0 + 20)
    assert copies["bin"].held == (AlertType.FIRE,)


def test_a_track_is_stored_as_json_and_loads_back_equal() -> None:
    track = lamp_track((T0, True), (T0 + 10, False), (T0 + 20, True))
    observe(track, reading("lamp", 9, T0 + 30, on=False), T0 + 30, TH)
    saved = track.to_json()
    assert saved["switches"] == [T0 + 10, T0 + 20, T0 + 30]
    assert Track.from_json(json.loads(json.dumps(saved))) == track


def test_a_sensor_fault_holds_after_its_debounce_and_clears_with_a_clean_reading() -> None:
    debounce = TH.sensor_fault_debounce_s
    track = Track("bin-1", "bin")
    observe(track, reading("bin", 0, T0, fill_pct=40.0, sensor_errors="tilt"), T0, TH)
    assert AlertType.SENSOR_FAULT not in conditions(track, T0, night_from(0, 0), TH).holding
    late = T0 + debounce
    observe(track, reading("bin", 1, late, fill_pct=41.0, sensor_errors="tilt"), late, TH)
    assert AlertType.SENSOR_FAULT in conditions(track, late, night_from(0, 0), TH).holding
    assert track.failed == ("tilt",) and track.failed_since == T0
    observe(track, reading("bin", 2, late + 600, fill_pct=42.0), late + 600, TH)
    assert AlertType.SENSOR_FAULT not in conditions(track, late + 600, night_from(0, 0), TH).holding
    saved = track.to_json()  # (read back: mypy keeps the narrowing of the asserts above)
    assert saved["failed"] == [] and saved["failed_since"] is None


def test_one_failed_reading_among_good_ones_raises_nothing() -> None:
    track = Track("lamp-1", "lamp")
    required = night_from(T0, T0 + 36_000)
    for seq in range(20):
        ts = T0 + 300 * seq
        failed = {"sensor_errors": "lux"} if seq % 2 else {}
        observe(track, reading("lamp", seq, ts, on=True, current_a=0.2, **failed), ts, TH)
        assert AlertType.SENSOR_FAULT not in conditions(track, ts, required, TH).holding


def test_a_lamp_sensor_fault_is_judged_and_unknown_while_offline() -> None:
    required = night_from(T0, T0 + 36_000)
    track = Track("lamp-1", "lamp")
    for seq in range(8):
        ts = T0 + 300 * seq
        observe(track, reading("lamp", seq, ts, on=True, sensor_errors="current"), ts, TH)
    now = T0 + 300 * 7
    assert AlertType.SENSOR_FAULT in conditions(track, now, required, TH).holding
    went_offline(track, now + 1)
    assert AlertType.SENSOR_FAULT in conditions(track, now + 1, required, TH).unknown


def test_fire_holds_from_the_temperature_of_a_reading_without_a_fill_level() -> None:
    track = Track("bin-1", "bin")
    observe(track, reading("bin", 0, T0, fill_pct=50.0, temp_c=30.0), T0, TH)
    fire = reading("bin", 1, T0 + 60, temp_c=80.0, sensor_errors="ultrasonic")
    observe(track, fire, T0 + 60, TH)
    holding = conditions(track, T0 + 60, night_from(0, 0), TH).holding
    assert AlertType.FIRE in holding
    assert track.fill == 50.0  # not measured: the last measured fill stands, no collection


def test_a_track_saved_before_sensor_faults_loads() -> None:
    saved = Track("bin-1", "bin", last_ts=T0).to_json()
    del saved["failed"], saved["failed_since"]
    track = Track.from_json(saved)
    observe(track, reading("bin", 1, T0 + 60, fill_pct=5.0, sensor_errors="battery"), T0 + 60, TH)
    assert track.failed == ("battery",)
    assert Track.from_json(json.loads(json.dumps(track.to_json()))) == track
