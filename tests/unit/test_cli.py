"""The `sangsach` command: every sub-command explains itself; bad settings stop start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sangsach.cli import main


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("demo", "Run everything on one machine"),
        ("gateway", "Take device messages from the broker"),
        ("backend", "Serve the REST API"),
        ("simulate", "Simulate every lamp and bin"),
        ("registry", "Check or generate commune registry files"),
    ],
)
def test_help_says_what_each_command_does(command: str, says: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert says in result.output


@pytest.mark.parametrize(
    ("command", "variable", "value", "message"),
    [
        ("gateway", "SANGSACH_MQTT_PORT", "not-a-port", "invalid setting SANGSACH_MQTT_PORT"),
        ("backend", "SANGSACH_TIMESERIES", "excel", "invalid setting SANGSACH_TIMESERIES"),
        (
            "backend",
            "SANGSACH_REGISTRY_FILE",
            "/nonexistent/commune.yaml",
            "cannot read the registry file",
        ),
    ],
)
def test_bad_setting_stops_start_up_naming_it(
    command: str, variable: str, value: str, message: str, tmp_path: Path
) -> None:
    env = {**os.environ, variable: value, "SANGSACH_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "sangsach", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr


def test_registry_check_reports_line_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "commune.yaml"
    broken.write_text("commune:\n  name: X\n  district: Y\n  province: Z\n  latitude: 95\n"
                      "  longitude: 106\nvillages: []\n", encoding="utf-8")  # fmt: skip
    result = CliRunner().invoke(main, ["registry", "check", str(broken)])
    assert result.exit_code == 2
    assert (
        f"{broken}:5: commune.latitude: Input should be less than or equal to 90" in result.output
    )
    assert f"{broken}:7: villages: List should have at least 1 item" in result.output


def test_a_report_of_an_unreadable_period_says_its_forms_in_vietnamese(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--period", "H1-2026", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith("sangsach: không đọc được kỳ 'H1-2026'. Kỳ viết là 2026-06")
    assert "(period 'H1-2026': expected" in result.output  # the parser's reason, after
    assert list(tmp_path.iterdir()) == []


def test_simulate_without_a_broker_says_so(tmp_path: Path) -> None:
    from sangsach.localbroker import free_port

    env = {**os.environ, "SANGSACH_MQTT_PORT": str(free_port())}
    done = subprocess.run(
        [sys.executable, "-m", "sangsach", "simulate", "--hours", "0.1"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "sangsach:" in done.stderr
    assert "Traceback" not in done.stderr


def test_backend_with_influxdb_unreachable_says_so(tmp_path: Path) -> None:
    from sangsach.localbroker import free_port

    env = {**os.environ, "SANGSACH_DATA_DIR": str(tmp_path), "SANGSACH_TIMESERIES": "influxdb",
           "SANGSACH_INFLUX_URL": f"http://127.0.0.1:{free_port()}"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "sangsach", "backend"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "the time-series store (influxdb) is not usable" in done.stderr
