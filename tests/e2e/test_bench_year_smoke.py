"""A small run of ``bench.year`` on SQLite: it loads, starts the backend and times every request.

No timing is asserted; the test checks that the harness really ran: the data are in the store,
the commands exited 0 and every request answered 200.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import year
from sangsach.backend.timeseries.sqlite import SqliteStore

pytestmark = pytest.mark.e2e


def test_year_benchmark_smoke(tmp_path: Path) -> None:
    argv = ["--store", "sqlite", "--days", "2", "--runs", "1", "--no-current"]
    results = year.main([*argv, "--data", str(tmp_path)])

    sqlite = results["stores"]["sqlite"]
    # 300 lamps every 5 min and 80 bins every 10 min: about 98,000 readings a day.
    assert 190_000 < sqlite["data"]["readings"] < 200_000
    store = SqliteStore(tmp_path / "sqlite" / "timeseries.sqlite")
    try:
        assert store.count() == sqlite["data"]["readings"]
    finally:
        store.close()
    for command in ("rollup", "rollup_one_day", "report"):
        assert sqlite[command]["exit"] == 0, sqlite[command]
        assert sqlite[command]["seconds"] > 0 and sqlite[command]["peak_rss_mb"] > 0
    assert sqlite["rollup"]["days"] == 2
    requests = sqlite["requests"]
    assert len(requests) >= 11
    for request in requests:
        assert [run["status"] for run in request["runs"]] == [200], request
        assert request["median_s"] > 0
    assert sqlite["backend_peak_rss_mb"] >= sqlite["backend_rss_after_start_mb"] > 0
    assert json.loads((tmp_path / "results.json").read_text())["stores"]["sqlite"]
    table = (tmp_path / "results.md").read_text()
    assert "| GET API /api/v1/scores, year (2025) |" in table
    assert "**" not in table, "a failure is marked in bold"

    again = year.main([*argv, "--data", str(tmp_path), "--load-only"])  # nothing to load
    assert again["stores"]["sqlite"]["data"]["load"]["readings_generated"] == 0
