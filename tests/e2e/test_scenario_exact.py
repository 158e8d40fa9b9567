"""The exact scenario (tests/scenario_exact.py) through every layer of a real deployment.

One backend process on a real influxd, fed through its ingest API; then the same hand-computed
numbers are read back from GET /api/v1/scores, from the overview and reports pages in Debian's
Chromium, from ``sangsach report`` (CSV and printable HTML), and, after ``sangsach rollup``,
from the Grafana panels' InfluxQL run on that influxd. Layer (a), the pure engine, is
tests/unit/test_scenario_engine.py.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from sangsach import config, formats
from sangsach.backend.reports.build import COLUMNS
from sangsach.localbroker import LocalBroker
from tests import scenario_exact as sc
from tests.e2e.test_web_pages import CHROMIUM, FLAGS, shot
from tests.harness import ADMIN, GATEWAY, Stack, wait_until
from tests.integration.test_dashboards import JSON_DIR, load, panels, rows
from tests.services import InfluxD

pytestmark = pytest.mark.e2e

# The development admin secret reads the API and signs in to the pages (tests/harness.py).
READ_TOKEN = config.DEV_ADMIN_TOKEN
VERDICT = {"met": "Đạt", "not_met": "Chưa đạt", "insufficient": "Chưa đủ số liệu"}


def api_get(stack: Stack, path: str, **params: Any) -> Any:
    return stack.http.get(path, params=params, headers=ADMIN).raise_for_status().json()


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, influxd: InfluxD
) -> Iterator[tuple[Stack, str]]:
    root = tmp_path_factory.mktemp("exact")
    registry = root / "xa-mau.yaml"
    registry.write_text(sc.REGISTRY, encoding="utf-8")
    database = f"exact_{uuid4().hex}"
    with LocalBroker(root / "mosquitto") as broker:
        stack = Stack(root / "stack", broker.port, {
            "SANGSACH_REGISTRY_FILE": str(registry), "SANGSACH_TIMESERIES": "influxdb",
            "SANGSACH_INFLUX_URL": influxd.url, "SANGSACH_INFLUX_DB": database,
            "SANGSACH_ROLLUP_CATCH_UP_DAYS": "0", "SANGSACH_ALERT_QUIET_HOURS": "",
            "SANGSACH_ALERT_TICK_S": "1",  # the map feed runs at this pace too
        })  # fmt: skip
        stack.start_backend()
        readings = sc.lamp_readings() + sc.bin_readings()
        for first in range(0, len(readings), 500):
            body = {"gateway": "gw-1", "readings": readings[first : first + 500]}
            stack.http.post("/api/v1/ingest", json=body, headers=GATEWAY).raise_for_status()
        # The June devices are judged offline (alert tick every second), then four speak again.
        wait_until(lambda: stack.stats()["devices"]["offline"] == 7, 60, "the offline verdicts")
        body = {"gateway": "gw-1", "readings": sc.fresh_readings(int(time.time()))}
        stack.http.post("/api/v1/ingest", json=body, headers=GATEWAY).raise_for_status()
        try:
            yield stack, database
        finally:
            stack.close()
            influxd.query(f'DROP DATABASE "{database}"', database)


def sangsach(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sangsach", *args], env=stack.env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def vn(value: float, decimals: int = 1) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")


def test_api_scores_are_exact(deployed: tuple[Stack, str]) -> None:
    stack, _ = deployed
    body = api_get(stack, "/api/v1/scores", start=sc.DAY1, end=sc.END)
    assert body["has_data"] is True and body["in_progress"] is False
    for village in body["villages"]:
        want = sc.EXPECTED[village["village_id"]]
        parts = village["parts"]
        assert (parts["lamp_required_s"], parts["lamp_lit_s"]) == (
            want["sang_required_min"] * 60, want["sang_lit_min"] * 60,
        )  # fmt: skip
        assert (parts["lamp_dark_s"], parts["lamp_unknown_s"]) == (
            want["sang_dark_min"] * 60, want["sang_unknown_min"] * 60,
        )  # fmt: skip
        sang = village["sang"]
        assert (sang["value"], sang["coverage"], sang["verdict"]) == (
            want["sang_pct"], want["sang_coverage"], want["sang_verdict"],
        )  # fmt: skip
        assert (parts["full_on_time"], parts["full_late"], village["collection"]["value"]) == (
            want["collection_on_time"], want["collection_late"], want["collection_pct"],
        )  # fmt: skip
        overflow = village["overflow"]
        assert (overflow["value"], overflow["target"], overflow["coverage"]) == (
            want["overflow_h"], want["overflow_allowed_h"], want["bin_coverage"],
        )  # fmt: skip
        assert village["census"]["value"] == want["coverage_pct"]
        assert village["sach"] == want["sach_verdict"]
    ranking = body["ranking"]
    assert [row["village_id"] for row in ranking] == sc.RANKING
    assert {r["village_id"]: (r["rank"], r["score"]) for r in ranking} == {
        vid: (want["rank"], want["score"]) for vid, want in sc.EXPECTED.items()
    }
    assert body["unranked"] == []


def test_pages_show_the_exact_scores(deployed: tuple[Stack, str]) -> None:
    stack, _ = deployed
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(f"{stack.url}/?ky={sc.PERIOD}")
        if "/dang-nhap" in page.url:  # the pages ask staff to sign in with a token
            page.locator('input[name="ma"]').fill(READ_TOKEN)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{stack.url}/?ky={sc.PERIOD}")
        shown = [r.get_attribute("data-village") for r in page.locator("#scores tbody tr").all()]
        assert shown == sc.RANKING
        assert page.locator("#status").inner_text() == "Số liệu cả kỳ."
        for vid, want in sc.EXPECTED.items():
            row = page.locator(f'#scores tr[data-village="{vid}"]')
            cells = {
                name: row.locator(f"td.{name}").inner_text()
                for name in ("rank", "score", "sang", "sang-coverage", "sang-meets", "collection",
                             "overflow", "bin-coverage", "coverage", "sach-meets")
            }  # fmt: skip
            assert cells == {
                "rank": str(want["rank"]), "score": vn(want["score"], 2),
                "sang": vn(want["sang_pct"]), "sang-coverage": vn(want["sang_coverage"]),
                "sang-meets": VERDICT[want["sang_verdict"]],
                "collection": vn(want["collection_pct"]), "overflow": vn(want["overflow_h"]),
                "bin-coverage": vn(want["bin_coverage"]), "coverage": vn(want["coverage_pct"]),
                "sach-meets": VERDICT[want["sach_verdict"]],
            }  # fmt: skip
        dots = page.locator("#device-map circle").all()
        assert {d.get_attribute("data-device"): d.get_attribute("data-state") for d in dots} == (
            sc.MAP_STATES
        )
        shot(page, "kich-ban-tong-quan")
        page.goto(f"{stack.url}/thon/thon-binh?ky={sc.PERIOD}")
        assert page.locator("#village-rank").inner_text() == "2"
        assert (
            page.locator('#lamps tr[data-device="lamp-binh-1"] td.state').get_attribute(
                "data-state"
            )
            == "fault"
        )
        shot(page, "kich-ban-thon")
        page.goto(f"{stack.url}/bao-cao?ky={sc.PERIOD}")
        shown = [r.get_attribute("data-village") for r in page.locator("#report tbody tr").all()]
        assert shown == sc.RANKING
        for vid, want in sc.EXPECTED.items():
            row = page.locator(f'#report tr[data-village="{vid}"]')
            assert row.locator("td.score").inner_text() == formats.number(want["score"], 2)
            assert row.locator("td.sang_coverage").inner_text() == formats.number(
                want["sang_coverage"]
            )
        shot(page, "kich-ban-bao-cao")
        browser.close()


def test_report_csv_and_print_are_exact(deployed: tuple[Stack, str], tmp_path: Path) -> None:
    stack, _ = deployed
    sangsach(stack, "report", "--period", sc.PERIOD, "--out", str(tmp_path))
    raw = (tmp_path / f"bao-cao-{sc.PERIOD}.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel on Windows reads UTF-8
    lines = raw.decode("utf-8-sig").splitlines()
    # Excel with Vietnamese settings: ";" between fields, decimal commas; the commune's total last.
    *table, total = csv.DictReader(lines[: lines.index("")], delimiter=";")
    assert "Số liệu cả kỳ." in lines[lines.index("") :]  # after the campaigns
    assert [row["Mã thôn"] for row in table] == sc.RANKING
    assert (total["Mã thôn"], total["Thôn"]) == ("", "Toàn xã")
    printed = (tmp_path / f"bao-cao-{sc.PERIOD}.html").read_text(encoding="utf-8")
    assert "từ ngày 10/06/2026 đến ngày 12/06/2026" in printed
    for row in table:
        want = sc.EXPECTED[row["Mã thôn"]]
        figures = {
            "Xếp hạng": str(want["rank"]), "Điểm": formats.number(want["score"], 2),
            "Sáng (% thời gian đo được)": formats.number(want["sang_pct"]),
            "Đo được – đèn (%)": formats.number(want["sang_coverage"]),
            "Đạt Sáng": VERDICT[want["sang_verdict"]],
            "Thu gom đúng hạn (%)": formats.number(want["collection_pct"]),
            "Giờ tràn rác": formats.number(want["overflow_h"]),
            "Hộ có thùng rác chuẩn (%)": formats.number(want["coverage_pct"]),
            "Đạt Sạch": VERDICT[want["sach_verdict"]],
        }  # fmt: skip
        assert {key: row[key] for key in figures} == figures
    # The printable page: the same rows, in the same order, then the total; the village id and
    # the note (under "Ghi chú" below the table) left out. All figures here are below 1.000, so
    # the CSV's and the page's numbers read the same.
    first_table = printed.split('id="report"')[1].split("</table>")[0]
    printed_rows = re.findall(
        r'<tr (?:data-village="[^"]*"|class="total" id="total")>(.*?)</tr>', first_table
    )
    cells = [re.findall(r'<td class="\w+">(.*?)</td>', tr) for tr in printed_rows]
    # the CSV's columns after the indicators (the planned visits) have a table of their own
    shown = [c.title for c in COLUMNS if c.key not in ("village_id", "note")]
    assert cells == [[row[t] for t in shown] for row in [*table, total]]


def grafana(
    influxd: InfluxD, database: str, file: str, title: str, village: str, *, last_day: bool = False
) -> list[Any]:
    """The panel's query, with the scenario's three days as Grafana's absolute time range (or,
    ``last_day``, Grafana's relative "now-24h")."""
    [found] = [p for p in panels(load(JSON_DIR / file)["panels"]) if p["title"] == title]
    [target] = found["targets"]
    time_filter = f"time >= {sc.DAY1 * 1000}ms and time <= {(sc.END - 1) * 1000}ms"
    if last_day:
        time_filter = "time >= now() - 24h and time <= now()"
    query = target["query"].replace("$timeFilter", time_filter)
    query = query.replace("$__interval", "1h").replace("$village", village)
    assert "$" not in query.replace("$/", ""), query
    response = httpx.post(
        f"{influxd.url}/query", params={"db": database, "epoch": "s"}, data={"q": query}
    )
    [result] = response.raise_for_status().json()["results"]
    assert "error" not in result, result
    return rows(result.get("series", []))


def test_grafana_panels_after_rollup_are_exact(
    deployed: tuple[Stack, str], influxd: InfluxD
) -> None:
    stack, database = deployed
    for _ in range(2):  # recomputing replaces the rows: the same numbers
        out = sangsach(stack, "rollup", "--from", "2026-06-10", "--to", "2026-06-12", "--recompute")
        assert "đã tính 6 điểm theo ngày" in out
    overview = "xa-tong-quan.json"
    mean = grafana(influxd, database, overview, "Sáng trung bình so với Mục tiêu 95%", "")
    assert {r["village"]: r["Sáng %"] for r in mean} == {
        vid: want["sang"] for vid, want in sc.GRAFANA.items()
    }
    sach = grafana(influxd, database, overview, "Chỉ số Sạch theo thôn", "")
    assert {
        r["village"]: (r["Thu gom đúng hạn (%)"], r["Giờ tràn rác"], r["Độ phủ (%)"]) for r in sach
    } == {vid: (w["collection"], w["overflow"], w["coverage"]) for vid, w in sc.GRAFANA.items()}
    daily = grafana(influxd, database, overview, "Tỷ lệ Sáng theo thôn", "")
    assert sorted((r["village"], r["time"], r["sang_pct"]) for r in daily) == sorted(
        (vid, day, pct)
        for vid, values in sc.DAY_FIGURES.items()
        for day, pct in zip(sc.DAYS, values["sang_pct"], strict=True)
    )
    # The ranking table, sorted by the panel's own sortBy as Grafana does, in the API's order.
    table = [
        p for p in panels(load(JSON_DIR / overview)["panels"]) if p["title"] == "Xếp hạng thôn"
    ]
    [sort_by] = [t for t in table[0]["transformations"] if t["id"] == "sortBy"]
    [key] = sort_by["options"]["sort"]
    ranked = grafana(influxd, database, overview, "Xếp hạng thôn", "")
    ranked.sort(key=lambda row: row[key["field"]], reverse=key["desc"])
    assert [row["village"] for row in ranked] == sc.RANKING
    for vid in sc.EXPECTED:
        days = grafana(influxd, database, "thon-chi-tiet.json", "Tỷ lệ Sáng theo ngày", vid)
        assert [(r["time"], r["Sáng %"]) for r in days] == list(
            zip(sc.DAYS, sc.DAY_FIGURES[vid]["sang_pct"], strict=True)
        )


def test_grafana_device_map_has_registry_positions_and_states(
    deployed: tuple[Stack, str], influxd: InfluxD
) -> None:
    _, database = deployed
    title = "Bản đồ thiết bị theo trạng thái"

    def shown() -> dict[str, tuple[float, float, str]]:
        found = grafana(influxd, database, "xa-tong-quan.json", title, "", last_day=True)
        return {r["device"]: (r["lat"], r["lon"], r["Trạng thái"]) for r in found}

    expected = {d: (*sc.POSITIONS[d], state) for d, state in sc.MAP_STATES.items()}
    wait_until(lambda: shown() == expected, 60, f"the map feed; shown {shown()}")
