"""Green Sundays and clean-up days: recorded, corrected and deleted through the API and the
office's form, listed by period, on the village page, and in the reports beside the indicators
(the score unchanged). The API's tests run on SQLite and PostgreSQL (``sql_url``: the tables
are migration 0007's)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.reports.build import CAMPAIGN_CSV_TITLES, CAMPAIGNS_TITLE, COLUMNS
from sangsach.config import BackendSettings
from tests.harness import ADMIN

GREEN_SUNDAY = {"first_day": "2026-06-14", "villages": ["dong-ha", "phu-khe"],
                "participants": 1200, "note": "Nạo vét mương thoát nước"}  # fmt: skip
CLEAN_UP = {"kind": "tong_ve_sinh", "first_day": "2026-06-30", "last_day": "2026-07-01",
            "all_villages": True}  # fmt: skip
VILLAGES = 10  # the sample registry's


def issued(api: TestClient, role: str) -> dict[str, str]:
    made = api.post("/api/v1/tokens", json={"name": f"cán bộ {role}", "role": role})
    return {"Authorization": f"Bearer {made.raise_for_status().json()['token']}"}


@pytest.fixture
def api(tmp_path: Path, sql_url: str) -> Iterator[TestClient]:
    settings = BackendSettings(data_dir=tmp_path, database_url=sql_url)
    with TestClient(create_app(settings), headers=ADMIN) as client:
        yield client


def errors_of(answer: Any) -> dict[str, str]:
    """A 422's refused fields (``villages.0`` for an item) and their reasons."""
    assert answer.status_code == 422, answer.text
    return {".".join(str(p) for p in e["loc"][1:]): e["msg"] for e in answer.json()["detail"]}


def test_recorded_listed_by_period_corrected_and_deleted(api: TestClient) -> None:
    operator = issued(api, "operator")
    made = api.post("/api/v1/campaigns", json=GREEN_SUNDAY, headers=operator)
    assert made.status_code == 201, made.text
    sunday = made.json()
    assert (sunday["name"], sunday["kind_vi"], sunday["last_day"]) == (
        "Chủ nhật xanh", "Chủ nhật xanh", "2026-06-14",
    )  # fmt: skip
    assert sunday["villages"] == ["dong-ha", "phu-khe"] and sunday["participants"] == 1200
    assert sunday["entered_by"] == "cán bộ operator"  # the token's name when none is given
    whole = api.post("/api/v1/campaigns", json=CLEAN_UP, headers=operator).json()
    assert whole["all_villages"] and len(whole["villages"]) == VILLAGES
    assert whole["name"] == "Tổng vệ sinh môi trường"

    def listed(**params: str) -> list[int]:
        answer = api.get("/api/v1/campaigns", params=params)
        assert answer.status_code == 200, answer.text
        return [c["id"] for c in answer.json()]

    assert listed() == [sunday["id"], whole["id"]]
    # a campaign over the turn of the half year belongs to both halves
    assert listed(period="2026-H1") == [sunday["id"], whole["id"]]
    assert listed(period="2026-H2") == [whole["id"]]
    assert listed(period="2026-06-15..2026-06-29") == []
    assert listed(period="2026-H1", village="lac-duc") == [whole["id"]]
    assert errors_of(api.get("/api/v1/campaigns", params={"period": "2026-H3"})) == {
        "period": "period '2026-H3': expected YYYY-MM, YYYY-H1, YYYY-H2 or YYYY (or days "
        "YYYY-MM-DD..YYYY-MM-DD), e.g. 2026-H1"
    }
    assert api.get("/api/v1/campaigns", params={"village": "atlantis"}).status_code == 404

    # corrected: another village, another day; its id and first entry time stay
    fixed = {**GREEN_SUNDAY, "first_day": "2026-06-21", "villages": ["lac-duc"]}
    corrected = api.put(f"/api/v1/campaigns/{sunday['id']}", json=fixed, headers=operator)
    assert corrected.status_code == 200, corrected.text
    again = api.get(f"/api/v1/campaigns/{sunday['id']}").json()
    assert (again["first_day"], again["villages"]) == ("2026-06-21", ["lac-duc"])
    assert again["entered_at"] == sunday["entered_at"] and again["corrected_at"] is not None
    assert listed(village="dong-ha") == [whole["id"]]

    assert api.delete(f"/api/v1/campaigns/{sunday['id']}", headers=operator).status_code == 204
    assert listed() == [whole["id"]]
    assert api.get(f"/api/v1/campaigns/{sunday['id']}").status_code == 404
    assert api.delete(f"/api/v1/campaigns/{sunday['id']}", headers=operator).status_code == 404
    assert api.put("/api/v1/campaigns/999", json=fixed, headers=operator).status_code == 404


def test_bad_input_is_refused_naming_each_field(api: TestClient) -> None:
    def refused(**changes: Any) -> dict[str, str]:
        body = {k: v for k, v in {**GREEN_SUNDAY, **changes}.items() if v is not None}
        return errors_of(api.post("/api/v1/campaigns", json=body))

    assert refused(first_day=None) == {"first_day": "Field required"}
    assert "first_day" in refused(first_day="14/06/2026")
    assert refused(last_day="2026-06-13") == {
        "last_day": "last_day 2026-06-13 is before first_day 2026-06-14"
    }
    assert refused(last_day="2026-07-15") == {"last_day": "a campaign is at most 31 days"}
    assert refused(kind="other") == {"name": "a campaign of kind 'other' needs a name"}
    assert "kind" in refused(kind="meeting")
    assert refused(villages=[]) == {
        "villages": "name the villages taking part, or set all_villages"
    }
    unknown = refused(villages=["dong-ha", "atlantis"])
    assert list(unknown) == ["villages.1"]
    assert unknown["villages.1"].startswith("no village 'atlantis' in the registry")
    assert set(refused(participants=0, note="x" * 501)) == {"participants", "note"}
    assert "colour" in refused(colour="green")  # a misspelt field is not ignored
    assert api.get("/api/v1/campaigns").json() == []  # nothing kept


def test_only_operators_record_correct_or_delete(api: TestClient) -> None:
    viewer, operator = issued(api, "viewer"), issued(api, "operator")
    kept = api.post("/api/v1/campaigns", json=GREEN_SUNDAY, headers=operator).json()
    path = f"/api/v1/campaigns/{kept['id']}"
    for answer in (
        api.post("/api/v1/campaigns", json=GREEN_SUNDAY, headers=viewer),
        api.put(path, json=GREEN_SUNDAY, headers=viewer),
        api.delete(path, headers=viewer),
    ):
        assert answer.status_code == 403 and "needs the operator role" in answer.text
    assert api.get(path, headers=viewer).json()["id"] == kept["id"]  # a viewer reads them
    assert len(api.get("/api/v1/campaigns", headers=viewer).json()) == 1


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The backend on SQLite with the two campaigns of the first half of 2026 recorded."""
    settings = BackendSettings(data_dir=tmp_path_factory.mktemp("campaigns"))
    with TestClient(create_app(settings), headers=ADMIN) as client:
        for body in (GREEN_SUNDAY, CLEAN_UP):
            client.post("/api/v1/campaigns", json=body).raise_for_status()
        yield client


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_reports_list_the_campaigns_and_count_them_per_village(office: TestClient) -> None:
    document = _text(office.get("/bao-cao/2026-H1.html").text)
    section = document[document.index("II. " + CAMPAIGNS_TITLE) : document.index("III. ")]
    assert (
        "1 Chủ nhật, 14/06/2026 Chủ nhật xanh Thôn Đông Hạ, Thôn Phú Khê 1.200 Nạo vét mương"
        in section
    )
    assert "2 30/06/2026 – 01/07/2026 Tổng vệ sinh môi trường Cả xã" in section

    raw = office.get("/bao-cao/2026-H1.csv").content.decode("utf-8-sig")
    table = list(csv.reader(raw.splitlines(), delimiter=";"))
    titles = [c.title for c in COLUMNS]
    counts = {r[0]: r[titles.index("Số đợt ra quân vệ sinh")] for r in table[1 : VILLAGES + 2]}
    assert (counts["dong-ha"], counts["phu-khe"], counts["lac-duc"]) == ("2", "2", "1")
    assert counts[""] == "2"  # the commune's row: campaigns, not village-campaigns
    start = table.index([CAMPAIGNS_TITLE])
    assert table[start + 1] == list(CAMPAIGN_CSV_TITLES)
    assert table[start + 2] == ["14/06/2026", "14/06/2026", "Chủ nhật xanh", "Chủ nhật xanh",
                                "Thôn Đông Hạ, Thôn Phú Khê", "1200",
                                "Nạo vét mương thoát nước"]  # fmt: skip
    # the second half year has the clean-up that ran over its first day, and no Green Sunday
    second = office.get("/bao-cao/2026-H2.csv").content.decode("utf-8-sig")
    assert "30/06/2026;01/07/2026;Tổng vệ sinh" in second and "14/06/2026" not in second

    page = office.get("/bao-cao", params={"ky": "2026-H1"}).text
    assert 'id="campaigns"' in page and "Nạo vét mương thoát nước" in page
    row = re.search(r'<tr data-village="dong-ha">(.*?)</tr>', page, re.S)
    assert row and '<td class="campaigns">2</td>' in row.group(1)
    assert '<tr id="total" class="total">' in page


def test_the_village_page_shows_its_campaigns_of_the_period(office: TestClient) -> None:
    page = _text(office.get("/thon/phu-khe", params={"ky": "2026-H1"}).text)
    assert "Chủ nhật xanh, ra quân vệ sinh 6 tháng đầu năm 2026 (2)" in page
    assert "Chủ nhật, 14/06/2026 Chủ nhật xanh Thôn Đông Hạ, Thôn Phú Khê 1.200" in page
    lac_duc = _text(office.get("/thon/lac-duc", params={"ky": "2026-06"}).text)
    assert "(1)" in lac_duc and "Nạo vét" not in lac_duc  # only the clean-up, whole commune
    none = _text(office.get("/thon/lac-duc", params={"ky": "2026-05"}).text)
    assert "Thôn chưa tham gia đợt nào được ghi nhận trong kỳ này." in none


def test_the_form_names_each_refused_field_in_vietnamese(office: TestClient) -> None:
    form = {"kind": "other", "first_day": "31/02/2026", "last_day": "", "participants": "nhiều"}
    answer = office.post("/chien-dich", data=form, follow_redirects=False)
    assert answer.status_code == 422
    listed = re.findall(r'<li><a href="#campaign-(\w+)">([^<]*)</a>', answer.text)
    assert listed == [
        ("name", "Tên hoạt động: cần ghi tên cho loại “Hoạt động khác”."),
        ("first_day", "Ngày: “31/02/2026” không phải là một ngày (ngày/tháng/năm, ví dụ "
         "14/06/2026)."),
        ("villages", "Thôn tham gia: chọn ít nhất một thôn, hoặc chọn “Cả xã”."),
        ("participants", "Số người tham gia: cần một số nguyên (ví dụ 120), đã nhập “nhiều”."),
    ]  # fmt: skip
    assert 'value="nhiều"' in answer.text  # what was typed stays
    late = {"first_day": "14/6/2026", "last_day": "13/06/2026", "villages": "dong-ha"}
    answer = office.post("/chien-dich", data=late, follow_redirects=False)
    assert "Đến ngày (13/06/2026) không được trước ngày bắt đầu (14/6/2026)." in answer.text

    kept = office.post("/chien-dich", data={**late, "last_day": ""}, follow_redirects=False)
    assert kept.status_code == 303
    assert kept.headers["location"].startswith("/chien-dich?ky=2026&da_luu=")
    shown = office.get(kept.headers["location"]).text
    assert "Đã lưu đợt “Chủ nhật xanh” (Chủ nhật, 14/06/2026)." in shown
    new_id = int(kept.headers["location"].split("da_luu=")[1].split("#")[0])
    gone = office.post(f"/chien-dich/{new_id}/xoa", follow_redirects=False)
    assert gone.headers["location"] == f"/chien-dich?ky=2026&da_xoa={new_id}"
    assert f"Đã xóa đợt số {new_id}." in office.get(gone.headers["location"]).text
