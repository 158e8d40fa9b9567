"""Sensor faults through the real backend app: a bin on fire whose echo failed is stored without
its fill level and with the failed sensor, opens the fire alert, and its pages say the sensor is
faulty in Vietnamese; a sensor that keeps failing opens a sensor-fault alert for its team."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.auth.roles import Role
from sangsach.backend.auth.tokens import TokenStore
from sangsach.backend.domain.rules import Thresholds
from sangsach.config import BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY
from tests.harness import ADMIN, GATEWAY

NOW = int(time.time())
BIN, OTHER, LAMP = "bin-dong-ha-01", "bin-dong-ha-02", "lamp-dong-ha-001"
DEBOUNCE = Thresholds().sensor_fault_debounce_s


def bin_reading(device: str, seq: int, ts: int, **fields: Any) -> dict[str, Any]:
    return {"id": device, "kind": "bin", "boot": 1, "seq": seq, "ts": ts,
            "received_at": ts + 1.0, **fields}  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data = tmp_path_factory.mktemp("sensor-faults")
    settings = BackendSettings(
        data_dir=data, registry_file=SAMPLE_REGISTRY, alert_quiet_hours="", auth_failures_burst=0
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def api(app: FastAPI) -> Iterator[TestClient]:
    """Bin 01 measured, then on fire with no plausible echo; bin 02's thermometer failing for
    longer than the debounce; lamp 001 whose light sensor fails."""
    with TestClient(app, headers=ADMIN, follow_redirects=False) as client:
        t = NOW - 3600
        readings = [
            bin_reading(BIN, 0, t, fill_pct=40.0, distance_cm=60.0, temp_c=29.0, battery_v=3.9),
            bin_reading(BIN, 1, t + 600, temp_c=81.5, battery_v=3.9,
                        sensor_errors=["ultrasonic"]),
            *[bin_reading(OTHER, s, t + 600 * s, fill_pct=30.0, battery_v=3.9,
                          sensor_errors=["thermometer"]) for s in range(DEBOUNCE // 600 + 1)],
            {"id": LAMP, "kind": "lamp", "boot": 1, "seq": 0, "ts": NOW - 60, "on": False,
             "current_a": 0.0, "sensor_errors": ["lux"], "received_at": NOW - 59.0},
        ]  # fmt: skip
        answer = client.post(
            "/api/v1/ingest", json={"gateway": "gw-1", "readings": readings}, headers=GATEWAY
        )
        answer.raise_for_status()
        yield client


@pytest.fixture(scope="module")
def office(app: FastAPI, api: TestClient) -> TestClient:
    store: TokenStore = app.state.auth.store
    secret = store.add("trang", Role.OPERATOR, NOW)[1]
    client = TestClient(app, follow_redirects=False)
    answer = client.post("/dang-nhap", data={"ma": secret, "tiep": "/thiet-bi"})
    assert answer.status_code == 303, answer.text
    return client


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(2)).split())


def test_a_bin_reading_without_its_fill_is_stored_with_its_other_fields(api: TestClient) -> None:
    first, fire = api.get(f"/api/v1/devices/{BIN}/readings").json()
    assert first["values"]["fill_pct"] == 40.0
    assert fire["values"]["fill_pct"] is None and fire["values"]["distance_cm"] is None
    assert fire["values"]["temp_c"] == 81.5 and fire["values"]["battery_v"] == 3.9
    assert fire["values"]["sensor_errors"] == "ultrasonic"
    assert api.get("/api/v1/dead-letters").json() == []


def test_the_fire_alert_opens_from_the_temperature_alone(api: TestClient) -> None:
    found = api.get("/api/v1/alerts", params={"device": BIN}).json()
    assert [a["type"] for a in found] == ["fire"]


def test_a_sensor_failing_past_the_debounce_opens_a_sensor_fault_alert(api: TestClient) -> None:
    found = api.get("/api/v1/alerts", params={"device": OTHER}).json()
    assert [a["type"] for a in found] == ["sensor_fault"]
    assert api.get("/api/v1/alerts", params={"device": LAMP, "type": "sensor_fault"}).json() == []


def test_the_pages_say_which_sensor_is_faulty_in_vietnamese(office: TestClient) -> None:
    page = office.get(f"/thiet-bi/{BIN}").text
    facts = text_of(page, "device-facts")
    assert "Trạng thái Lỗi cảm biến siêu âm – chưa đo được mức rác" in facts
    assert "Cảm biến Lỗi cảm biến: siêu âm" in facts
    assert "Lỗi cảm biến: siêu âm" in text_of(page, "readings")
    other = text_of(office.get(f"/thiet-bi/{OTHER}").text, "device-facts")
    assert "Thùng rác chưa đầy" in other and "Lỗi cảm biến: nhiệt độ" in other
    lamp = text_of(office.get(f"/thiet-bi/{LAMP}").text, "device-facts")
    assert "Lỗi cảm biến: ánh sáng" in lamp
    listing = office.get("/thiet-bi").text
    row = re.search(rf'<tr data-device="{OTHER}">(.*?)</tr>', listing, re.S)
    assert row and "Lỗi cảm biến: nhiệt độ" in row.group(1)
