"""Scores from stored readings through the API equal the hand-computed ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.config import DEV_INGEST_TOKEN, BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.sun import dusk_dawn
from tests.harness import ADMIN

TOKEN = {"Authorization": f"Bearer {DEV_INGEST_TOKEN}"}
COMMUNE = load_registry(SAMPLE_REGISTRY)
DONG_HA = COMMUNE.villages[0]  # no part-night programme: required from sunset to sunrise
LAMPS = sum(len(lane.lamps) for lane in DONG_HA.lanes)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(BackendSettings(data_dir=tmp_path)), headers=ADMIN) as client:
        yield client


def test_one_lamp_out_for_an_hour_and_the_rest_unheard(api: TestClient) -> None:
    dusk, dawn = dusk_dawn(COMMUNE.commune.latitude, COMMUNE.commune.longitude, date(2026, 6, 10))
    sunset, sunrise = int(dusk.timestamp()), int(dawn.timestamp())
    start, end = sunset - 3600, sunrise + 3600
    readings = []
    for seq, ts in enumerate(range(start, end, 300)):
        out = sunset + 7200 <= ts < sunset + 10_800  # dark for exactly one hour
        readings.append({"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": seq, "ts": ts,
                         "on": not out, "current_a": 0.0 if out else 0.18,
                         "received_at": ts + 0.5})  # fmt: skip
    body = {"gateway": "gw-1", "readings": readings}
    assert api.post("/api/v1/ingest", json=body, headers=TOKEN).status_code == 200

    result = api.get("/api/v1/scores", params={"start": start, "end": end}).json()
    [village] = [v for v in result["villages"] if v["village_id"] == "dong-ha"]
    night = (sunrise - sunset) / 60  # required minutes of one lamp
    sang = village["sang"]
    assert sang["required_minutes"] == pytest.approx(LAMPS * night)
    assert sang["lit_minutes"] == pytest.approx(night - 60)
    assert sang["dark_minutes"] == pytest.approx(60)
    assert sang["unknown_minutes"] == pytest.approx((LAMPS - 1) * night)
    assert sang["percent"] == pytest.approx(100 * (night - 60) / (LAMPS * night))
    assert sang["meets"] is False
    census = DONG_HA.census
    coverage = village["sach"]["coverage"]
    expected = 100 * census.main_road_standard_bins / census.main_road_households
    assert coverage["percent"] == pytest.approx(expected)
    assert [row["rank"] for row in result["ranking"]] == list(range(1, 11))
    assert result["ranking"][0]["village_id"] == "dong-ha", "the only village with light"
    assert "Điểm" in result["formula"]


def test_a_bad_period_is_refused_with_a_reason(api: TestClient) -> None:
    backwards = api.get("/api/v1/scores", params={"start": 2000, "end": 1000})
    assert backwards.status_code == 422 and "end must be after start" in backwards.text
    missing = api.get("/api/v1/scores", params={"start": 1000})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["query", "end"]
