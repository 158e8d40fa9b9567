"""Small runs of the benchmarks: they work end to end and count right. No timing is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import drain, influx_lines, report
from bench.alert_latency import measure
from sangsach.localbroker import LocalBroker
from tests.services import InfluxD

pytestmark = pytest.mark.e2e


def test_alert_latency_benchmark_smoke(tmp_path: Path) -> None:
    row = measure(rate=30, seconds=4, probe_every=1.0, root=tmp_path)
    assert row["probes"] >= 3, "every probe should raise an alert whose SMS reaches the carrier"
    assert row["readings"] > 100
    assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]


def test_drain_benchmark_counts_every_reading_once(
    broker: LocalBroker, influxd: InfluxD, tmp_path: Path
) -> None:
    """References and two gateways on one shared subscription drain the same 3,000 readings;
    then one gateway drains 3,000 of an alert storm."""
    result = drain.run(drain.Servers(broker, influxd), tmp_path, 3_000, 300, [2])

    rows = {row["pipeline"]: row for row in result["rows"]}
    assert list(rows) == [
        "mosquitto_sub (broker alone)",
        "minimal Python consumer",
        "ours, 2 gateways",
        "ours, 1 gateway, alert storm (every lamp cycling)",
    ]
    for name, row in rows.items():
        assert (row["lost"], row["duplicated"]) == (0, 0), name
        assert row["readings_per_s"] > 0 and row["consumer_cpu_ms_per_1000"] > 0, name
    ours = rows["ours, 2 gateways"]
    assert ours["stored"] == 3_000
    assert set(ours["cpu_ms_per_1000"]) >= {"backend", "gateway 1", "gateway 2", "influxd"}
    text = report.markdown({"machine": {"cpus": 2, "cpu": "x", "python": "3", "system": "y",
                                        "load_before": "0"}, "drain": result})  # fmt: skip
    assert "| ours, 2 gateways |" in text


def test_line_shape_benchmark_stores_every_point_of_every_shape(tmp_path: Path) -> None:
    costs = influx_lines.measure(2_000, 200, 2, tmp_path)  # raises if a point is missing

    assert list(costs) == list(influx_lines.SHAPES)
    assert all(len(runs) == 2 and all(x >= 0 for x in runs) for runs in costs.values())
