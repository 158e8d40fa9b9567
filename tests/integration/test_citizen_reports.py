"""Citizens' reports through the whole backend: an SMS from any phone (RAC, DEN, free text) or
the public form becomes a ticket linked to the device, village and open alert, acknowledged by
one GSM-7 SMS at the stand-in carrier and closed with another; and what abuse gets: unknown
codes, reply storms, our own SMS echoed back, a day's share, huge texts, forged and hurried
forms, and a flood from one address that creates no more than the limit's tickets while the
office's pages answer."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.auth.ratelimit import RateLimiter
from sangsach.backend.citizens.form import BURST, FormGuard
from sangsach.backend.citizens.service import PER_PHONE_DAY
from sangsach.backend.notify.text import fits_one_segment
from sangsach.backend.notify.webhook import signed_headers
from sangsach.config import DEV_WEBHOOK_SECRET, BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.carrier import Carrier
from tests.harness import ADMIN, GATEWAY, wait_until

COMMUNE = load_registry(SAMPLE_REGISTRY)
CITIZEN = "+84987000001"  # in no list of the registry
OTHER = "+84987000002"
COLLECTOR = next(t for t in COMMUNE.teams if t.id == "thu-gom-1").members[0].phone
JSON = {"Content-Type": "application/json"}


def backend(tmp_path: Path, carrier: Carrier, **settings: Any) -> TestClient:
    configured = BackendSettings(
        data_dir=tmp_path, auth_failures_burst=0, alert_quiet_hours="",
        sms_provider="http", sms_http_url=carrier.url, sms_retry_min_s=1, **settings,
    )  # fmt: skip
    return TestClient(create_app(configured), headers=ADMIN)


@pytest.fixture
def api(tmp_path: Path, carrier: Carrier) -> Iterator[TestClient]:
    with backend(tmp_path, carrier) as client:
        yield client


def sms(client: TestClient, sender: str, text: str) -> dict[str, Any]:
    """The carrier posting an SMS to the commune's number, signed, with its own message id."""
    body = json.dumps({"from": sender, "text": text, "id": uuid4().hex}).encode()
    headers = {**JSON, **signed_headers(DEV_WEBHOOK_SECRET, body, time.time())}
    answer = client.post("/api/v1/sms/inbound", content=body, headers=headers)
    assert answer.status_code in (200, 403), answer.text
    result: dict[str, Any] = answer.json()
    number = re.fullmatch(r"ticket #([0-9]+)", result.get("reason", ""))
    result["ticket"] = int(number[1]) if number else None
    return result


def delivered(carrier: Carrier, to: str) -> list[str]:
    """The SMS the stand-in carrier delivered to ``to``, in their order of arrival."""
    with carrier.lock:
        keys = sorted(carrier.payloads, key=carrier.arrived_at.__getitem__)
        return [carrier.payloads[k]["text"] for k in keys if carrier.payloads[k]["to"] == to]


def outbox(client: TestClient, to: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = client.get("/api/v1/sms/outbox", params={"to": to}).json()
    return sent


def full_bin(client: TestClient, bin_id: str) -> str:
    now = int(time.time())
    reading = {"id": bin_id, "kind": "bin", "boot": 1, "seq": 1, "ts": now, "fill_pct": 90.0,
               "received_at": now + 1.0}  # fmt: skip
    batch = {"gateway": "gw-1", "readings": [reading]}
    assert client.post("/api/v1/ingest", json=batch, headers=GATEWAY).status_code == 200
    [alert] = client.get("/api/v1/alerts", params={"device": bin_id}).json()
    return str(alert["id"])


def stamp(client: TestClient, age_s: float = 10.0) -> str:
    """A form stamp as the form page gives it, ``age_s`` old (a person takes that to fill in)."""
    assert client.get("/phan-anh").status_code == 200
    guard: FormGuard = client.app.state.citizen_form  # type: ignore[attr-defined]
    return guard.stamp(time.time() - age_s)


def test_a_report_by_sms_becomes_a_ticket_acknowledged_and_closed_at_the_carrier(
    tmp_path: Path, carrier: Carrier, sql_url: str
) -> None:
    with backend(tmp_path, carrier, database_url=sql_url) as api:
        alert = full_bin(api, "bin-dong-ha-02")  # P1's second bin is full
        result = sms(api, "0987 000 001", "Rác p1 tràn ra đường!")
        assert result["accepted"] and result["action"] == "report" and result["code"] == "P1"
        [ticket] = api.get("/api/v1/tickets").json()
        assert ticket["id"] == result["ticket"]
        assert (ticket["phone"], ticket["kind"], ticket["village_id"], ticket["place_id"]) == (
            CITIZEN, "rac", "dong-ha", "dong-ha-p1",
        )  # fmt: skip
        # linked to the point's bin whose alert is open, and to that alert
        assert (ticket["device_id"], ticket["alert_id"]) == ("bin-dong-ha-02", alert)
        wait_until(lambda: len(delivered(carrier, CITIZEN)) == 1, 10, "the acknowledgement")
        [ack] = delivered(carrier, CITIZEN)
        assert ack.startswith(f"Da nhan phan anh #{ticket['id']} ve diem P1, Thon Dong Ha.")
        assert fits_one_segment(ack, "gsm7")
        [kept] = [m for m in api.get("/api/v1/sms/inbound").json() if m["sender"] == CITIZEN]
        assert (kept["result"], kept["action"], kept["code"]) == ("report", "report", "P1")

        closed = api.post(f"/api/v1/tickets/{ticket['id']}/close", json={"note": "đã thu gom"})
        assert closed.json()["status"] == "closed" and closed.json()["note"] == "đã thu gom"
        wait_until(lambda: len(delivered(carrier, CITIZEN)) == 2, 10, "the closing SMS")
        closing = delivered(carrier, CITIZEN)[1]
        assert closing == f"Phan anh #{ticket['id']} ve diem P1, Thon Dong Ha da duoc xu ly. " \
            "Cam on ban da bao cho xa."  # fmt: skip
        # closing again sends nothing more
        api.post(f"/api/v1/tickets/{ticket['id']}/close")
        assert [m["kind"] for m in outbox(api, CITIZEN)] == ["citizen", "citizen"]
        assert api.post("/api/v1/tickets/999/close").status_code == 404
        assert api.get("/api/v1/tickets", params={"status": "open"}).json() == []


def test_lamps_free_text_and_the_crews_replies_each_go_their_way(
    api: TestClient, carrier: Carrier
) -> None:
    lamp = sms(api, CITIZEN, "đèn số 15 không sáng")
    assert lamp["accepted"] and lamp["code"] == "D15"
    free = sms(api, OTHER, "Thôn Phú Khê ngõ 3 tối om mấy hôm nay")
    assert free["accepted"] and free["code"] is None
    tickets = {t["id"]: t for t in api.get("/api/v1/tickets").json()}
    assert tickets[lamp["ticket"]]["device_id"] == "lamp-dong-ha-015"
    assert tickets[lamp["ticket"]]["kind"] == "den"
    assert (tickets[free["ticket"]]["village_id"], tickets[free["ticket"]]["kind"]) == (
        "phu-khe", "khac",
    )  # fmt: skip
    # a crew's reply is still a reply: not a ticket
    crew = sms(api, COLLECTOR, "XONG P1")
    assert crew["action"] == "done" and crew["ticket"] is None
    # a stranger's "OK 3" is refused as before, unanswered
    assert sms(api, "+84987000009", "OK 3")["detail"].endswith("is not in the registry")
    assert outbox(api, "+84987000009") == []
    assert len(api.get("/api/v1/tickets").json()) == 2


def test_unknown_codes_storms_and_echoes_get_one_help_sms_a_day(
    api: TestClient, carrier: Carrier
) -> None:
    refused = sms(api, CITIZEN, "RAC P999")
    assert not refused["accepted"] and "no code P999" in refused["reason"]
    wait_until(lambda: len(delivered(carrier, CITIZEN)) == 1, 10, "the help SMS")
    assert delivered(carrier, CITIZEN)[0].startswith("Khong co ma P999. Ma in tren thung rac")
    # a storm of texts that name nothing, and our own SMS sent back by an auto-responder
    for n in range(30):
        sms(api, CITIZEN, f"alo alo {n}")
        sms(api, CITIZEN, "Da nhan phan anh #12 ve diem P1, Thon Dong Ha. Cam on ban.")
    assert len(outbox(api, CITIZEN)) == 1  # the one help SMS of the day, nothing more
    assert api.get("/api/v1/tickets").json() == []
    # a carrier's short code or a name as the sender: never answered
    assert not sms(api, "VIETTEL", "RAC P1")["accepted"]
    assert not sms(api, "1414", "RAC P1")["accepted"]


def test_one_phone_makes_at_most_the_days_share_of_tickets(
    api: TestClient, carrier: Carrier
) -> None:
    results = [sms(api, CITIZEN, f"DEN D{n}") for n in range(1, PER_PHONE_DAY + 4)]
    assert [r["accepted"] for r in results] == [True] * PER_PHONE_DAY + [False] * 3
    assert "reports today" in results[-1]["reason"]
    # the same text again within minutes is the same ticket, acknowledged once
    again = sms(api, OTHER, "RAC P2")
    assert sms(api, OTHER, "RAC P2")["ticket"] == again["ticket"]
    assert len(api.get("/api/v1/tickets").json()) == PER_PHONE_DAY + 1
    sent = outbox(api, CITIZEN)
    assert len(sent) == PER_PHONE_DAY + 1  # an acknowledgement each, then one notice
    assert sum("hom nay" in m["body"] for m in sent) == 1
    assert all(fits_one_segment(m["body"], "gsm7") for m in sent)
    assert len(outbox(api, OTHER)) == 1


def test_the_public_form_makes_a_ticket_with_a_receipt_and_an_sms(
    api: TestClient, carrier: Carrier
) -> None:
    api.cookies.clear()
    public = TestClient(api.app)  # no token, no cookie: a villager's phone
    form = public.get("/phan-anh", params={"ma": "p3"})
    assert form.status_code == 200
    assert 'name="ma" value="P3"' in form.text and 'value="dong-ha" selected' in form.text
    assert "<script" not in form.text  # works without JavaScript
    page = public.post(
        "/phan-anh",
        data={
            "loai": "rac",
            "ma": "P3",
            "thon": "",
            "noi_dung": "Thùng đầy",
            "sdt": "0987000001",
            "t": stamp(api),
            "website": "",
        },
    )
    assert page.status_code == 200, page.text
    number = re.search(r'id="ticket-number">#([0-9]+)<', page.text)
    assert number, page.text
    [ticket] = api.get("/api/v1/tickets").json()
    assert (ticket["id"], ticket["channel"], ticket["code"]) == (int(number[1]), "web", "P3")
    assert ticket["device_id"] == "bin-dong-ha-05"
    wait_until(lambda: len(delivered(carrier, CITIZEN)) == 1, 10, "the form's acknowledgement")
    # without a phone: a receipt, no SMS
    anonymous = public.post(
        "/phan-anh",
        data={"loai": "khac", "thon": "an-lac", "noi_dung": "Cống tắc", "t": stamp(api)},
    )
    assert anonymous.status_code == 200 and "ghi lại số phiếu" in anonymous.text


def test_the_form_refuses_bad_fields_naming_them_and_forged_or_hurried_posts(
    api: TestClient,
) -> None:
    public = TestClient(api.app)

    def post(**fields: str) -> Any:
        return public.post("/phan-anh", data={"loai": "rac", "thon": "dong-ha", **fields})

    huge = post(noi_dung="x" * 5000, t=stamp(api))
    assert huge.status_code == 422 and "tối đa 500 ký tự" in huge.text and 'id="f-noi_dung"' in huge.text  # fmt: skip
    unknown = post(ma="Q77", t=stamp(api))
    assert unknown.status_code == 422 and "không có mã Q77" in unknown.text
    phone = post(sdt="12ab", t=stamp(api))
    assert phone.status_code == 422 and "số điện thoại không đúng" in phone.text
    nowhere = public.post("/phan-anh", data={"loai": "rac", "t": stamp(api)})
    assert nowhere.status_code == 422 and "chọn thôn" in nowhere.text
    assert api.get("/api/v1/tickets").json() == []


def test_the_forms_guards_stop_bots_replays_and_other_sites(api: TestClient) -> None:
    public = TestClient(api.app)
    fresh = stamp(api, age_s=0)
    hurried = public.post("/phan-anh", data={"loai": "rac", "thon": "dong-ha", "t": fresh})
    assert hurried.status_code == 400 and "gửi quá nhanh" in hurried.text
    guard: FormGuard = api.app.state.citizen_form  # type: ignore[attr-defined]
    guard.limiter = RateLimiter(100, 100)  # the rate has its own test: here each guard alone
    bot = public.post("/phan-anh", data={"loai": "rac", "thon": "dong-ha", "t": stamp(api),
                                         "website": "http://spam.example"})  # fmt: skip
    assert bot.status_code == 400 and "website" in bot.text
    forged = public.post("/phan-anh", data={"loai": "rac", "thon": "dong-ha", "t": "1.2.3"})
    assert forged.status_code == 400 and "không hợp lệ" in forged.text
    used = stamp(api)
    first = public.post("/phan-anh", data={"loai": "rac", "thon": "dong-ha", "t": used})
    assert first.status_code == 200
    replayed = public.post("/phan-anh", data={"loai": "rac", "thon": "dong-ha", "t": used})
    assert replayed.status_code == 400 and "đã được gửi rồi" in replayed.text
    elsewhere = public.post(
        "/phan-anh", data={"loai": "rac", "thon": "dong-ha", "t": stamp(api)},
        headers={"Origin": "http://evil.example"},
    )  # fmt: skip
    assert elsewhere.status_code == 403
    # a file, or more fields than the form has: refused unread, no error of the server
    upload = public.post("/phan-anh", data={"t": stamp(api)}, files={"x": ("a.txt", b"x")})
    assert upload.status_code == 400
    assert public.post("/phan-anh", data={f"f{n}": "1" for n in range(50)}).status_code == 400
    assert len(api.get("/api/v1/tickets").json()) == 1


def test_a_form_flood_from_one_address_makes_no_more_than_the_limits_tickets(
    api: TestClient,
) -> None:
    public = TestClient(api.app)
    stamp(api)
    guard: FormGuard = api.app.state.citizen_form  # type: ignore[attr-defined]
    stamps = [guard.stamp(time.time() - 10) for _ in range(300)]
    answers = [
        public.post("/phan-anh", data={"loai": "rac", "thon": "dong-ha", "t": s}).status_code
        for s in stamps
    ]
    assert answers.count(200) == BURST  # the rate adds one in five minutes: none here
    assert set(answers[BURST:]) == {429}
    assert len(api.get("/api/v1/tickets").json()) == BURST
    # the office's pages still answer
    assert api.get("/phieu-phan-anh").status_code == 200
    assert api.get("/").status_code == 200


def test_the_office_closes_a_ticket_on_its_page_and_prints_the_qr_sheet(
    api: TestClient, carrier: Carrier
) -> None:
    ticket = sms(api, CITIZEN, "DEN D3")["ticket"]
    api.cookies.clear()
    issued = api.post("/api/v1/tokens", json={"name": "Văn phòng xã", "role": "operator"})
    office = TestClient(api.app, follow_redirects=False)
    office.post("/dang-nhap", data={"ma": issued.json()["token"], "tiep": "/phieu-phan-anh"})
    listed = office.get("/phieu-phan-anh")
    assert f'data-ticket="{ticket}"' in listed.text and CITIZEN in listed.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', listed.text)
    assert csrf
    assert office.post(f"/phieu-phan-anh/{ticket}/dong", data={"ghi_chu": "x"}).status_code == 403
    done = office.post(f"/phieu-phan-anh/{ticket}/dong", data={"csrf": csrf[1], "ghi_chu": "Đã thay bóng"})  # fmt: skip
    assert done.status_code == 303
    closed = office.get("/phieu-phan-anh", params={"trang-thai": "dong"}).text
    assert "Đã thay bóng" in closed and "Văn phòng xã" in closed
    wait_until(lambda: len(delivered(carrier, CITIZEN)) == 2, 10, "the closing SMS")

    sheet = office.get("/phieu-phan-anh/ma-qr", params={"thon": "dong-ha"}).text
    assert sheet.count('data-code="P1"') == 2  # a card for each of P1's two bins
    assert sheet.count('data-code="D1"') == 1 and "<svg" in sheet
    assert "/phan-anh?ma=P1" in sheet and "RAC P1" in sheet and "DEN D1" in sheet


def test_the_village_page_and_the_report_count_the_villages_reports(api: TestClient) -> None:
    sms(api, CITIZEN, "RAC P1")  # Đông Hạ
    sms(api, OTHER, "đèn hỏng ở thôn Đông Hạ")
    sms(api, "+84987000003", "RAC P999")  # no ticket
    page = api.get("/thon/dong-ha").text
    assert "Phản ánh của người dân" in page and "Đang chờ xử lý: 2." in page
    assert page.count('<tr data-ticket="') == 2 and CITIZEN not in page  # what, not who
    other = api.get("/thon/phu-khe").text
    assert "Đang chờ xử lý: 0." in other and 'id="village-open-reports"' not in other
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 3600))
    table = api.get(f"/bao-cao/{today}..{today}.csv").content.decode("utf-8-sig").splitlines()
    header = table[0].split(";")
    column = header.index("Số phản ánh của người dân")
    counts = {line.split(";")[0]: line.split(";")[column] for line in table[1:12] if line}
    assert counts["dong-ha"] == "2" and counts["phu-khe"] == "0"
    total = next(line for line in table if line.split(";")[1] == "Toàn xã")
    assert total.split(";")[column] == "2"
