"""A small run of the alert-latency benchmark: it works end to end. No timing is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.alert_latency import measure

pytestmark = pytest.mark.e2e


def test_alert_latency_benchmark_smoke(tmp_path: Path) -> None:
    row = measure(rate=30, seconds=4, probe_every=1.0, root=tmp_path)
    assert row["probes"] >= 3, "every probe should raise an alert whose SMS reaches the carrier"
    assert row["readings"] > 100
    assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
