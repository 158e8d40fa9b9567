"""The time-series store failing half-way through an ingest: the batch is answered 503, and its
resend writes everything, including the alert and status events (nothing is lost in between)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

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
