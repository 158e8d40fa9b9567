"""The boot counter survives a damaged copy; wrong types in the state and settings files are
named with the file and the key. Under MicroPython, scenarios of flash_checks.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import Device, Watcher, node_settings
from tests.firmware.test_flash import checks

LOST_FLOOR = 2**30  # where a counter with no readable copy restarts (firmware/lib/store.py)
LAMP = "lamp-dong-ha-003"


def test_one_damaged_copy_the_other_is_used_and_the_counter_never_goes_back(
    tmp_path: Path,
) -> None:
    log, out = checks(tmp_path, "state_one_copy")
    assert "error" not in out, out
    boot, seq, last_sync = out["wake"]
    # Boot 3 had reached seq 5 in the damaged copy: a new boot, never (3, 0) again.
    assert (boot, seq, last_sync) == (4, 0, 1234)
    assert out["next_boot"] == 5
    assert any("unreadable" in line for line in log)


def test_both_copies_damaged_the_counter_jumps_above_any_real_count(tmp_path: Path) -> None:
    log, out = checks(tmp_path, "state_both_copies")
    assert "error" not in out, out
    assert out["boot"] > LOST_FLOOR
    assert any("no readable boot counter" in line for line in log)


def test_a_boot_written_as_text_is_named_and_does_not_stop_the_node(tmp_path: Path) -> None:
    log, out = checks(tmp_path, "state_boot_as_text")
    assert "error" not in out, out
    assert out["boot"] > LOST_FLOOR  # never back to 1: readings would be dropped as duplicates
    assert any("state.json: boot must be a whole number" in line for line in log), log


def test_an_unreadable_state_json_never_sends_the_counter_back_to_1(tmp_path: Path) -> None:
    log, out = checks(tmp_path, "state_json_unreadable")
    assert "error" not in out, out
    assert out["boot"] > LOST_FLOOR  # firmware 1.0 started again at 1
    assert any("state.json is not JSON" in line for line in log), log
    assert any("no readable boot counter" in line for line in log), log


def test_wrong_types_in_the_provisioning_file_fall_back_to_defaults(tmp_path: Path) -> None:
    log, out = checks(tmp_path, "state_provisioned")
    assert "error" not in out, out
    assert out["fields"] == [43, 0, False, None]  # boot 42 is the floor; the rest defaults
    named = " ".join(log)
    for key in ("wakes", "synced", "config"):
        assert f"state.json: {key} must be" in named


def test_a_setting_of_the_wrong_type_stops_the_node_naming_file_and_key(tmp_path: Path) -> None:
    _, out = checks(tmp_path, "settings_type")
    assert out.get("refused") == "settings.json: buffer_slots must be a whole number, not '500'"


def test_a_node_on_damaged_flash_starts_says_what_it_found_and_sends(
    broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    """The whole lamp firmware, its flash damaged before it starts: garbage where its buffer
    and its buffer's index are, a boot counter written as text. It neither stops nor
    crash-loops, and what it lost goes out as the batch's ``dropped``."""
    settings = node_settings(LAMP, "lamp", broker.port, report_interval_s=10)
    node = devices(settings, speed=50, start_ts=time.time() - 3600, lux=3.0)
    buffer = node.flash / "readings"
    buffer.mkdir()
    (buffer / "0").write_bytes(bytes(range(256)) * 8)  # markers and lengths in it, no record
    (buffer / "head").write_bytes(b"\xff\x00 not an index")
    (node.flash / "state.json").write_text('{"boot": "42"}', encoding="utf-8")
    node.start()
    readings = watcher.wait_readings(LAMP, lambda rs: len(rs) >= 3, "readings from the node")
    births = watcher.births(LAMP)
    node.stop()
    assert births and births[0]["boot"] > LOST_FLOOR
    assert {r["boot"] for r in readings} == {births[0]["boot"]}
    first = watcher.of(LAMP, "telemetry")[0].body
    assert first["dropped"] >= 1  # the garbage, reported once
    assert all(m.body.get("dropped", 0) == 0 for m in watcher.of(LAMP, "telemetry")[1:])
    log = "\n".join(node.lines)
    assert "state.json: boot must be a whole number" in log
    assert "ring: head unreadable" in log
    assert "corrupt record skipped" in log
    assert "Traceback" not in log
