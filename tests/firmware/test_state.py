"""The boot counter survives a damaged copy; wrong types in the state and settings files are
named with the file and the key. Under MicroPython, scenarios of flash_checks.py."""

from __future__ import annotations

from pathlib import Path

from tests.firmware.test_flash import checks

LOST_FLOOR = 2**30  # where a counter with no readable copy restarts (firmware/lib/store.py)


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
