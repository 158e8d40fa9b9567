"""The village page (scores, open alerts, each device's state by the one rule, battery levels,
the census form and its history) and the devices pages, on the real backend app: signed in with
a session as the office would be, the census form posted with and without its CSRF token."""

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
from sangsach.backend.scores.days import local_day
from sangsach.backend.web.render import local_time
from sangsach.config import BackendSettings
from sangsach.lighting import LightingSchedule
from sangsach.registry_file import SAMPLE_REGISTRY
from tests.harness import ADMIN, GATEWAY

NOW = int(time.time())
FORM = "/thon/dong-ha/dieu-tra"
LOW_V = Thresholds().battery_low_v  # the low-battery alert's threshold (3.4 V)


def _last_night() -> int:
    """A moment of the last night when every lamp of the sample commune must be lit (dusk to
    dawn), at least 20 minutes long: a lamp on without current then opens its alert whatever
    the time the test runs."""
    schedule = LightingSchedule(20.697, 106.214)
    t = NOW - 2 * 3600
    while not (schedule.is_lit(t) and schedule.is_lit(t + 1800)):
        t -= 600
    return t


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data = tmp_path_factory.mktemp("village-pages")
    registry = data / "commune.yaml"
    sample = SAMPLE_REGISTRY.read_text(encoding="utf-8")
    lamp = "{id: lamp-dong-ha-003, lat:"
    assert lamp in sample
    registry.write_text(
        sample.replace(lamp, "{id: lamp-dong-ha-003, installed: 2026-03-01, removed: 2026-11-15, lat:"),
        encoding="utf-8",
    )  # fmt: skip
    settings = BackendSettings(
        data_dir=data, registry_file=registry, alert_quiet_hours="", auth_failures_burst=0
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def api(app: FastAPI) -> Iterator[TestClient]:
    """The admin's API client, after the readings every test looks at: lamp 001 lit, lamp 002
    on without current through last night (its fault alert open), bins at three battery
    levels, one of them at the low-battery alert's threshold."""
    with TestClient(app, headers=ADMIN, follow_redirects=False) as client:
        night = _last_night()
        faulty = [
            {"id": "lamp-dong-ha-002", "kind": "lamp", "boot": 1, "seq": i, "ts": night + 300 * i,
             "on": True, "current_a": 0.0, "received_at": night + 300 * i + 1.0}
            for i in range(5)
        ]  # fmt: skip
        lit = {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": 0, "ts": NOW - 300,
               "on": True, "current_a": 0.18, "received_at": NOW - 299.0}  # fmt: skip
        bins = [
            {"id": f"bin-dong-ha-0{n}", "kind": "bin", "boot": 1, "seq": 0, "ts": NOW - 600,
             "fill_pct": fill, "battery_v": volts, "received_at": NOW - 599.0}
            for n, fill, volts in ((1, 40.0, 3.95), (2, 55.5, 3.55), (3, 20.0, LOW_V))
        ]  # fmt: skip
        body = {"gateway": "gw-1", "readings": [*faulty, lit, *bins]}
        client.post("/api/v1/ingest", json=body, headers=GATEWAY).raise_for_status()
        yield client


def alert_of(api: TestClient, device: str, kind: str) -> dict[str, Any]:
    found = api.get("/api/v1/alerts", params={"device": device, "type": kind}).json()
    assert len(found) == 1, found
    return dict(found[0])


@pytest.fixture(scope="module")
def secrets(app: FastAPI) -> dict[Role, str]:
    store: TokenStore = app.state.auth.store
    return {role: store.add(f"trang {role}", role, NOW)[1] for role in (Role.VIEWER, Role.OPERATOR)}


def signed_in(app: FastAPI, secret: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    answer = client.post("/dang-nhap", data={"ma": secret, "tiep": "/thon/dong-ha"})
    assert answer.status_code == 303, answer.text
    return client


@pytest.fixture(scope="module")
def office(app: FastAPI, api: TestClient, secrets: dict[Role, str]) -> TestClient:
    return signed_in(app, secrets[Role.OPERATOR])


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "a signed-in page carries the session's form token"
    return found.group(1)


def text_of(html: str, element_id: str) -> str:
    """The text of the element with this id (tags dropped, spaces folded)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(2)).split())


def row_of(html: str, device: str) -> str:
    found = re.search(rf'<tr data-device="{device}">(.*?)</tr>', html, re.S)
    assert found, f"no row for {device}"
    return found.group(1)


def census_in_force(api: TestClient) -> dict[str, Any]:
    return next(c for c in api.get("/api/v1/census").json() if c["village_id"] == "dong-ha")


SINCE = local_day(NOW - 86_400)  # yesterday: in force today whenever the test runs
GOOD = {"households": "450", "main_road_households": "200", "main_road_standard_bins": "183",
        "effective_from": SINCE.isoformat(), "entered_by": "Chị Lan, văn phòng xã"}  # fmt: skip


def test_the_census_form_keeps_an_entry_by_the_apis_rule_and_lists_the_history(
    office: TestClient, api: TestClient
) -> None:
    page = office.get("/thon/dong-ha").text
    assert 'id="census-form"' in page and "Từ đầu" in text_of(page, "census-history")
    saved = office.post(FORM, data={**GOOD, "csrf": csrf_of(page)})
    assert saved.status_code == 303
    assert saved.headers["Location"] == f"/thon/dong-ha?da_luu={SINCE}#dieu-tra"
    page = office.get(saved.headers["Location"]).text
    since = SINCE.strftime("%d/%m/%Y")
    assert text_of(page, "census-saved") == f"Đã lưu số liệu điều tra ngày {since}."
    # kept as the API keeps an entry, and in force from its day
    kept = census_in_force(api)
    assert (kept["source"], kept["households"], kept["main_road_standard_bins"]) == (
        "api",
        450,
        183,
    )
    assert (kept["entered_by"], kept["effective_from"]) == ("Chị Lan, văn phòng xã", str(SINCE))
    # a later entry for a day still ahead: listed first, not yet in force
    later = {**GOOD, "main_road_standard_bins": "190", "effective_from": "15/01/2099",
             "entered_by": "Anh Tuấn", "csrf": csrf_of(page)}  # fmt: skip
    assert office.post(FORM, data=later).headers["Location"].endswith("da_luu=2099-01-15#dieu-tra")
    history = text_of(office.get("/thon/dong-ha").text, "census-history")
    rows = history.split("Áp dụng từ ngày")[1]
    assert rows.index("15/01/2099 (chưa đến ngày)") < rows.index(f"{since} (đang áp dụng)")
    assert rows.index(f"{since} (đang áp dụng) 450 200 183 Chị Lan, văn phòng xã") < rows.index(
        "Từ đầu 446 159 152 Không ghi"
    )
    assert "Anh Tuấn" in rows
    # a link cannot invent a confirmation
    assert 'id="census-saved"' not in office.get("/thon/dong-ha?da_luu=2030-01-01").text


@pytest.mark.parametrize(
    ("changed", "field", "message"),
    [
        ({"households": "100"}, "main_road_households",
         "Số hộ ven trục đường chính (200) không được lớn hơn tổng số hộ (100)."),
        ({"main_road_standard_bins": "201"}, "main_road_standard_bins",
         "Số hộ ven trục đường chính có thùng rác đạt chuẩn (201) không được lớn hơn số hộ ven "
         "trục đường chính (200)."),
        ({"households": "ba trăm"}, "households",
         "Tổng số hộ: cần một số nguyên (ví dụ 450), đã nhập “ba trăm”."),
        ({"main_road_households": ""}, "main_road_households",
         "Số hộ ven trục đường chính: chưa nhập."),
        ({"households": "-4"}, "households", "Tổng số hộ: không được là số âm."),
        ({"households": "5000000"}, "households", "Tổng số hộ: không được lớn hơn 1.000.000."),
        ({"entered_by": "  "}, "entered_by", "Người nhập: chưa nhập."),
        ({"entered_by": "x" * 65}, "entered_by", "Người nhập: dài quá 64 ký tự."),
        ({"effective_from": "31/02/2026"}, "effective_from",
         "Áp dụng từ ngày: “31/02/2026” không phải là một ngày (ngày/tháng/năm, ví dụ 01/06/2026)."),
        ({"effective_from": "0001-01-01"}, "effective_from",
         "Áp dụng từ ngày: không được trước ngày 01/01/2000."),
    ],
)  # fmt: skip
def test_refused_census_figures_come_back_with_a_message_naming_the_field(
    office: TestClient, api: TestClient, changed: dict[str, str], field: str, message: str
) -> None:
    before = census_in_force(api)
    page = office.get("/thon/dong-ha").text
    refused = office.post(FORM, data={**GOOD, **changed, "csrf": csrf_of(page)})
    assert refused.status_code == 422
    assert message in text_of(refused.text, "census-errors")
    assert re.search(rf'id="census-{field}"[^>]*aria-invalid="true"', refused.text)
    assert message in text_of(refused.text, f"census-{field}-error")
    for name, value in {**GOOD, **changed}.items():  # what was typed stays in the form
        if name in ("households", "main_road_households", "main_road_standard_bins"):
            assert f'name="{name}" type="text" inputmode="numeric" value="{value}"' in refused.text
    assert census_in_force(api) == before, "nothing kept"


def test_the_census_form_needs_an_operator_and_its_csrf_token(
    app: FastAPI, office: TestClient, api: TestClient, secrets: dict[Role, str]
) -> None:
    before = census_in_force(api)
    viewer = signed_in(app, secrets[Role.VIEWER])
    page = viewer.get("/thon/dong-ha").text
    assert 'id="census-form"' not in page
    assert "Cần đăng nhập với quyền xử lý để nhập số liệu điều tra mới." in page
    assert "Lịch sử số liệu điều tra" in page  # the history is for every reader
    refused = viewer.post(FORM, data={**GOOD, "csrf": csrf_of(page)})
    assert refused.status_code == 403 and "chỉ có quyền xem" in refused.text
    assert office.post(FORM, data=GOOD).status_code == 403  # no CSRF token
    forged = office.post(FORM, data={**GOOD, "csrf": "0" * 64})
    assert forged.status_code == 403 and "tải lại trang" in forged.text
    stranger = TestClient(app, follow_redirects=False).post(FORM, data=GOOD)
    assert stranger.status_code == 303 and stranger.headers["Location"].startswith("/dang-nhap")
    token = csrf_of(office.get("/thon/dong-ha").text)
    assert office.post("/thon/atlantis/dieu-tra", data={**GOOD, "csrf": token}).status_code == 404
    assert census_in_force(api) == before


def test_the_village_page_shows_scores_alerts_and_each_devices_state(
    office: TestClient, api: TestClient
) -> None:
    page = office.get("/thon/dong-ha").text
    assert "Tạm tính đến" in text_of(page, "status") or "Kết quả" in page
    assert re.search(r'<tr data-village="dong-ha">', page), "its scores and coverage"
    fault = alert_of(api, "lamp-dong-ha-002", "lamp_fault")
    low = alert_of(api, "bin-dong-ha-03", "battery_low")
    alerts = text_of(page, "village-alerts")
    assert f"Cảnh báo số {fault['id']}: đèn không sáng – lamp-dong-ha-002" in alerts
    assert f"Cảnh báo số {low['id']}: sắp hết pin – bin-dong-ha-03" in alerts
    # a lamp on without current: the fault, highlighted, linked to its alert
    broken = row_of(page, "lamp-dong-ha-002")
    assert 'class="text state problem" data-state="fault"' in broken
    assert f'<a href="/canh-bao/{fault["id"]}"' in broken
    assert "Hỏng – không có dòng điện</a>" in broken
    assert "0,00" in broken  # its current
    # that alert's own page names the lamp's lane, with its village and device as links
    own = office.get(f"/canh-bao/{fault['id']}").text
    where = re.search(r'<p class="alert-where">(.*?)</p>', own, re.S)
    assert where, "the alert's place"
    assert " ".join(re.sub(r"<[^>]+>", " ", where[1]).split()) == (
        "Ngõ Chùa , Thôn Đông Hạ · thiết bị lamp-dong-ha-002"
    )
    assert 'href="/thon/dong-ha"' in where[1] and 'href="/thiet-bi/lamp-dong-ha-002"' in where[1]
    assert "Đèn đang sáng" in row_of(page, "lamp-dong-ha-001")
    silent = row_of(page, "lamp-dong-ha-010")
    assert silent.count("Chưa có dữ liệu") == 3  # state, current, time: no blank cell
    # battery levels a clerk reads, the low one at the alert's own threshold
    assert "Tốt" in row_of(page, "bin-dong-ha-01") and "3,95 V" in row_of(page, "bin-dong-ha-01")
    assert "Trung bình" in row_of(page, "bin-dong-ha-02")
    weak = row_of(page, "bin-dong-ha-03")
    assert 'class="text battery problem" data-level="low"' in weak and "Yếu – cần thay" in weak
    assert "55,5" in row_of(page, "bin-dong-ha-02")
    assert row_of(page, "bin-dong-ha-04").count("Chưa có dữ liệu") == 4
    assert 'href="/thiet-bi/lamp-dong-ha-002"' in page


def test_the_devices_page_lists_installation_data_and_states_with_filters(
    office: TestClient, api: TestClient
) -> None:
    page = office.get("/thiet-bi").text
    assert page.count("<tr data-device=") == 380
    assert "Thiết bị</a>" in page  # the header's link
    planned = row_of(page, "lamp-dong-ha-003")
    assert '"text installed">01/03/2026' in planned and '"text removed">15/11/2026' in planned
    assert 'installed">Chưa ghi' in row_of(page, "lamp-dong-ha-001")
    assert 'removed">Chưa tháo' in row_of(page, "lamp-dong-ha-001")
    assert 'href="/thiet-bi/lamp-dong-ha-001"' in page and 'href="/thon/dong-ha"' in page
    fault = alert_of(api, "lamp-dong-ha-002", "lamp_fault")
    broken = row_of(page, "lamp-dong-ha-002")
    assert "Hỏng – không có dòng điện" in broken and f"/canh-bao/{fault['id']}" in broken
    faults = office.get("/thiet-bi", params={"loai": "lamp", "trang_thai": "fault"}).text
    assert re.findall(r'<tr data-device="([^"]+)"', faults) == ["lamp-dong-ha-002"]
    village = office.get("/thiet-bi", params={"thon": "phu-khe"}).text
    assert village.count("<tr data-device=") == sum(
        1 for d in api.get("/api/v1/devices", params={"village": "phu-khe"}).json()
    )
    wrong = office.get("/thiet-bi", params={"trang_thai": "hong"})
    assert wrong.status_code == 422 and "trang_thai" in wrong.text


def test_a_device_page_shows_its_latest_readings_newest_first(
    office: TestClient, api: TestClient
) -> None:
    page = office.get("/thiet-bi/lamp-dong-ha-002").text
    assert "<h1>Đèn đường lamp-dong-ha-002</h1>" in page
    facts = text_of(page, "device-facts")
    assert "Thôn Thôn Đông Hạ" in facts and "Ngõ, xóm Ngõ Chùa" in facts
    assert "Trạng thái Hỏng – không có dòng điện" in facts
    readings = api.get("/api/v1/devices/lamp-dong-ha-002/readings").json()
    table = text_of(page, "readings")
    assert table.count(" Bật 0,00 ") == len(readings) == 5
    newest_first = [local_time(r["ts"]) for r in sorted(readings, key=lambda r: -r["ts"])]
    assert re.findall(r'<tr><td class="text">([0-9:/ ]+)</td>', page) == newest_first
    bin_page = office.get("/thiet-bi/bin-dong-ha-03").text
    assert "Yếu – cần thay (3,40 V)" in text_of(bin_page, "device-facts")
    assert "Yếu – cần thay (3,40 V)" in text_of(bin_page, "readings")
    silent = office.get("/thiet-bi/bin-dong-ha-04").text
    assert text_of(silent, "no-readings") == "Chưa có dữ liệu"
    assert office.get("/thiet-bi/lamp-nowhere-999").status_code == 404
