"""The time-series store failing half-way through an ingest: the batch is answered 503, and its
resend writes everything, including the alert and status events (nothing is lost in between)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.domain.readings import AlertEvent
from sangsach.backend.timeseries.port import TimeSeriesUnavailable
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.config import BackendSettings
from tests.harness import ADMIN, GATEWAY

BIN = "bin-dong-ha-01"
NOW = 1_780_000_000


class FailsOnce(SqliteStore):
    """A real store whose first write of alert events fails, as when influxd stops between
    the readings and the events of one batch."""

    failed = False

    def write_alert_events(self, events: Sequence[AlertEvent]) -> None:
        if events and not self.failed:
            self.failed = True
            raise TimeSeriesUnavailable("the store went away for the test")
        super().write_alert_events(events)


@pytest.fixture
def store(tmp_path: Path) -> FailsOnce:
    return FailsOnce(tmp_path / "series.sqlite")


@pytest.fixture
def api(tmp_path: Path, store: FailsOnce) -> Iterator[TestClient]:
    settings = BackendSettings(data_dir=tmp_path, alert_quiet_hours="")
    with TestClient(create_app(settings, store=store), headers=ADMIN) as client:
        yield client


def test_alert_events_survive_a_store_failure_between_readings_and_events(
    api: TestClient, store: FailsOnce
) -> None:
    reading = {"id": BIN, "kind": "bin", "boot": 1, "seq": 1, "ts": NOW, "fill_pct": 95.0,
               "received_at": NOW + 1.0}  # fmt: skip
    body = {"gateway": "gw-1", "readings": [reading]}
    first = api.post("/api/v1/ingest", json=body, headers=GATEWAY)
    assert first.status_code == 503, "the gateway must keep the batch and resend it"
    assert api.post("/api/v1/ingest", json=body, headers=GATEWAY).status_code == 200

    alerts = api.get("/api/v1/alerts", params={"device": BIN}).json()
    assert sorted(a["type"] for a in alerts) == ["bin_full", "bin_overflow"]
    events = store.alert_events()
    assert sorted((e.alert_id, e.what) for e in events) == sorted(
        (a["id"], "opened") for a in alerts
    ), "each alert's opening is in the time series once"
    assert store.count(device_id=BIN) == 1
    outbox = api.get("/api/v1/sms/outbox").json()
    assert len(outbox) == len({m["id"] for m in outbox}) > 0, "one SMS per recipient, once"


class FailsOnClearing(SqliteStore):
    """A real store whose first write of a clearing fails: the batch that empties the bin."""

    failed = False

    def write_alert_events(self, events: Sequence[AlertEvent]) -> None:
        if any(e.what == "cleared" for e in events) and not self.failed:
            self.failed = True
            raise TimeSeriesUnavailable("the store went away for the test")
        super().write_alert_events(events)


Outcome = tuple[list[int], list[tuple[Any, ...]], dict[str, Any]]


def _fill_then_empty(tmp_path: Path, store: SqliteStore) -> Outcome:
    """A bin fills, is emptied and fills a little again; each batch resent until taken."""
    settings = BackendSettings(data_dir=tmp_path, alert_quiet_hours="", alert_tick_s=3600)
    answers: list[int] = []
    with TestClient(create_app(settings, store=store), headers=ADMIN) as api:
        for seq, fill in enumerate([95.0, 5.0, 40.0], start=1):
            ts = NOW + 600 * seq
            reading = {"id": BIN, "kind": "bin", "boot": 1, "seq": seq, "ts": ts,
                       "fill_pct": fill, "received_at": ts + 1.0}  # fmt: skip
            body = {"gateway": "gw-1", "readings": [reading]}
            for _ in range(3):  # as the gateway: resent while the answer is 503
                answers.append(api.post("/api/v1/ingest", json=body, headers=GATEWAY).status_code)
                if answers[-1] != 503:
                    break
        alerts = sorted(
            (a["type"], a["state"], a["opened_at"], a["cleared_at"], a["collected_at"])
            for a in api.get("/api/v1/alerts", params={"device": BIN}).json()
        )
        services = api.app.state.services  # type: ignore[attr-defined]
        with services.engine.connect() as conn:
            # As a restarted engine reads them: the rows, caught up with device_state (a track
            # whose newest reading moved only its freshness and newest values is not saved).
            committed = services.alerts._read_tracks(conn, None)
        stored = {d: t.to_json() for d, t in committed.items()}
        cached = {d: t.to_json() for d, t in services.alerts._tracks.known.items()}
        assert cached == {d: stored[d] for d in cached}, "the cache holds only what is committed"
    return answers, alerts, stored[BIN]


def test_a_rolled_back_batch_leaves_no_trace_in_the_alert_tracks(tmp_path: Path) -> None:
    clean = _fill_then_empty(tmp_path / "clean", SqliteStore(tmp_path / "clean.sqlite"))
    failing = FailsOnClearing(tmp_path / "failing.sqlite")
    answers, alerts, track = _fill_then_empty(tmp_path / "failing", failing)
    assert failing.failed and answers == [200, 503, 200, 200]
    assert clean[0] == [200, 200, 200]
    emptied = NOW + 1200
    assert ("bin_full", "cleared", NOW + 600, emptied, emptied) in alerts, (
        "the resent emptying is still seen as a collection"
    )
    assert alerts == clean[1] and track == clean[2], "the resend judges as if nothing failed"
