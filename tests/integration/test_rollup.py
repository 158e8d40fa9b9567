"""Daily rollups store each village's parts and day figures, equal to the raw computation and to
the API's scores for the same days; days already stored are kept unless --recompute, and
recomputing the same data changes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.scores.days import local_midnight
from sangsach.backend.scores.parts import PART_NAMES
from sangsach.backend.scores.service import Scores
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.cli import main
from sangsach.config import DEV_INGEST_TOKEN, BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.sun import dusk_dawn
from tests.harness import ADMIN

COMMUNE = load_registry(SAMPLE_REGISTRY)
NIGHT = date(2026, 6, 10)
DAY1, DAY2, DAY3 = (local_midnight(NIGHT + timedelta(days=n)) for n in range(3))
HEADERS = {"Authorization": f"Bearer {DEV_INGEST_TOKEN}"}
CENSUS = COMMUNE.villages[0].census  # dong-ha
CENSUS_PCT = 100 * CENSUS.main_road_standard_bins / CENSUS.main_road_households


def _night(day: date) -> tuple[int, int]:
    dusk, dawn = dusk_dawn(COMMUNE.commune.latitude, COMMUNE.commune.longitude, day)
    return int(dusk.timestamp()), int(dawn.timestamp())


def _lamp(device: str, sunset: int, sunrise: int, lit_for: int) -> list[dict[str, Any]]:
    """A reading every 5 min from 10 min before sunset to past sunrise; lit for ``lit_for`` s
    after sunset, then on without current (dark)."""
    return [
        {"id": device, "kind": "lamp", "boot": 1, "seq": seq, "ts": ts,
         "on": True, "current_a": 0.18 if ts < sunset + lit_for else 0.0, "received_at": ts + 0.5}
        for seq, ts in enumerate(range(sunset - 600, sunrise + 600, 300))
    ]  # fmt: skip


def _rollup(*extra: str) -> str:
    args = ["rollup", "--from", str(NIGHT), "--to", str(NIGHT + timedelta(days=1)), *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def _by_key(store: SqliteStore) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r.village_id, r.day): r.values for r in store.daily_scores()}


def test_rollup_matches_the_raw_parts_and_the_api_and_keeps_stored_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sunset, sunrise = _night(NIGHT)  # sunset on day 1, sunrise on day 2
    dusk2, _ = _night(NIGHT + timedelta(days=1))  # day 2's evening: required, never heard
    lit_s = 2 * 3600
    settings = BackendSettings(data_dir=tmp_path, rollup_catch_up_days=0)  # only the CLI writes
    monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path))
    with TestClient(create_app(settings), headers=ADMIN) as api:
        body = {"gateway": "gw-1", "readings": _lamp("lamp-dong-ha-001", sunset, sunrise, lit_s)}
        assert api.post("/api/v1/ingest", json=body, headers=HEADERS).status_code == 200
        assert "đã tính 20 điểm theo ngày" in _rollup()  # 10 villages x 2 days
        store = SqliteStore(tmp_path / "timeseries.sqlite")
        first = _by_key(store)
        assert len(first) == 20

        # By hand: only lamp-dong-ha-001 was ever heard, so it is the only active device (from
        # its first reading); the other 31 lamps of the village do not count yet.
        day1, day2 = first["dong-ha", DAY1], first["dong-ha", DAY2]
        evening1 = DAY2 - sunset  # sunset to midnight
        morning2, evening2 = sunrise - DAY2, DAY3 - dusk2
        assert {k: day1[k] for k in ("lamp_required_s", "lamp_lit_s", "lamp_dark_s")} == {
            "lamp_required_s": evening1, "lamp_lit_s": lit_s, "lamp_dark_s": evening1 - lit_s,
        }  # fmt: skip
        assert {k: day2[k] for k in ("lamp_required_s", "lamp_lit_s", "lamp_dark_s")} == {
            "lamp_required_s": morning2 + evening2, "lamp_lit_s": 0, "lamp_dark_s": morning2,
        }  # fmt: skip
        assert day1["bin_required_s"] == day2["bin_required_s"] == 0  # no bin heard
        assert day1["sang_pct"] == pytest.approx(100 * lit_s / evening1)
        assert day1["sang_coverage_pct"] == 100.0
        assert day2["sang_pct"] == 0.0  # all of the measured time dark
        assert day2["sang_coverage_pct"] == pytest.approx(100 * morning2 / (morning2 + evening2))
        assert day1["collection_pct"] is None and day1["bin_coverage_pct"] is None
        assert day1["coverage_pct"] == day2["coverage_pct"] == pytest.approx(CENSUS_PCT)
        for (village, _), values in first.items():
            if village != "dong-ha":
                assert values["lamp_required_s"] == 0 and values["sang_pct"] is None, village

        # The stored days are exactly the raw computation of each day (the oracle).
        oracle = Scores(store, None, COMMUNE)
        for day, next_day in ((DAY1, DAY2), (DAY2, DAY3)):
            for village, parts in oracle.compute(day, next_day).items():
                stored = first[village, day]
                assert {n: stored[n] for n in PART_NAMES} == parts.values(), (village, day)

        # A second lamp whose readings of these closed days arrive late (a replayed spool):
        # `rollup` alone keeps the stored days, but ingest marked both days late, so the next
        # read recomputes them and the period takes the second lamp in.
        body = {"gateway": "gw-1", "readings": _lamp("lamp-dong-ha-002", sunset, sunrise, 86_400)}
        assert api.post("/api/v1/ingest", json=body, headers=HEADERS).status_code == 200
        assert "đã tính 0 điểm theo ngày" in _rollup()
        assert _by_key(store) == first
        both = api.get("/api/v1/scores", params={"start": DAY1, "end": DAY3}).json()
        [dong_ha] = [v for v in both["villages"] if v["village_id"] == "dong-ha"]
        night = sunrise - sunset
        assert dong_ha["parts"]["lamp_lit_s"] == lit_s + night  # lit all of its night
        assert dong_ha["parts"]["lamp_required_s"] == 2 * night + 2 * evening2
        assert dong_ha["sang"]["value"] == pytest.approx(100 * (lit_s + night) / (2 * night))
        assert _by_key(store) != first  # the late days were stored anew

        # --recompute gives the same rows, twice.
        assert "đã tính 20 điểm theo ngày" in _rollup("--recompute")
        again = _by_key(store)
        assert "đã tính 20 điểm theo ngày" in _rollup("--recompute")
        assert _by_key(store) == again
        day1 = again["dong-ha", DAY1]
        assert (day1["lamp_required_s"], day1["lamp_lit_s"]) == (2 * evening1, lit_s + evening1)
        assert day1["sang_pct"] == pytest.approx(100 * (lit_s + evening1) / (2 * evening1))

        # Each day through the API equals its row: the parts and the day's own figures.
        for day, next_day in ((DAY1, DAY2), (DAY2, DAY3)):
            result = api.get("/api/v1/scores", params={"start": day, "end": next_day}).json()
            assert result["in_progress"] is False
            for village in result["villages"]:
                row = again[village["village_id"], day]
                assert {n: row[n] for n in PART_NAMES} == {
                    n: village["parts"][n] for n in PART_NAMES
                }
                assert row["sang_pct"] == village["sang"]["value"]
                assert row["sang_coverage_pct"] == village["sang"]["coverage"]
                assert row["collection_pct"] == village["collection"]["value"]
                assert row["overflow_h"] == village["overflow"]["value"]
                assert row["bin_coverage_pct"] == village["overflow"]["coverage"]
                assert row["coverage_pct"] == village["census"]["value"]
        both = api.get("/api/v1/scores", params={"start": DAY1, "end": DAY3}).json()
        [dong_ha] = [v for v in both["villages"] if v["village_id"] == "dong-ha"]
        assert dong_ha["parts"]["lamp_lit_s"] == lit_s + night
        assert dong_ha["sang"]["value"] == pytest.approx(100 * (lit_s + night) / (2 * night))
        # No bin heard anywhere: nobody is ranked, each says why.
        assert both["ranking"] == []
        assert {u["reason"] for u in both["unranked"] if u["village_id"] == "dong-ha"} == {
            "không có thùng rác gắn cảm biến hoạt động trong kỳ"
        }
        store.close()
