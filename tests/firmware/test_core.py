"""The firmware's pure logic, its flash ring buffer and the host fakes, under MicroPython."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sangsach.contract.limits import LIMITS
from tests.firmware.conftest import HEAP, MICROPYTHON, ROOT, VALIDATORS

HERE = Path(__file__).parent


def micropython(script: Path, *args: str) -> str:
    done = subprocess.run(
        [str(MICROPYTHON), "-X", f"heapsize={HEAP}", str(script), *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("flash")
    out = micropython(HERE / "core_checks.py", str(ROOT), str(workdir))
    return json.loads(out.splitlines()[-1])  # type: ignore[no-any-return]


def test_distance_is_the_median_of_plausible_echoes(results: dict[str, Any]) -> None:
    assert results["distance"] == pytest.approx(50.0, abs=0.1)  # a timeout and a ghost dropped
    assert results["too_few"] is None  # three of five pings failed: no guess
    assert results["blind_zone"] is None  # every echo inside a JSN-SR04T's blind zone
    assert results["median_even"] == 2.5


def test_fill_schedule_and_light_decisions(results: dict[str, Any]) -> None:
    assert results["fill"] == [100.0, 75.0, 0.0, 0.0]  # deeper than the bin is empty, not < 0
    assert results["overnight"] == [False, True, True, True, True, False, False]
    assert results["refused"] == ["24:00", "7:30", "12:60", "noon"]
    assert results["local_minute"] == 18 * 60 + 30
    # Dark switches on; off again only well above the threshold; no sensor keeps it lit.
    assert results["light"] == [True, False, True, False, True]
    assert results["within"] == [False, False, True]


def test_the_firmware_limits_are_the_contract_limits(results: dict[str, Any]) -> None:
    assert results["limits"] == {name: [lim.low, lim.high] for name, lim in LIMITS.items()}


def test_full_ring_drops_the_oldest_counts_them_and_keeps_state_in_flash(
    results: dict[str, Any],
) -> None:
    batch = json.loads(results["batch"])
    assert batch == {"readings": [{"seq": 2}, {"seq": 3}, {"seq": 4}], "dropped": 2}
    count, dropped, rest = results["after_reset"]
    assert (count, dropped, json.loads(rest)) == (1, 0, {"seq": 5})


def test_a_batch_with_drops_is_valid_on_the_wire() -> None:
    reading = {"id": "bin-dong-ha-01", "kind": "bin", "boot": 1, "seq": 9, "ts": 1795970000,
               "fill_pct": 40.0}  # fmt: skip
    assert not list(VALIDATORS["batch"].iter_errors({"readings": [reading], "dropped": 2}))


def test_the_fake_watchdog_resets_a_node_that_stops_feeding_it(tmp_path: Path) -> None:
    """The watchdog checks of the other tests can fail: starving the fake WDT resets."""
    (tmp_path / "settings.json").write_text("{}")
    (tmp_path / "control.json").write_text(json.dumps({"speed": 100, "start_ts": 0}))
    script = tmp_path / "starve.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"os.chdir({str(tmp_path)!r})\n"
        "from tests.firmware.fakes import machine, sim\n"
        "sim.setup('control.json', {})\n"
        "dog = machine.WDT(timeout=1000)\n"
        "dog.feed()\n"
        "try:\n"
        "    sim.now().sleep_ms(1500)\n"
        "    sim.now().sleep_ms(10)\n"
        "except sim.Reset:\n"
        "    print('reset', machine.reset_cause() == machine.WDT_RESET)\n"
    )
    assert micropython(script).splitlines()[-1] == "reset True"


def test_logic_runs_unchanged_on_cpython_too() -> None:
    """Pure means pure: the module imports nothing from MicroPython."""
    spec = importlib.util.spec_from_file_location("fw_logic", ROOT / "firmware/lib/logic.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.fill_pct(40.0, 80.0) == 50.0
