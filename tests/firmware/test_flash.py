"""The readings buffer and the state on MicroPython's own LittleFS: flash wear, corrupt records.

The wear figures of docs/firmware.md come from here:

    .venv/bin/pytest tests/firmware/test_flash.py -k wear -s
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.firmware.conftest import HEAP, MICROPYTHON, ROOT

HERE = Path(__file__).parent
LIB = ROOT / "firmware" / "lib"
ERASE_CYCLES = 100_000  # per block, the flash chips of ESP32 modules
PER_DAY = {"lamp": 300, "bin": 144}  # lamp readings (docs/firmware.md); bin wakes, every 10 min


def run(script: str, *args: str, heap: str = HEAP) -> tuple[list[str], dict[str, Any]]:
    done = subprocess.run(
        [str(MICROPYTHON), "-X", f"heapsize={heap}", str(HERE / script), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    return lines[:-1], json.loads(lines[-1])


def checks(tmp_path: Path, scenario: str) -> tuple[list[str], dict[str, Any]]:
    """One scenario of flash_checks.py on the firmware of this tree, in a fresh flash folder."""
    flash = tmp_path / scenario
    flash.mkdir()
    return run("flash_checks.py", str(LIB), str(flash), scenario)


@pytest.mark.parametrize(("role", "readings"), [("lamp", 3000), ("bin", 1000)])
def test_wear_per_reading_and_years_to_wear_out(role: str, readings: int) -> None:
    _, wear = run("flash_wear.py", str(ROOT), str(LIB), role, str(readings), heap="6M")
    erases, written = wear["erases"] / readings, wear["programmed"] / readings
    free_blocks = wear["blocks"] - wear["blocks_used_by_files"]
    # LittleFS allocates fresh blocks round the whole free space: the erases spread over it.
    years = ERASE_CYCLES * free_blocks / (erases * PER_DAY[role]) / 365
    days = readings / PER_DAY[role]
    worst_years = ERASE_CYCLES / (wear["most_erased_block"] / days) / 365
    print(
        f"\n{role}: {erases:.2f} erases and {written / 1024:.1f} KB programmed per reading; "
        f"{free_blocks} free blocks of {wear['block_size']} bytes: {years:.0f} years to wear-out; "
        f"the most erased block ({wear['most_erased_block']} in {days:.0f} days): "
        f"{worst_years:.0f} years"
    )
    assert erases < 2
    assert written < 8 * 1024
    assert years > 20
    assert worst_years > 20  # no block is worn much faster than the rest


def test_corrupt_records_are_skipped_counted_and_reported_once(tmp_path: Path) -> None:
    log, out = checks(tmp_path, "ring_corrupt")
    assert "error" not in out, out
    assert out["count"] == 5  # seven readings, two of them garbled
    sent = [reading["seq"] for message in out["messages"] for reading in message["readings"]]
    assert sent == [0, 1, 3, 4, 6]
    assert [message["dropped"] for message in out["messages"]] == [1, 1]  # the batch field
    assert out["after"] == [{"seq": 7, "kind": "lamp", "on": True}]  # alone: nothing counted again
    assert out["corrupt"] == 2  # kept in flash, in the buffer's index
    assert any("corrupt record skipped" in line for line in log)


def test_a_buffer_of_garbage_does_not_stop_the_node(tmp_path: Path) -> None:
    _, out = checks(tmp_path, "ring_garbage")
    assert "error" not in out, out
    readings = [r for message in out["messages"] for r in message.get("readings", [message])]
    assert readings == [{"seq": 9, "kind": "lamp", "on": True}]
