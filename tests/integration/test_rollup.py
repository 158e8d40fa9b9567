"""Daily rollups equal the API's scores for the same day, and recomputing changes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.scores.rollup import local_midnight
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.cli import main
from sangsach.config import DEV_INGEST_TOKEN, BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.sun import dusk_dawn
from tests.harness import ADMIN

COMMUNE = load_registry(SAMPLE_REGISTRY)
NIGHT = date(2026, 6, 10)


def test_rollup_matches_the_api_and_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dusk, dawn = dusk_dawn(COMMUNE.commune.latitude, COMMUNE.commune.longitude, NIGHT)
    sunset, sunrise = int(dusk.timestamp()), int(dawn.timestamp())
    readings = [
        {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": seq, "ts": ts,
         "on": ts < sunset + 7200, "current_a": 0.18 if ts < sunset + 7200 else 0.0,
         "received_at": ts + 0.5}
        for seq, ts in enumerate(range(sunset - 600, sunrise + 600, 300))
    ]  # fmt: skip
    settings = BackendSettings(data_dir=tmp_path, rollup_catch_up_days=0)  # only the CLI writes
    with TestClient(create_app(settings), headers=ADMIN) as api:
        body = {"gateway": "gw-1", "readings": readings}
        headers = {"Authorization": f"Bearer {DEV_INGEST_TOKEN}"}
        assert api.post("/api/v1/ingest", json=body, headers=headers).status_code == 200
        monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path))
        args = ["rollup", "--from", str(NIGHT), "--to", str(NIGHT + timedelta(days=1))]
        for _ in range(2):  # recomputing replaces the same rows
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 0, result.output
            assert "đã tính 20 điểm theo ngày" in result.output
        store = SqliteStore(tmp_path / "timeseries.sqlite")
        rows = store.daily_scores()
        assert len(rows) == 20
        for day in (NIGHT, NIGHT + timedelta(days=1)):
            start = local_midnight(day)
            end = local_midnight(day + timedelta(days=1))
            api_scores = api.get("/api/v1/scores", params={"start": start, "end": end}).json()
            for village in api_scores["villages"]:
                [row] = [
                    r for r in rows if r.day == start and r.village_id == village["village_id"]
                ]
                assert row.values["sang_pct"] == village["sang"]["percent"]
                assert row.values["sang_lit_min"] == village["sang"]["lit_minutes"]
                assert row.values["coverage_pct"] == village["sach"]["coverage"]["percent"]
        dong_ha = [r for r in rows if r.village_id == "dong-ha"]
        lit = sum(float(r.values["sang_lit_min"] or 0) for r in dong_ha)
        assert lit == pytest.approx(120), "the lamp was lit two hours after sunset"
        store.close()
