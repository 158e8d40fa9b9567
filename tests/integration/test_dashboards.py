"""Every Grafana panel's InfluxQL runs on a real influxd and the key panels show known numbers.

The dashboards in ``dashboards/json`` are loaded as files; each query (panel targets, template
variables, annotations) has its macros and variables expanded the way Grafana's InfluxDB data
source does, then goes to an influxd holding a scenario written through ``InfluxStore``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import yaml

from sangsach.backend.domain.readings import (
    AlertEvent,
    DailyScore,
    DevicePoint,
    StatusEvent,
    StoredReading,
    Value,
)
from sangsach.backend.scores import verdict
from sangsach.backend.scores.parts import Parts, total
from sangsach.backend.scores.service import Scores, formula_values
from sangsach.backend.timeseries.influx import InfluxStore
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.backend.web.devicemap import STATES
from sangsach.registry_file import SAMPLE_REGISTRY, ScoreFormula, load_registry
from tests.services import InfluxD

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
JSON_DIR = ROOT / "dashboards" / "json"
PROVIDER = ROOT / "dashboards" / "provisioning" / "dashboards" / "sangsach.yaml"
README = ROOT / "dashboards" / "README.md"
DASHBOARDS = sorted(JSON_DIR.glob("*.json"))
UID = "sangsach-influxdb"
# Words that are the same in Vietnamese (units, names) and may stand alone as a title.
ALLOWED_TITLES = {"RSSI"}

HOUR = 3600
DAY1 = 1_781_024_400  # 2026-06-10 00:00 in Asia/Ho_Chi_Minh (UTC+7), a day's local midnight
DAY2 = DAY1 + 24 * HOUR
NIGHT = DAY1 + 19 * HOUR  # 19:00 local, on a whole UTC hour
START_MS = (DAY1 - HOUR) * 1000
END_MS = (DAY2 + 24 * HOUR) * 1000
INTERVAL = "1h"
VILLAGE = "dong-ha"
DEVICE = "bin-dh-1"

# village -> two days of (additive parts, the day's own figures), as a daily rollup stores them;
# the figures worked out by hand from the parts. The periods' panels sum the parts, so a period's
# Sáng is not the mean of its days' when the days measured unequal time (ban-mo).
P = Parts
DAYS: dict[str, list[tuple[Parts, dict[str, float | None]]]] = {
    "ban-mo": [
        (
            P(lamp_required_s=36_000, lamp_lit_s=28_800, lamp_dark_s=7200, bin_required_s=86_400,
              full_on_time=1, full_late=1, households=300, main_road_households=100,
              main_road_standard_bins=70),
            {"sang_pct": 80.0, "sang_coverage_pct": 100.0, "collection_pct": 50.0,
             "overflow_h": 0.0, "bin_coverage_pct": 100.0, "coverage_pct": 70.0},
        ),
        (  # half the lamp time unknown; a tenth of the bin time unknown
            P(lamp_required_s=36_000, lamp_lit_s=16_200, lamp_dark_s=1800, bin_required_s=86_400,
              bin_overflow_s=21_600, bin_unknown_s=8640, full_on_time=7, full_late=3,
              households=300, main_road_households=100, main_road_standard_bins=60),
            {"sang_pct": 90.0, "sang_coverage_pct": 50.0, "collection_pct": 70.0,
             "overflow_h": 6.0, "bin_coverage_pct": 90.0, "coverage_pct": 60.0},
        ),
    ],
    "dong-ha": [
        (
            P(lamp_required_s=36_000, lamp_lit_s=34_560, lamp_dark_s=1440, bin_required_s=86_400,
              bin_overflow_s=5400, full_on_time=1, households=400, main_road_households=100,
              main_road_standard_bins=90),
            {"sang_pct": 96.0, "sang_coverage_pct": 100.0, "collection_pct": 100.0,
             "overflow_h": 1.5, "bin_coverage_pct": 100.0, "coverage_pct": 90.0},
        ),
        (
            P(lamp_required_s=36_000, lamp_lit_s=35_280, lamp_dark_s=720, bin_required_s=86_400,
              bin_overflow_s=9000, full_on_time=4, full_late=1, households=400,
              main_road_households=100, main_road_standard_bins=95),
            {"sang_pct": 98.0, "sang_coverage_pct": 100.0, "collection_pct": 80.0,
             "overflow_h": 2.5, "bin_coverage_pct": 100.0, "coverage_pct": 95.0},
        ),
    ],
}  # fmt: skip
# The two days summed, by hand: what the commune overview's period panels must show.
SANG = {"ban-mo": 100 * 45_000 / 54_000, "dong-ha": 100 * 69_840 / 72_000}  # 83.33; 97.0
SANG_MEASURED = {"ban-mo": 100 * 54_000 / 72_000, "dong-ha": 100.0}  # 75 % of the lamp time
COLLECTION = {"ban-mo": 100 * 8 / 12, "dong-ha": 100 * 5 / 6}  # 66.67; 83.33
OVERFLOW_H = {"ban-mo": 6.0, "dong-ha": 4.0}
COVERAGE = {"ban-mo": 60.0, "dong-ha": 95.0}  # the census of the last day
LAMPS = {"lamp-dh-1": ("dong-ha", 2 * HOUR), "lamp-dh-2": ("dong-ha", HOUR)}
LAMPS_BM = {"lamp-bm-1": ("ban-mo", 2 * HOUR)}
BINS = {"bin-dh-1": "dong-ha", "bin-bm-1": "ban-mo"}
# The map: device -> (lat, lon, state written first, state written 2 h later if it changed).
MAP = {
    "lamp-dh-1": (20.69686, 106.2141, "never", "lit"),
    "lamp-dh-2": (20.69706, 106.2143, "lit", "offline"),
    "lamp-bm-1": (20.7101, 106.2202, "off", "off"),
    "bin-dh-1": (20.6971, 106.2147, "bin_ok", "bin_overflow"),
    "bin-bm-1": (20.7111, 106.2211, "bin_full", "bin_full"),
}


def scenario() -> tuple[list[StoredReading], list[StatusEvent], list[DailyScore], list[AlertEvent]]:
    readings: list[StoredReading] = []
    for device, (village, lit_for) in {**LAMPS, **LAMPS_BM}.items():
        for seq, ts in enumerate(range(NIGHT, NIGHT + 2 * HOUR, 600)):
            on = ts < NIGHT + lit_for
            values: dict[str, Value] = {
                "on": on, "current_a": 0.2 if on else 0.0, "voltage_v": 229.0, "rssi": -70,
            }  # fmt: skip
            readings.append(StoredReading(device, "lamp", village, "p", 1, seq, ts, True, values))
    for device, village in BINS.items():
        for seq, ts in enumerate(range(NIGHT, NIGHT + 2 * HOUR, 600)):
            values = {"fill_pct": 10.0 * (seq + 1), "battery_v": 3.7, "rssi": -80}
            readings.append(StoredReading(device, "bin", village, "p", 1, seq, ts, True, values))
    statuses = [
        StatusEvent("lamp-dh-1", True, NIGHT),
        StatusEvent("lamp-dh-2", True, NIGHT),
        StatusEvent("lamp-dh-2", False, NIGHT + 3 * HOUR),
        StatusEvent("bin-bm-1", True, NIGHT),
    ]
    scores = [
        DailyScore(village, day, {**parts.values(), **figures, **formula_values(ScoreFormula())})
        for village, days in DAYS.items()
        for day, (parts, figures) in zip((DAY1, DAY2), days, strict=True)
    ]
    alerts = [
        AlertEvent(1, "lamp-dh-2", "dong-ha", "offline", "opened", NIGHT + 3 * HOUR),
        AlertEvent(2, "bin-bm-1", "ban-mo", "overflow", "opened", NIGHT + HOUR),
        AlertEvent(2, "bin-bm-1", "ban-mo", "overflow", "cleared", NIGHT + 2 * HOUR),
        AlertEvent(3, "bin-dh-1", "dong-ha", "overflow", "opened", NIGHT + 2 * HOUR),
    ]
    return readings, statuses, scores, alerts


def map_points() -> list[DevicePoint]:
    kinds = {**dict.fromkeys([*LAMPS, *LAMPS_BM], "lamp"), **dict.fromkeys(BINS, "bin")}
    villages = {**{d: v for d, (v, _) in {**LAMPS, **LAMPS_BM}.items()}, **BINS}
    points = []
    for device, (lat, lon, first, later) in MAP.items():
        kind, village = kinds[device], villages[device]
        points.append(DevicePoint(device, kind, village, lat, lon, first, NIGHT))
        if later != first:  # written only when the state changes
            points.append(DevicePoint(device, kind, village, lat, lon, later, NIGHT + 2 * HOUR))
    return points


@pytest.fixture(scope="module")
def db(influxd: InfluxD) -> Iterator[str]:
    name = f"dashboards_{uuid4().hex}"
    readings, statuses, scores, alerts = scenario()
    with InfluxStore(influxd.url, name) as store:
        store.ensure_ready()
        store.write(readings)
        store.write_statuses(statuses)
        store.write_daily_scores(scores)
        store.write_alert_events(alerts)
        store.write_device_points(map_points())
    yield name
    influxd.query(f'DROP DATABASE "{name}"', name)


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, with those nested in (collapsed) rows."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, holder) for every InfluxQL query: panel targets, variables, annotations."""
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"{panel['title']}/{target['refId']}", target
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            yield f"${variable['name']}", variable
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if "query" in annotation:
            yield f"annotation {annotation['name']}", annotation


def expand(query: str, device: str = DEVICE, *, relative: bool = False) -> str:
    """Grafana's InfluxDB macros and variables, for the scenario's range and values.

    An absolute range becomes ``time >= <from>ms and time <= <to>ms``, a relative one
    ``time >= now() - 30d and time <= now()``. The variables are single-valued without "All",
    so Grafana puts the value in as it is, in a regex too (ids are slugs, nothing to escape).
    """
    if relative:
        time_filter = "time >= now() - 30d and time <= now()"
    else:
        time_filter = f"time >= {START_MS}ms and time <= {END_MS}ms"
    query = query.replace("$timeFilter", time_filter)
    query = query.replace("$__interval", INTERVAL).replace("$interval", INTERVAL)
    for name, value in (("village", VILLAGE), ("device", device)):
        query = query.replace(f"${name}", value)
    assert "$" not in query.replace("$/", ""), query
    return query


def run(
    influxd: InfluxD, db: str, query: str, device: str = DEVICE, *, relative: bool = False
) -> list[dict[str, Any]]:
    expanded = expand(query, device, relative=relative)
    response = httpx.post(
        f"{influxd.url}/query", params={"db": db, "epoch": "s"}, data={"q": expanded}
    )
    # A query influxd cannot parse answers 400 with {"error": ...}; one it refuses to run
    # answers 200 with the error inside the statement's result.
    body = response.json()
    assert "error" not in body, f"{expanded}: {body['error']}"
    [result] = body["results"]
    assert "error" not in result, f"{expanded}: {result['error']}"
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per row, the series' tags merged in, as Grafana's table format shows them."""
    return [
        {**one.get("tags", {}), **dict(zip(one["columns"], values, strict=True))}
        for one in series
        for values in one.get("values", [])
    ]


def panel(file: str, title: str) -> dict[str, Any]:
    [found] = [p for p in panels(load(JSON_DIR / file)["panels"]) if p["title"] == title]
    return found


def panel_rows(influxd: InfluxD, db: str, file: str, title: str) -> list[dict[str, Any]]:
    [target] = panel(file, title)["targets"]
    return rows(run(influxd, db, target["query"]))


ALL_QUERIES = [
    pytest.param(path.name, where, holder["query"], id=f"{path.stem}:{where}")
    for path in DASHBOARDS
    for where, holder in queries(load(path))
]


def test_the_three_dashboards_are_there() -> None:
    names = {path.name for path in DASHBOARDS}
    assert names == {"xa-tong-quan.json", "thon-chi-tiet.json", "thiet-bi.json"}
    assert len(ALL_QUERIES) > 20


@pytest.mark.parametrize(("file", "where", "query"), ALL_QUERIES)
def test_every_query_runs(influxd: InfluxD, db: str, file: str, where: str, query: str) -> None:
    # A device's panels are for lamps or for bins: each must show data for one of the two.
    found = [run(influxd, db, query, device) for device in (DEVICE, "lamp-dh-2")]
    assert any(found), f"{file} {where} returned nothing for the scenario"
    run(influxd, db, query, relative=True)  # the default "now-30d" range parses too


def vietnamese(text: str) -> bool:
    if text in ALLOWED_TITLES or "đ" in text.lower():
        return True
    return any(len(unicodedata.normalize("NFD", char)) > 1 for char in text if char.isalpha())


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_titles_are_vietnamese_and_data_sources_are_sangsach(path: Path) -> None:
    dashboard = load(path)
    texts = [dashboard["title"], dashboard["description"]]
    for one in panels(dashboard["panels"]):
        texts.append(one["title"])
        texts.append(one.get("description") or one["title"])
        axis = one.get("fieldConfig", {}).get("defaults", {}).get("custom", {}).get("axisLabel")
        if axis:
            texts.append(axis)
        if one["type"] != "row":
            assert one["datasource"]["uid"] == UID, one["title"]
        for target in one.get("targets", []):
            assert target["datasource"]["uid"] == UID, one["title"]
            assert target["rawQuery"] is True
            assert "$timeFilter" in target["query"], one["title"]
    for holder in dashboard["templating"]["list"] + dashboard["annotations"]["list"]:
        assert holder["datasource"]["uid"] == UID
        texts.append(holder.get("label") or holder["name"])
    not_vietnamese = [text for text in texts if not vietnamese(text)]
    assert not not_vietnamese
    assert len({p["id"] for p in panels(dashboard["panels"])}) == len(
        list(panels(dashboard["panels"]))
    )


def test_the_provider_loads_the_folder_the_readme_mounts() -> None:
    provider = yaml.safe_load(PROVIDER.read_text(encoding="utf-8"))
    [one] = provider["providers"]
    assert one["type"] == "file"
    path = one["options"]["path"]
    mounts = re.findall(r"\./dashboards/(\S+?):(/\S+?)(?::ro)?\s", README.read_text("utf-8"))
    assert ("json", path) in mounts
    assert ("provisioning", "/etc/grafana/provisioning") in mounts
    assert (ROOT / "dashboards" / "json").resolve() == JSON_DIR.resolve()


def test_village_variable_lists_the_villages(influxd: InfluxD, db: str) -> None:
    [variable] = load(JSON_DIR / "thon-chi-tiet.json")["templating"]["list"]
    assert {row["value"] for row in rows(run(influxd, db, variable["query"]))} == set(DAYS)
    [variable] = load(JSON_DIR / "thiet-bi.json")["templating"]["list"]
    devices = {row["value"] for row in rows(run(influxd, db, variable["query"]))}
    assert devices == {*LAMPS, *LAMPS_BM, *BINS}


def test_the_scenario_rows_hold_what_a_rollup_writes(tmp_path: Path) -> None:
    """The hand-written rows have exactly the fields of a real rollup's rows, and their figures
    are the backend's for their parts: the panels below read what production writes."""
    with SqliteStore(tmp_path / "ts.sqlite") as store:
        store.ensure_ready()
        Scores(store, None, load_registry(SAMPLE_REGISTRY)).roll_up(
            date(2026, 6, 10), date(2026, 6, 10)
        )
        written = {name for row in store.daily_scores() for name in row.values}
    formula = ScoreFormula()
    for village, days in DAYS.items():
        for parts, figures in days:
            assert {*parts.values(), *figures, *formula_values(formula)} == written
            day = verdict.judge(village, village, parts, formula)
            assert figures == {
                "sang_pct": day.sang.value, "sang_coverage_pct": day.sang.coverage,
                "collection_pct": day.collection.value, "overflow_h": day.overflow.value,
                "bin_coverage_pct": day.overflow.coverage, "coverage_pct": day.census.value,
            }, village  # fmt: skip
        # The backend's figures for the two days summed are the ones by hand below.
        both = verdict.judge(village, village, total(p for p, _ in days), formula)
        assert both.sang.value == pytest.approx(SANG[village])
        assert both.sang.coverage == pytest.approx(SANG_MEASURED[village])
        assert both.collection.value == pytest.approx(COLLECTION[village])
        assert both.overflow.value == pytest.approx(OVERFLOW_H[village])
        assert both.census.value == pytest.approx(COVERAGE[village])


def test_overview_sang_is_summed_from_the_daily_parts(influxd: InfluxD, db: str) -> None:
    found = panel_rows(influxd, db, "xa-tong-quan.json", "Sáng trung bình so với Mục tiêu 95%")
    assert {row["village"]: row["Sáng %"] for row in found} == pytest.approx(SANG)
    # ban-mo's days: 80 % and 90 %, but the second measured half the time: 83.33 %, not 85 %.
    assert {row["village"]: round(row["Sáng %"], 2) for row in found}["ban-mo"] == 83.33
    daily = panel_rows(influxd, db, "xa-tong-quan.json", "Tỷ lệ Sáng theo thôn")
    assert sorted((r["village"], r["time"], r["sang_pct"]) for r in daily) == [
        ("ban-mo", DAY1, 80.0), ("ban-mo", DAY2, 90.0),
        ("dong-ha", DAY1, 96.0), ("dong-ha", DAY2, 98.0),
    ]  # fmt: skip
    steps = panel("xa-tong-quan.json", "Tỷ lệ Sáng theo thôn")["fieldConfig"]["defaults"]
    assert steps["thresholds"]["steps"][-1]["value"] == 95


def test_overview_sach_indicators(influxd: InfluxD, db: str) -> None:
    found = panel_rows(influxd, db, "xa-tong-quan.json", "Chỉ số Sạch theo thôn")
    by_village = {
        row["village"]: (row["Thu gom đúng hạn (%)"], row["Giờ tràn rác"], row["Độ phủ (%)"])
        for row in found
    }
    assert by_village == {
        village: pytest.approx((COLLECTION[village], OVERFLOW_H[village], COVERAGE[village]))
        for village in DAYS
    }
    # ban-mo: 1 of 2 then 7 of 10 decided on time, 8 of 12: 66.67 %, not the days' mean 60 %.
    assert round(by_village["ban-mo"][0], 2) == 66.67


def test_ranking_table_puts_the_best_sang_first(influxd: InfluxD, db: str) -> None:
    table = panel("xa-tong-quan.json", "Xếp hạng thôn")
    found = panel_rows(influxd, db, "xa-tong-quan.json", "Xếp hạng thôn")
    # Apply the panel's own sortBy transformation, as Grafana does after the merge.
    [sort_by] = [t for t in table["transformations"] if t["id"] == "sortBy"]
    [key] = sort_by["options"]["sort"]
    found.sort(key=lambda row: row[key["field"]], reverse=key["desc"])
    assert [row["village"] for row in found] == ["dong-ha", "ban-mo"]
    assert [row["Sáng %"] for row in found] == pytest.approx([SANG["dong-ha"], SANG["ban-mo"]])
    assert [row["Đo được – đèn %"] for row in found] == pytest.approx([100.0, 75.0])
    assert [(row["Giờ tràn rác"], row["Độ phủ %"]) for row in found] == [(4.0, 95.0), (6.0, 60.0)]
    assert [row["Thu gom đúng hạn %"] for row in found] == pytest.approx(
        [COLLECTION["dong-ha"], COLLECTION["ban-mo"]]
    )


def test_open_alerts_and_recent_alerts(influxd: InfluxD, db: str) -> None:
    [open_now] = panel_rows(influxd, db, "xa-tong-quan.json", "Cảnh báo đang mở")
    assert open_now["Cảnh báo đang mở"] == 2  # alert 2 was cleared, 1 and 3 stay open
    recent = panel_rows(influxd, db, "xa-tong-quan.json", "Cảnh báo gần đây")
    assert [(r["alert_id"], r["what"]) for r in recent] == [
        (1, "opened"), (3, "opened"), (2, "cleared"), (2, "opened"),
    ]  # fmt: skip


def test_device_tables(influxd: InfluxD, db: str) -> None:
    status = panel_rows(influxd, db, "xa-tong-quan.json", "Trạng thái thiết bị")
    assert {r["device"]: r["Trực tuyến"] for r in status} == {
        "lamp-dh-1": True, "lamp-dh-2": False, "bin-bm-1": True,
    }  # fmt: skip
    seen = panel_rows(influxd, db, "xa-tong-quan.json", "Lần đọc gần nhất của thiết bị")
    last = NIGHT + 2 * HOUR - 600
    assert {r["device"]: r["time"] for r in seen} == dict.fromkeys([*LAMPS, *LAMPS_BM, *BINS], last)


def test_village_detail(influxd: InfluxD, db: str) -> None:
    lit = panel_rows(influxd, db, "thon-chi-tiet.json", "Số đèn sáng")
    counts = {r["time"]: r["Số đèn sáng"] for r in lit}
    # Both dong-ha lamps lit in the first hour, one in the second; ban-mo's lamp not counted.
    assert counts[NIGHT] == 2
    assert counts[NIGHT + HOUR] == 1
    assert counts[NIGHT + 2 * HOUR] == 0
    fill = panel_rows(influxd, db, "thon-chi-tiet.json", "Mức đầy thùng rác")
    assert {(r["device"], r["time"], r["mean"]) for r in fill} == {
        ("bin-dh-1", NIGHT, 35.0), ("bin-dh-1", NIGHT + HOUR, 95.0),
    }  # fmt: skip
    sang = panel_rows(influxd, db, "thon-chi-tiet.json", "Tỷ lệ Sáng theo ngày")
    assert [(r["time"], r["Sáng %"]) for r in sang] == [(DAY1, 96.0), (DAY2, 98.0)]
    sach = panel_rows(influxd, db, "thon-chi-tiet.json", "Chỉ số Sạch theo ngày")
    assert [
        (r["time"], r["Thu gom đúng hạn (%)"], r["Giờ tràn rác"], r["Độ phủ (%)"]) for r in sach
    ] == [(DAY1, 100.0, 1.5, 90.0), (DAY2, 80.0, 2.5, 95.0)]


def test_device_detail(influxd: InfluxD, db: str) -> None:
    fill = panel_rows(influxd, db, "thiet-bi.json", "Mức đầy thùng rác")
    assert [(r["time"], r["Mức đầy (%)"]) for r in fill] == [(NIGHT, 35.0), (NIGHT + HOUR, 95.0)]
    latest = panel_rows(influxd, db, "thiet-bi.json", "Số đo gần nhất")
    assert len(latest) == 12
    assert {r["device"] for r in latest} == {DEVICE}
    assert latest[0]["fill_pct"] == 120.0


def test_device_map_shows_each_device_where_it_stands_in_its_last_state(
    influxd: InfluxD, db: str
) -> None:
    title = "Bản đồ thiết bị theo trạng thái"
    found = panel_rows(influxd, db, "xa-tong-quan.json", title)
    assert {r["device"]: (r["lat"], r["lon"], r["Trạng thái"]) for r in found} == {
        device: (lat, lon, later) for device, (lat, lon, _, later) in MAP.items()
    }
    assert {r["device"]: (r["kind"], r["village"]) for r in found}["bin-bm-1"] == ("bin", "ban-mo")
    geomap = panel("xa-tong-quan.json", title)
    assert geomap["type"] == "geomap"
    [layer] = geomap["options"]["layers"]
    assert layer["location"] == {"mode": "coords", "latitude": "lat", "longitude": "lon"}
    assert layer["config"]["style"]["color"]["field"] == "Trạng thái"
    # Every state has the web map's colour and Vietnamese legend, nothing else.
    [mapping] = geomap["fieldConfig"]["defaults"]["mappings"]
    assert {k: (v["color"], v["text"]) for k, v in mapping["options"].items()} == STATES
