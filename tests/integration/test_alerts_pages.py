"""The alerts pages on the whole backend: each alert with its place, village and device, the
people texted and the replies by name (the phone as detail), "Báo xong" and the flag when the
device still reports the fault after it; the notice after "Nhận xử lý"; the history filtered
by village, type, state and period, in pages."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.auth.identify import ADMIN_FROM_SETTINGS, shown_name
from sangsach.backend.notify import outbox
from sangsach.backend.notify.outbox import Sms
from sangsach.backend.web import alerts_page
from sangsach.config import BackendSettings
from tests.harness import ADMIN, GATEWAY, WEBHOOK

TAM = "+84912000181"  # Nguyễn Văn Tâm, Tổ thu gom rác số 1 (Đông Hạ's bins)
HUNG = "+84912000107"  # Nguyễn Văn Hùng, head of Thôn Đông Hạ
BIN = "bin-dong-ha-01"
MAY = 1_779_000_000  # 2026-05-17, local time


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    settings = BackendSettings(data_dir=tmp_path, alert_quiet_hours="")
    with TestClient(create_app(settings), headers=ADMIN) as client:
        yield client


def ingest(client: TestClient, device: str, seq: int, ts: int, **values: Any) -> None:
    kind = "lamp" if device.startswith("lamp") else "bin"
    reading = {"id": device, "kind": kind, "boot": 1, "seq": seq, "ts": ts,
               "received_at": ts + 1.0, **values}  # fmt: skip
    body = {"gateway": "gw-1", "readings": [reading]}
    assert client.post("/api/v1/ingest", json=body, headers=GATEWAY).status_code == 200


def code_of(client: TestClient, device: str) -> int:
    [alert] = client.get("/api/v1/alerts", params={"device": device, "active": True}).json()
    return int(alert["id"])


def sms(client: TestClient, sender: str, text: str) -> None:
    body = {"from": sender, "text": text}
    assert client.post("/api/v1/sms/inbound", json=body, headers=WEBHOOK).status_code == 200


def card(page: str, code: int) -> str:
    """The text of one alert's card, tags out."""
    found = re.search(rf'<article[^>]*data-alert="{code}".*?</article>', page, re.S)
    assert found, f"no card of alert {code}"
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found[0])))


def test_an_alert_shows_where_who_was_texted_who_answered_and_done(api: TestClient) -> None:
    ingest(api, BIN, 0, MAY, fill_pct=40.0)
    ingest(api, BIN, 1, MAY + 600, fill_pct=86.0)
    code = code_of(api, BIN)
    page = api.get("/canh-bao").text
    assert 'href="/thon/dong-ha"' in page and f'href="/thiet-bi/{BIN}"' in page
    shown = card(page, code)
    assert "Thùng rác đầy" in shown and "Điểm tập kết số 1" in shown and "Thôn Đông Hạ" in shown
    assert "Nguyễn Văn Tâm (Tổ thu gom rác số 1 · 0912000181)" in shown  # texted, by name
    assert "Phạm Thị Nga (Tổ thu gom rác số 1 · 0912000192)" in shown
    assert "Chưa có người nhận" in shown and "Chưa có tin trả lời" in shown
    assert "Nhận xử lý" in shown

    sms(api, TAM, f"ok {code}")
    sms(api, TAM, f"Xong {code} rồi")  # not understood: answered how to write it
    sms(api, TAM, f"XONG {code}")
    sms(api, TAM, f"XONG {code}")  # the carrier delivers it again: kept, answered once
    shown = card(api.get("/canh-bao").text, code)
    assert shown.count(f"Đã trả lời: Da ghi nhan XONG {code}.") == 1
    assert "Tin lặp lại: đã trả lời một lần ở trên." in shown
    assert "Đã nhận: Nguyễn Văn Tâm (Tổ thu gom rác số 1 · 0912000181)" in shown
    assert "Báo xong: Nguyễn Văn Tâm (Tổ thu gom rác số 1 · 0912000181)" in shown
    assert "Chờ thiết bị xác nhận hết lỗi" in shown
    assert f"XONG {code}, báo xong" in shown
    assert f"Đã trả lời: Da ghi nhan XONG {code}. Cam on. (" in shown
    assert f"ok {code}, nhận việc" in shown
    assert "Nhận xử lý" not in shown  # taken on: no button

    # The crew said done, and the bin, read afterwards, is still full: flagged.
    ingest(api, BIN, 2, int(api.get(f"/api/v1/alerts/{code}").json()["done_at"]) + 60,
           fill_pct=88.0)  # fmt: skip
    shown = card(api.get("/canh-bao").text, code)
    assert "Thiết bị vẫn báo lỗi sau khi báo xong" in shown
    assert "Chờ thiết bị xác nhận" not in shown

    # Emptied: the alert clears, leaves the open list, and stays on its own page.
    ingest(api, BIN, 3, int(api.get(f"/api/v1/alerts/{code}").json()["done_at"]) + 600,
           fill_pct=3.0)  # fmt: skip
    assert f'data-alert="{code}"' not in api.get("/canh-bao").text
    own = api.get(f"/canh-bao/{code}")
    assert own.status_code == 200
    shown = card(own.text, code)
    assert "Đã hết lúc" in shown and "Báo xong: Nguyễn Văn Tâm" in shown
    assert "vẫn báo lỗi" not in shown
    assert api.get("/canh-bao/999999").status_code == 404


def test_a_head_answering_another_villages_alert_is_shown_refused(api: TestClient) -> None:
    ingest(api, "bin-phu-khe-01", 0, MAY, fill_pct=90.0)
    code = code_of(api, "bin-phu-khe-01")
    sms(api, HUNG, f"XONG {code}")  # the head of Đông Hạ, not of Phú Khê
    shown = card(api.get("/canh-bao").text, code)
    assert "Nguyễn Văn Hùng (Trưởng thôn Đông Hạ · 0912000107)" in shown
    assert "không ghi nhận: số này không được giao cảnh báo này" in shown
    assert "khong giao cho so may nay" in shown  # its answer
    assert "Chưa có người nhận" in shown


def test_the_office_acknowledges_and_is_told_so(api: TestClient) -> None:
    ingest(api, BIN, 0, MAY, fill_pct=90.0)
    code = code_of(api, BIN)
    done = api.post(f"/canh-bao/{code}/nhan", follow_redirects=False)
    assert done.status_code == 303
    page = api.get(done.headers["Location"]).text
    assert f'<p class="notice" id="notice" role="status">Đã nhận xử lý cảnh báo {code}.</p>' in page
    admin = shown_name(ADMIN_FROM_SETTINGS)  # the name pages give the bootstrap token
    assert f"Đã nhận: {admin} (trên trang web)" in card(page, code)
    again = api.get(api.post(f"/canh-bao/{code}/nhan", follow_redirects=False).headers["Location"])
    assert f"Đã nhận xử lý cảnh báo {code}." in again.text  # by the same person: still so
    assert 'id="notice"' not in api.get("/canh-bao", params={"da": "bừa", "ma": code}).text


def test_the_history_filters_by_village_type_state_and_period_in_pages(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(api, BIN, 0, MAY, fill_pct=90.0)  # Đông Hạ, bin_full, emptied below
    ingest(api, BIN, 1, MAY + 3600, fill_pct=2.0)
    ingest(api, "bin-phu-khe-01", 0, MAY + 60, fill_pct=90.0)  # Phú Khê, open
    ingest(api, "bin-dong-ha-03", 0, MAY + 120, fill_pct=50.0, temp_c=95.0)  # a fire
    ingest(api, "bin-dong-ha-02", 0, MAY - 40 * 86_400, fill_pct=90.0)  # April

    row = re.compile(
        r'<tr data-alert="\d+" data-state="[^"]+">.*?<td class="text">([^<]+)</td>'
        r'.*?<a href="/thon/([^"]+)"',
        re.S,
    )

    def shown(**params: str) -> list[tuple[str, str]]:
        """Each alert row of the history: its type in words and its village."""
        page = api.get("/canh-bao/lich-su", params={"ky": "2026-05", **params})
        assert page.status_code == 200, page.text
        return [(m[1], m[2]) for m in row.finditer(page.text)]

    everything = api.get("/canh-bao/lich-su", params={"ky": "2026-05"}).text
    assert "tháng 05/2026: <strong>3</strong> cảnh báo" in everything.lower()
    assert len(shown()) == 3
    assert len(shown(thon="", loai="", trang_thai="", ngay="")) == 3  # the form, left as it is
    wrong = api.get("/canh-bao/lich-su", params={"loai": "bừa"})
    assert wrong.status_code == 422
    assert "tham số loai trong địa chỉ: phải là một trong: 'lamp_fault'" in html.unescape(
        wrong.text
    )
    assert {v for _, v in shown(thon="dong-ha")} == {"dong-ha"} and len(shown(thon="dong-ha")) == 2
    assert shown(loai="fire") == [("Nghi cháy", "dong-ha")]
    assert shown(trang_thai="cleared") == [("Thùng rác đầy", "dong-ha")]
    assert shown(thon="phu-khe", trang_thai="active_unacknowledged") == [
        ("Thùng rác đầy", "phu-khe")
    ]
    assert len(shown(ky="2026-04")) == 1
    assert len(shown(ngay="2026-05-17..2026-05-17")) == 3
    assert "Thời gian đến khi hết trung bình" in everything and "1 giờ" in everything
    assert api.get("/canh-bao/lich-su", params={"ky": "0001-H1"}).status_code == 422
    days = html.unescape(api.get("/canh-bao/lich-su", params={"ngay": "hôm qua"}).text)
    assert "tham số ngay trong địa chỉ: không đọc được kỳ 'hôm qua'. Kỳ viết là 2026-06" in days

    monkeypatch.setattr(alerts_page, "PAGE_SIZE", 2)
    first = api.get("/canh-bao/lich-su", params={"ky": "2026-05"}).text
    assert "trang 1/2" in first and len(shown()) == 2
    link = html.unescape(re.search(r'href="([^"]+)" rel="next"', first)[1])  # type: ignore[index]
    assert link == "/canh-bao/lich-su?ky=2026-05&trang=2"
    assert len(shown(trang="2")) == 1
    assert 'rel="prev"' in api.get(link).text


def test_a_digest_is_shown_on_each_alert_whose_code_it_lists(api: TestClient) -> None:
    ingest(api, BIN, 0, MAY, fill_pct=90.0)
    ingest(api, "bin-dong-ha-02", 0, MAY, fill_pct=90.0)
    ingest(api, "bin-dong-ha-03", 0, MAY, fill_pct=90.0)
    first, second, third = (code_of(api, b) for b in (BIN, "bin-dong-ha-02", "bin-dong-ha-03"))
    # What the engine queues when several alerts are due for one phone at once: one SMS, no
    # alert_id, the codes in its text; a code left out for room is not named.
    body = f"3 canh bao moi, ma: {first} {second} +1. Gap nhat: Diem tap ket so 1, Thon Dong Ha."
    digest = Sms(f"digest:{HUNG}:1", HUNG, body, "gsm7", "digest")
    engine = api.app.state.services.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        outbox.enqueue(conn, digest, time.time())
    page = api.get("/canh-bao").text
    for code in (first, second):
        assert "Nguyễn Văn Hùng (Trưởng thôn Đông Hạ · 0912000107): 1 tin (tin gộp)" in card(
            page, code
        )
    assert "Nguyễn Văn Hùng" not in card(page, third)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (12, "dưới 1 phút"), (45 * 60, "45 phút"), (3600, "1 giờ"),
     (3 * 3600 + 20 * 60, "3 giờ 20 phút"), (2 * 86_400, "2 ngày"),
     (2 * 86_400 + 4 * 3600 + 59, "2 ngày 4 giờ")],
)  # fmt: skip
def test_mean_times_read_as_a_clerk_reads_them(seconds: float | None, text: str) -> None:
    assert alerts_page.duration(seconds) == text
