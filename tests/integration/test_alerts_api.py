"""The alerts API on the whole backend: raised by ingest, answered by SMS, listed with history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.config import DEV_INGEST_TOKEN, DEV_WEBHOOK_SECRET, BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.harness import ADMIN

TOKEN = {"Authorization": f"Bearer {DEV_INGEST_TOKEN}"}
SECRET = {"X-Sangsach-Webhook-Secret": DEV_WEBHOOK_SECRET}
COMMUNE = load_registry(SAMPLE_REGISTRY)
COLLECTOR = next(t for t in COMMUNE.teams if t.id == "thu-gom-1").members[0].phone
BIN = "bin-dong-ha-01"
NOW = 1_780_000_000


@pytest.fixture
def api(tmp_path: Path, sql_url: str) -> Iterator[TestClient]:
    settings = BackendSettings(data_dir=tmp_path, database_url=sql_url, alert_quiet_hours="")
    with TestClient(create_app(settings), headers=ADMIN) as client:
        yield client


def fill(client: TestClient, seq: int, pct: float, ts: int) -> None:
    reading = {"id": BIN, "kind": "bin", "boot": 1, "seq": seq, "ts": ts, "fill_pct": pct,
               "received_at": ts + 1.0}  # fmt: skip
    body = {"gateway": "gw-1", "readings": [reading]}
    assert client.post("/api/v1/ingest", json=body, headers=TOKEN).status_code == 200


def alerts(client: TestClient, **filters: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/alerts", params=filters)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_full_bin_is_raised_answered_by_sms_and_cleared_by_emptying(api: TestClient) -> None:
    fill(api, 0, 50.0, NOW)
    assert alerts(api) == []
    fill(api, 1, 86.0, NOW + 600)
    [alert] = alerts(api, active=True)
    assert (alert["type"], alert["device_id"], alert["state"]) == (
        "bin_full", BIN, "active_unacknowledged",
    )  # fmt: skip
    outbox = api.get("/api/v1/sms/outbox").json()
    team = {m.phone for m in next(t for t in COMMUNE.teams if t.id == "thu-gom-1").members}
    assert {m["to"] for m in outbox} == team
    assert all(f"OK {alert['id']} " in m["body"] for m in outbox)

    reply = {"from": COLLECTOR, "text": f"ok {alert['id']}"}
    answered = api.post("/api/v1/sms/inbound", json=reply, headers=SECRET)
    assert answered.status_code == 200 and answered.json()["accepted"] is True
    acked = api.get(f"/api/v1/alerts/{alert['id']}").json()
    assert (acked["state"], acked["acked_by"]) == ("active_acknowledged", COLLECTOR)

    done = {"from": COLLECTOR, "text": f"XONG {alert['id']}"}
    assert api.post("/api/v1/sms/inbound", json=done, headers=SECRET).json()["accepted"] is True
    assert api.get(f"/api/v1/alerts/{alert['id']}").json()["done_by"] == COLLECTOR

    fill(api, 2, 3.0, NOW + 1200)
    cleared = api.get(f"/api/v1/alerts/{alert['id']}").json()
    assert (cleared["state"], cleared["collected_at"]) == ("cleared", NOW + 1200)
    assert alerts(api, active=True) == []
    assert [a["id"] for a in alerts(api, state="cleared", village="dong-ha")] == [alert["id"]]


def test_acknowledge_and_assign_through_the_api(api: TestClient) -> None:
    fill(api, 0, 90.0, NOW)
    [alert] = alerts(api, type="bin_full")
    assigned = api.post(f"/api/v1/alerts/{alert['id']}/assign", json={"to": "Tổ thu gom rác số 1"})
    assert assigned.json()["assigned_to"] == "Tổ thu gom rác số 1"
    acked = api.post(f"/api/v1/alerts/{alert['id']}/ack", json={"by": "văn phòng xã"})
    assert acked.json()["state"] == "active_acknowledged"
    assert api.post("/api/v1/alerts/999/ack", json={"by": "x"}).status_code == 404
    empty = api.post(f"/api/v1/alerts/{alert['id']}/ack", json={"by": ""})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"][-1] == "by"
    assert api.get("/api/v1/alerts", params={"type": "volcano"}).status_code == 422


def test_history_gives_counts_and_mean_times(api: TestClient) -> None:
    fill(api, 0, 90.0, NOW)
    [alert] = alerts(api)
    raised = api.get(f"/api/v1/alerts/{alert['id']}").json()["opened_at"]
    fill(api, 1, 5.0, NOW + 3600)
    [row] = api.get("/api/v1/alerts/history").json()
    assert (row["type"], row["opened"], row["cleared"], row["acknowledged"]) == (
        "bin_full",
        1,
        1,
        0,
    )
    assert row["mean_time_to_clear_s"] == NOW + 3600 - raised
    assert row["mean_time_to_acknowledge_s"] is None
    assert api.get("/api/v1/alerts/history", params={"start": NOW + 1}).json() == []
