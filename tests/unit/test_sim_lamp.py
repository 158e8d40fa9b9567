"""A simulated lamp node, driven through a day: schedule, heartbeats and each lamp fault."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from random import Random

from sangsach.contract import LampReading
from sangsach.simulators.faults import NO_FAULTS, DeviceFaults, LampFault, Outage
from sangsach.simulators.lamp import CYCLE_S, REPORT_INTERVAL_S, SWITCH_JITTER_S, LampNode, LampSpec
from sangsach.simulators.node import Birth, Crash, Node, Output, Send, first_boot
from sangsach.sun import VIETNAM, dusk_dawn

SPEC = LampSpec("lamp-test-001", 20.72, 106.23, watts=40)
DAY = date(2025, 3, 10)


def at(text: str) -> int:
    return int(datetime.fromisoformat(f"{DAY}T{text}").replace(tzinfo=VIETNAM).timestamp())


START = at("12:00")
B1 = first_boot(START)  # the first boot number of a node started at START
DUSK, DAWN = (int(moment.timestamp()) for moment in dusk_dawn(SPEC.lat, SPEC.lon, DAY))


def drive(node: Node, until: int) -> list[tuple[int, Output]]:
    """Wake the node whenever it asks, up to ``until``; what it sent, with the time."""
    sent: list[tuple[int, Output]] = []
    for _ in range(100_000):
        if node.next_wake >= until:
            return sent
        t = node.next_wake
        sent.extend((t, output) for output in node.wake(t))
    raise AssertionError("the node does not advance")


def readings(sent: list[tuple[int, Output]]) -> list[LampReading]:
    found = [o.message for _, o in sent if isinstance(o, Send)]
    assert all(isinstance(r, LampReading) for r in found)
    return [r for r in found if isinstance(r, LampReading)]


def lamp(faults: DeviceFaults = NO_FAULTS, seed: int = 1) -> LampNode:
    return LampNode(SPEC, faults, Random(seed), START)


def switches(rs: list[LampReading]) -> list[LampReading]:
    """The readings at which the relay changed."""
    return [r for prev, r in itertools.pairwise(rs) if r.on != prev.on]


def test_boots_then_reports_with_consecutive_numbers() -> None:
    sent = drive(lamp(), START + 86_400)
    t, birth = sent[0]
    assert t == START
    assert isinstance(birth, Birth)
    assert (birth.boot, birth.status.state, birth.status.kind) == (B1, "online", "lamp")
    rs = readings(sent)
    assert [r.seq for r in rs] == list(range(len(rs)))
    assert all(r.boot == B1 and r.synced for r in rs)
    assert all(b.ts - a.ts <= REPORT_INTERVAL_S for a, b in itertools.pairwise(rs))
    assert all(LampReading.model_validate_json(r.model_dump_json()) == r for r in rs)


def test_lit_from_dusk_to_dawn_and_reports_each_switch() -> None:
    rs = readings(drive(lamp(), START + 86_400))
    on, off = switches(rs)
    assert on.on and abs(on.ts - DUSK) <= SWITCH_JITTER_S
    assert not off.on and abs(off.ts - DAWN) <= SWITCH_JITTER_S
    for r in rs:
        if min(abs(r.ts - DUSK), abs(r.ts - DAWN)) > SWITCH_JITTER_S:
            assert r.on == (DUSK <= r.ts < DAWN), r


def test_measurements_are_those_of_a_healthy_40_w_lamp() -> None:
    rs = readings(drive(lamp(), START + 86_400))
    for r in rs:
        assert r.current_a is not None and r.voltage_v is not None and r.lux is not None
        assert 225 <= r.voltage_v <= 235
        if r.on:
            assert abs(r.current_a - 40 / 230) < 0.02
            assert not r.fault
        else:
            assert r.current_a == 0
    assert max(r.lux or 0 for r in rs if r.ts < DUSK) > 1000
    assert all((r.lux or 0) < 5 for r in rs if DUSK + 600 < r.ts < DAWN - 600)


def test_nodes_running_at_the_start_report_at_scattered_times() -> None:
    firsts = {readings(drive(lamp(seed=s), START + REPORT_INTERVAL_S))[0].ts for s in range(20)}
    assert len(firsts) > 10
    assert all(START <= t < START + REPORT_INTERVAL_S for t in firsts)


def test_burnt_out_lamp_is_on_without_current_and_says_so() -> None:
    since = at("22:00")
    faults = DeviceFaults(lamp=LampFault.BURNT_OUT, lamp_since=since)
    rs = readings(drive(lamp(faults), DAWN + 3600))
    before = [r for r in rs if r.on and r.ts < since]
    after = [r for r in rs if r.on and r.ts >= since]
    assert before and after
    assert all(r.current_a and not r.fault for r in before)
    assert all(r.current_a == 0 and r.fault for r in after)
    assert any(not r.on and r.ts > DAWN for r in rs)
    assert all(not r.fault for r in rs if not r.on)  # a lamp switched off is no fault


def test_day_burner_stays_on_in_daylight() -> None:
    since = at("13:00")
    rs = readings(drive(lamp(DeviceFaults(lamp=LampFault.DAY_BURNER, lamp_since=since)), DUSK))
    assert [r.ts for r in switches(rs)] == [since]
    assert all(r.on == (r.ts >= since) for r in rs)


def test_cycling_lamp_toggles_at_a_steady_pace_at_night() -> None:
    since = DUSK + 3600
    faults = DeviceFaults(lamp=LampFault.CYCLING, lamp_since=since)
    changes = switches(readings(drive(lamp(faults), DAWN - 3600)))
    at_night = [r.ts for r in changes if r.ts >= since]
    assert len(at_night) > 20
    gaps = {b - a for a, b in itertools.pairwise(at_night)}
    assert len(gaps) == 1
    assert CYCLE_S[0] <= gaps.pop() <= CYCLE_S[1]


def test_outage_crashes_then_reboots_with_the_next_boot_number() -> None:
    down, up = START + 3600, START + 7200
    sent = drive(lamp(DeviceFaults(outage=Outage(down, up))), START + 3 * 3600)
    crash = [(t, o) for t, o in sent if isinstance(o, Crash)]
    assert crash == [(down, Crash(B1))]
    assert not [t for t, _ in sent if down < t < up]
    after = [(t, o) for t, o in sent if t >= up]
    birth, first = after[0][1], after[1][1]
    assert isinstance(birth, Birth) and birth.boot == B1 + 1
    assert isinstance(first, Send) and isinstance(first.message, LampReading)
    assert (first.message.boot, first.message.seq, first.message.ts) == (B1 + 1, 0, up)


def test_unsynced_clock_counts_seconds_since_boot_for_the_first_readings() -> None:
    sent = drive(lamp(DeviceFaults(unsynced_readings=3)), START + 3 * 3600)
    birth = sent[0][1]
    assert isinstance(birth, Birth) and birth.status.ts is None
    rs = readings(sent)
    assert [r.synced for r in rs[:4]] == [False, False, False, True]
    times = [t for t, o in sent if isinstance(o, Send)]
    assert [r.ts for r in rs[:3]] == [t - START for t in times[:3]]
    assert rs[3].ts == times[3]


def test_a_later_run_boots_with_new_numbers() -> None:
    """A second run against the same backend must not repeat the first run's keys."""
    later = START + 3600
    _, birth = drive(LampNode(SPEC, NO_FAULTS, Random(1), later), later + 600)[0]
    assert isinstance(birth, Birth)
    assert birth.boot == first_boot(later) > B1
