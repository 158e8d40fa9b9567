"""A track's freshness (issue 22): what a batch may leave unsaved, and why every reading is
still judged."""

from __future__ import annotations

from sangsach.backend.alerts.model import AlertType, Thresholds
from sangsach.backend.alerts.rules import (
    Track,
    catch_up,
    conditions,
    observe,
    same_but_freshness,
)
from sangsach.backend.domain.readings import StoredReading

TH = Thresholds()
T0 = 1_780_000_000


def dark(seq: int, ts: int) -> StoredReading:
    values = {"on": True, "current_a": 0.0, "voltage_v": 230.0, "lux": 2.0, "fault": False}
    return StoredReading("lamp-1", "lamp", "v", "p", 1, seq, ts, True, values)  # type: ignore[arg-type]


def test_a_reading_like_the_one_before_changes_only_freshness_yet_can_open_an_alert() -> None:
    """Why the engine judges every device of a batch: the same dark reading, ten minutes on,
    is a lamp fault (its debounce runs on the data's time). Only the saving is skipped."""
    night = lambda t: True  # noqa: E731 - the lamp must be lit all along
    track = Track("lamp-1", "lamp")
    observe(track, dark(1, T0), T0 + 1.0, TH)
    observe(track, dark(2, T0 + 300), T0 + 301.0, TH)
    before = track.copy()
    assert AlertType.LAMP_FAULT not in conditions(before, T0 + 300, night, TH).holding
    observe(track, dark(3, T0 + TH.lamp_fault_debounce_s), T0 + 601.0, TH)
    assert track != before and same_but_freshness(track, before)
    assert AlertType.LAMP_FAULT in conditions(track, T0 + 600, night, TH).holding


def test_a_switch_is_more_than_freshness() -> None:
    track = Track("lamp-1", "lamp")
    observe(track, dark(1, T0), T0 + 1.0, TH)
    before = track.copy()
    lit = StoredReading("lamp-1", "lamp", "v", "p", 1, 2, T0 + 300, True,
                        {"on": True, "current_a": 0.2})  # fmt: skip
    observe(track, lit, T0 + 301.0, TH)
    assert not same_but_freshness(track, before)


def test_catch_up_takes_the_newer_stored_reading_and_never_moves_back() -> None:
    track = Track("lamp-1", "lamp", last_ts=T0, last_seen=T0 + 1.0)
    catch_up(track, T0 + 300, T0 + 301.0)
    assert (track.last_ts, track.last_seen) == (T0 + 300, T0 + 301.0)
    catch_up(track, T0, T0 + 1.0)  # an older row: the track keeps what it saw
    assert (track.last_ts, track.last_seen) == (T0 + 300, T0 + 301.0)
    catch_up(track, None, None)  # a device without a stored reading
    assert (track.last_ts, track.last_seen) == (T0 + 300, T0 + 301.0)
    fresh = Track("lamp-2", "lamp")
    catch_up(fresh, T0, T0 + 1.0)
    assert (fresh.last_ts, fresh.last_seen) == (T0, T0 + 1.0)
