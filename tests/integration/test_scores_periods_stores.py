"""Any period is its stored days plus its live parts, exactly, on both stores: a property test
over random periods of the exact scenario, on SQLite and on a real influxd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sangsach.backend.scores.service import Scores
from sangsach.backend.timeseries.influx import InfluxStore
from sangsach.backend.timeseries.port import TimeSeriesStore
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.registry_file import parse_registry
from tests import scenario_exact as sc
from tests.services import InfluxD
from tests.unit.test_scenario_engine import stored

D = 86_400


@pytest.fixture(scope="module", params=["sqlite", "influxdb"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TimeSeriesStore]:
    if request.param == "influxdb":
        server: InfluxD = request.getfixturevalue("influxd")
        db = f"periods_{uuid4().hex}"
        made: TimeSeriesStore = InfluxStore(server.url, db)
    else:
        server, db = None, ""  # type: ignore[assignment]
        made = SqliteStore(Path(tmp_path_factory.mktemp("periods")) / "ts.sqlite")
    with made:
        made.ensure_ready()
        made.write(stored(sc.lamp_readings() + sc.bin_readings()))
        yield made
    if server is not None:
        server.query(f'DROP DATABASE "{db}"', db)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.integers(sc.DAY1 - D, sc.END + D).map(lambda t: t - t % 60),
    st.integers(60, 4 * D).map(lambda t: t - t % 60),
)
def test_any_period_is_its_stored_days_plus_live_parts_exactly(
    store: TimeSeriesStore, start: int, length: int
) -> None:
    scores = Scores(store, None, parse_registry(sc.REGISTRY), clock=lambda: sc.END + 2 * D)
    assert scores.period_parts(start, start + length) == scores.compute(start, start + length)


def test_the_scenario_period_is_the_hand_computed_one_on_both_stores(
    store: TimeSeriesStore,
) -> None:
    scores = Scores(store, None, parse_registry(sc.REGISTRY), clock=lambda: sc.END + 2 * D)
    result = scores.period(sc.DAY1, sc.END)
    assert {v.village_id: (v.rank, v.score) for v in result.villages} == {
        vid: (want["rank"], want["score"]) for vid, want in sc.EXPECTED.items()
    }


@pytest.mark.parametrize("kind", ["sqlite", "influxdb"])
def test_a_reading_without_a_fill_level_counts_as_no_sample(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A bin whose ultrasonic sensor failed for 12 hours (temperature still sent) scores exactly
    as one silent for those hours: not measured is neither overflowing nor clean."""
    device = next(iter(sc.FILLS))
    failed = range(10, 22)  # hours of day 1

    def failing(row: dict[str, object]) -> bool:
        return row["id"] == device and int(row["ts"]) in {sc.DAY1 + h * 3600 for h in failed}  # type: ignore[call-overload]

    rows = sc.lamp_readings() + sc.bin_readings()
    unmeasured = [
        {k: v for k, v in r.items() if k != "fill_pct"} | {"temp_c": 31.0,
         "sensor_errors": "ultrasonic"} if failing(r) else r
        for r in rows
    ]  # fmt: skip
    silent = [r for r in rows if not failing(r)]
    results = []
    for case, written in (("unmeasured", unmeasured), ("silent", silent)):
        if kind == "influxdb":
            server: InfluxD = request.getfixturevalue("influxd")
            db = f"nofill_{case}_{uuid4().hex}"
            made: TimeSeriesStore = InfluxStore(server.url, db)
        else:
            made = SqliteStore(tmp_path / f"{case}.sqlite")
        with made:
            made.ensure_ready()
            made.write(stored(written))
            scores = Scores(made, None, parse_registry(sc.REGISTRY), clock=lambda: sc.END + 2 * D)
            results.append(scores.compute(sc.DAY1, sc.END))
        if kind == "influxdb":
            server.query(f'DROP DATABASE "{db}"', db)
    assert results[0] == results[1]
