"""Census entered by the office, through the API or a CSV file, and used by the scores."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.config import BackendSettings
from tests.harness import ADMIN


@pytest.fixture
def api(tmp_path: Path, sql_url: str) -> Iterator[TestClient]:
    settings = BackendSettings(data_dir=tmp_path, database_url=sql_url)
    with TestClient(create_app(settings), headers=ADMIN) as client:
        yield client


def census_of(api: TestClient, village_id: str) -> dict[str, Any]:
    return next(c for c in api.get("/api/v1/census").json() if c["village_id"] == village_id)


def coverage_of(api: TestClient, village_id: str, start: int | None = None) -> float:
    """The village's main-road bin share over the last hour (or the day from ``start``)."""
    now = int(time.time())
    bounds = (
        {"start": now - 3600, "end": now}
        if start is None
        else {"start": start, "end": start + 86_400}
    )
    scores = api.get("/api/v1/scores", params=bounds)
    village = next(v for v in scores.json()["villages"] if v["village_id"] == village_id)
    return float(village["census"]["value"])


def test_an_entry_overrides_the_registry_and_drives_the_coverage(api: TestClient) -> None:
    assert census_of(api, "dong-ha")["source"] == "registry"
    body = {"households": 450, "main_road_households": 200, "main_road_standard_bins": 183,
            "entered_by": "cán bộ văn hóa xã"}  # fmt: skip
    response = api.put("/api/v1/villages/dong-ha/census", json=body)
    assert response.status_code == 200, response.text
    entry = census_of(api, "dong-ha")
    assert (entry["source"], entry["main_road_standard_bins"], entry["entered_by"]) == (
        "api", 183, "cán bộ văn hóa xã",
    )  # fmt: skip
    assert coverage_of(api, "dong-ha") == pytest.approx(91.5)  # 183 / 200


def test_inconsistent_or_unknown_entries_are_refused_with_the_reason(api: TestClient) -> None:
    body = {"households": 100, "main_road_households": 200, "main_road_standard_bins": 10,
            "entered_by": "x"}  # fmt: skip
    response = api.put("/api/v1/villages/dong-ha/census", json=body)
    assert response.status_code == 422
    assert "main_road_households exceeds households" in response.text
    missing = api.put("/api/v1/villages/dong-ha/census", json={"households": 1})
    assert missing.status_code == 422 and "entered_by" in missing.text
    assert (
        api.put("/api/v1/villages/atlantis/census", json={**body, "households": 300}).status_code
        == 404
    )


def test_csv_import_is_all_or_nothing_and_names_line_and_column(api: TestClient) -> None:
    good = ("\ufeffvillage_id,households,main_road_households,main_road_standard_bins\n"
            "dong-ha,450,200,190\nphu-khe,300,100,80\n")  # fmt: skip
    params = {"entered_by": "MTTQ xã"}
    bad = good + "lac-duc,300,100,ba\n"
    refused = api.post("/api/v1/census/import", content=bad.encode(), params=params)
    assert refused.status_code == 422
    assert "line 4: main_road_standard_bins must be a whole number, got 'ba'" in refused.text
    assert census_of(api, "dong-ha")["source"] == "registry", "nothing kept from a bad file"
    unknown = good.replace("phu-khe", "atlantis")
    assert (
        "line 3: village_id 'atlantis' is not in the registry"
        in api.post("/api/v1/census/import", content=unknown.encode(), params=params).text
    )
    done = api.post("/api/v1/census/import", content=good.encode(), params=params)
    assert done.json() == {"imported": 2}
    assert census_of(api, "phu-khe")["source"] == "csv"
    assert coverage_of(api, "phu-khe") == pytest.approx(80.0)


def test_an_entry_takes_effect_from_its_day_and_not_before(api: TestClient) -> None:
    june_10, june_11 = 1_781_024_400, 1_781_024_400 + 86_400  # local midnights, 2026
    before = coverage_of(api, "dong-ha", june_10)
    body = {"households": 450, "main_road_households": 200, "main_road_standard_bins": 100,
            "entered_by": "MTTQ xã", "effective_from": "2026-06-11"}  # fmt: skip
    response = api.put("/api/v1/villages/dong-ha/census", json=body)
    assert response.json()["effective_from"] == "2026-06-11"
    assert coverage_of(api, "dong-ha", june_10) == before  # the day before: the file's figures
    assert coverage_of(api, "dong-ha", june_11) == 50.0  # from its day: 100 / 200
    bad = api.put("/api/v1/villages/dong-ha/census", json={**body, "effective_from": "11/06"})
    assert bad.status_code == 422 and "effective_from" in bad.text
