"""Scores from stored readings through the API equal the hand-computed ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.config import DEV_INGEST_TOKEN, BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY, parse_registry
from sangsach.sun import dusk_dawn
from tests.harness import ADMIN

TOKEN = {"Authorization": f"Bearer {DEV_INGEST_TOKEN}"}
# The sample commune, with every lamp of dong-ha installed before the night: a lamp installed
# and never heard is required and unknown. Other devices count from their first reading.
REGISTRY = SAMPLE_REGISTRY.read_text(encoding="utf-8").replace(
    "{id: lamp-dong-ha-", "{installed: 2026-06-01, id: lamp-dong-ha-"
)
COMMUNE = parse_registry(REGISTRY)
DONG_HA, PHU_KHE = COMMUNE.villages[0], COMMUNE.villages[1]  # dusk to dawn, no programme
LAMPS = sum(len(lane.lamps) for lane in DONG_HA.lanes)
HOUR = 3600


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    registry = tmp_path / "xa.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    settings = BackendSettings(data_dir=tmp_path, registry_file=registry, rollup_catch_up_days=0)
    with TestClient(create_app(settings), headers=ADMIN) as client:
        yield client


def _lamp(device: str, start: int, end: int, dark: tuple[int, int]) -> list[dict[str, Any]]:
    """Every 5 min; switched on and drawing current except inside ``dark``."""
    out = []
    for seq, ts in enumerate(range(start, end, 300)):
        out_ = dark[0] <= ts < dark[1]
        out.append({"id": device, "kind": "lamp", "boot": 1, "seq": seq, "ts": ts,
                    "on": not out_, "current_a": 0.0 if out_ else 0.18,
                    "received_at": ts + 0.5})  # fmt: skip
    return out


def _bin(device: str, start: int, end: int, fills: list[tuple[int, float]]) -> list[dict[str, Any]]:
    """Every hour; ``fills`` are (first hour, fill %) steps."""
    return [
        {"id": device, "kind": "bin", "boot": 1, "seq": hour, "ts": ts,
         "fill_pct": [fill for first, fill in fills if first <= hour][-1], "battery_v": 3.9,
         "received_at": ts + 1.0}
        for hour, ts in enumerate(range(start, end, HOUR))
    ]  # fmt: skip


def test_one_lamp_heard_of_many_and_a_bin_overflowing(api: TestClient) -> None:
    dusk, dawn = dusk_dawn(COMMUNE.commune.latitude, COMMUNE.commune.longitude, date(2026, 6, 10))
    sunset, sunrise = int(dusk.timestamp()), int(dawn.timestamp())
    start, end = sunset - HOUR, sunrise + HOUR  # not on local midnights: computed from raw
    readings = [
        # dong-ha: one lamp of 32 heard, dark for exactly one hour; one bin, half full.
        *_lamp("lamp-dong-ha-001", start, end, (sunset + 2 * HOUR, sunset + 3 * HOUR)),
        *_bin("bin-dong-ha-01", start, end, [(0, 50.0)]),
        # phu-khe: one lamp lit all night; one bin full and overflowing from hour 3 to 6, then
        # emptied (3 h after full: on time).
        *_lamp("lamp-phu-khe-001", start, end, (0, 0)),
        *_bin("bin-phu-khe-01", start, end, [(0, 50.0), (3, 96.0), (6, 10.0)]),
    ]
    body = {"gateway": "gw-1", "readings": readings}
    assert api.post("/api/v1/ingest", json=body, headers=TOKEN).status_code == 200

    result = api.get("/api/v1/scores", params={"start": start, "end": end}).json()
    assert (result["has_data"], result["in_progress"], result["upto"]) == (True, False, end)
    villages = {v["village_id"]: v for v in result["villages"]}
    night = sunrise - sunset  # required seconds of one lamp
    point_day = (end - start) / 86_400  # one point measured all of the period

    dong_ha = villages["dong-ha"]
    parts = dong_ha["parts"]
    assert parts["lamp_required_s"] == LAMPS * night  # installed: required even if unheard
    assert parts["lamp_lit_s"] == night - HOUR
    assert parts["lamp_dark_s"] == HOUR
    assert parts["lamp_unknown_s"] == (LAMPS - 1) * night
    sang = dong_ha["sang"]
    assert sang["value"] == pytest.approx(100 * (night - HOUR) / night)  # of the measured time
    assert sang["coverage"] == pytest.approx(100 / LAMPS)  # 3.125 %, under the 80 % floor
    assert (sang["verdict"], sang["verdict_vi"]) == ("insufficient", "Chưa đủ số liệu")
    assert sang["attainment"] == pytest.approx(min(1, sang["value"] / 95) / LAMPS)
    assert (parts["bin_required_s"], parts["bin_overflow_s"], parts["bin_unknown_s"]) == (
        end - start, 0, 0,
    )  # fmt: skip
    assert dong_ha["collection"]["value"] is None
    assert dong_ha["collection"]["verdict"] == "nothing_due"  # no bin got full
    assert dong_ha["overflow"]["value"] == 0.0
    assert dong_ha["overflow"]["target"] == pytest.approx(0.5 * point_day)
    assert dong_ha["overflow"]["verdict"] == "met"
    census = DONG_HA.census
    expected = 100 * census.main_road_standard_bins / census.main_road_households
    assert dong_ha["census"]["value"] == pytest.approx(expected)
    assert dong_ha["census"]["verdict"] == "met"  # 95.6 % >= 90 %
    assert (dong_ha["sach"], dong_ha["sach_vi"]) == ("met", "Đạt")
    assert (dong_ha["score"], dong_ha["rank"]) == (None, None)
    assert dong_ha["unranked_reason"] == "số liệu đèn chỉ đo được 3,1% thời gian (cần từ 80,0%)"

    phu_khe = villages["phu-khe"]
    parts = phu_khe["parts"]
    assert (parts["lamp_required_s"], parts["lamp_lit_s"], parts["lamp_dark_s"]) == (
        night, night, 0,
    )  # fmt: skip
    assert (parts["full_on_time"], parts["full_late"]) == (1, 0)
    assert (parts["bin_required_s"], parts["bin_overflow_s"]) == (end - start, 3 * HOUR)
    assert (phu_khe["sang"]["value"], phu_khe["sang"]["coverage"]) == (100.0, 100.0)
    assert phu_khe["sang"]["verdict"] == "met"
    assert (phu_khe["collection"]["value"], phu_khe["collection"]["verdict"]) == (100.0, "met")
    allowed = 0.5 * point_day  # about 0.26 h for a period of about 12.6 h
    assert phu_khe["overflow"]["value"] == 3.0
    assert phu_khe["overflow"]["target"] == pytest.approx(allowed)
    assert phu_khe["overflow"]["verdict"] == "not_met"
    assert phu_khe["overflow"]["attainment"] == pytest.approx(allowed / 3)  # proportional
    census = PHU_KHE.census
    census_pct = 100 * census.main_road_standard_bins / census.main_road_households  # 91.5 %
    assert phu_khe["census"]["value"] == pytest.approx(census_pct)
    assert phu_khe["sach"] == "not_met"
    # 50 x 1 x 1 + 50 x mean(collection 1, overflow allowed / 3, census min(1, 91.5 / 90))
    score = round(50 + 50 * (1 + allowed / 3 + 1) / 3, 2)
    assert phu_khe["score"] == score
    assert phu_khe["rank"] == 1 and phu_khe["unranked_reason"] is None

    # Only phu-khe has lamps and bins measured over the floor: it alone is ranked.
    assert result["ranking"] == [{"rank": 1, "village_id": "phu-khe", "score": score}]
    unranked = {u["village_id"]: u["reason"] for u in result["unranked"]}
    assert set(unranked) == {v.id for v in COMMUNE.villages} - {"phu-khe"}
    assert unranked["dong-ha"] == dong_ha["unranked_reason"]
    assert unranked["hoa-binh"] == "không có đèn gắn cảm biến phải sáng trong kỳ"  # nothing heard
    assert result["formula"]["coverage_floor_pct"] == 80.0
    assert result["formula_text"].startswith("Điểm = 50 × Sáng + 50 × trung bình")

    # An indicator without a figure says why, on the overview and in the report, rather
    # than leaving an empty cell: over these two whole days dong-ha's bin was heard for half
    # of the time (under the floor) and never full.
    period = "2026-06-10..2026-06-11"
    overview = _row_of(api.get("/", params={"ky": period}).text, "dong-ha")
    assert '<td class="collection"><span class="unknown">Chưa đủ số liệu</span></td>' in overview
    assert '<td class="collection">100,0</td>' in _row_of(
        api.get("/", params={"ky": period}).text, "phu-khe"
    )
    report = _row_of(api.get("/bao-cao", params={"ky": period}).text, "dong-ha")
    assert '<td class="collection_percent">Chưa đủ số liệu</td>' in report
    lines = api.get(f"/bao-cao/{period}.csv").text.splitlines()
    header = next(line for line in lines if "Mã thôn" in line).split(";")
    cells = next(line for line in lines if line.startswith("dong-ha;")).split(";")
    assert cells[header.index("Thu gom đúng hạn (%)")] == ""  # the CSV's cell stays empty


def _row_of(page: str, village: str) -> str:
    return page.split(f'<tr data-village="{village}">', 1)[1].split("</tr>", 1)[0]


def test_a_period_with_nothing_heard_has_no_data_and_no_ranking(api: TestClient) -> None:
    result = api.get("/api/v1/scores", params={"start": 1_781_024_400, "end": 1_781_110_800})
    assert result.status_code == 200
    body = result.json()
    assert (body["has_data"], body["ranking"], body["unranked"]) == (False, [], [])
    [dong_ha] = [v for v in body["villages"] if v["village_id"] == "dong-ha"]
    # Installed lamps with no reading: required, all unknown, nothing measured.
    assert dong_ha["sang"]["coverage"] == 0.0 and dong_ha["sang"]["value"] is None
    assert dong_ha["sang"]["verdict"] == "insufficient"


def test_a_bad_period_is_refused_with_a_reason(api: TestClient) -> None:
    backwards = api.get("/api/v1/scores", params={"start": 2000, "end": 1000})
    assert backwards.status_code == 422 and "end must be after start" in backwards.text
    missing = api.get("/api/v1/scores", params={"start": 1000})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["query", "end"]
    too_long = api.get("/api/v1/scores", params={"start": 0, "end": 401 * 86_400})
    assert too_long.status_code == 422 and "at most 400 days" in too_long.text
