"""Fill forecasts and work lists through the real backend app: readings ingested by the gateway's
route, the forecasts' API and the village page, the day's list made and sent, its API and
pages, and a crew's "XONG <mã điểm>" by the SMS webhook ticking a point off."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import time as clock_time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.notify.text import fits_one_segment
from sangsach.config import BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY
from sangsach.sun import VIETNAM
from tests.harness import ADMIN, GATEWAY, WEBHOOK

NOW = int(time.time())
TODAY = datetime.fromtimestamp(NOW, VIETNAM).date().isoformat()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data = tmp_path_factory.mktemp("worklists")
    settings = BackendSettings(
        data_dir=data, registry_file=SAMPLE_REGISTRY, alert_quiet_hours="", alert_tick_s=3600,
        public_url="https://sangsach.example.vn",
    )  # fmt: skip
    return create_app(settings)


@pytest.fixture(scope="module")
def api(app: FastAPI) -> Iterator[TestClient]:
    """bin-dong-ha-01 (point dong-ha-p1, P1) rising 2 points an hour for a day, now at 70 %
    (full in 5 hours: before the next list, whenever the test runs);
    bin-dong-ha-03 (dong-ha-p2, P2) full at 90 %."""
    with TestClient(app, headers=ADMIN, follow_redirects=False) as client:
        rising = [
            {"id": "bin-dong-ha-01", "kind": "bin", "boot": 1, "seq": i, "ts": NOW - 3600 * (24 - i),
             "fill_pct": 22.0 + 2.0 * i, "received_at": NOW - 3600 * (24 - i) + 1.0}
            for i in range(25)
        ]  # fmt: skip
        full = {"id": "bin-dong-ha-03", "kind": "bin", "boot": 1, "seq": 0, "ts": NOW - 600,
                "fill_pct": 90.0, "received_at": NOW - 599.0}  # fmt: skip
        body = {"gateway": "gw-1", "readings": [*rising, full]}
        client.post("/api/v1/ingest", json=body, headers=GATEWAY).raise_for_status()
        yield client


def test_forecasts_in_the_api_and_on_the_village_page(api: TestClient) -> None:
    answer = api.get("/api/v1/forecasts", params={"village": "dong-ha"}).raise_for_status().json()
    assert "median" in answer["method"]
    by_id = {f["device_id"]: f for f in answer["forecasts"]}
    rising = by_id["bin-dong-ha-01"]
    assert rising["samples"] >= 20 and rising["fill_pct"] == 70.0
    assert rising["rate_pct_per_day"] == pytest.approx(48.0, abs=1)
    assert rising["full_at"] == pytest.approx(NOW + 5 * 3600, abs=120)  # 80 % at 2 an hour
    assert rising["text"].startswith("dự kiến đầy: ")
    assert by_id["bin-dong-ha-03"]["text"] == "đã đầy"
    assert by_id["bin-dong-ha-02"]["text"] == "chưa đủ số liệu"
    assert api.get("/api/v1/forecasts", params={"village": "khong-co"}).status_code == 404
    page = api.get("/thon/dong-ha").text
    assert rising["text"] in page and "Dự kiến" in page


def test_the_days_list_made_sent_shown_and_ticked_off(app: FastAPI, api: TestClient) -> None:
    preview = {w["team_id"]: w for w in api.get("/api/v1/worklists").raise_for_status().json()}
    assert set(preview) == {"thu-gom-1", "thu-gom-2"}
    first = preview["thu-gom-1"]
    reasons = {s["place_id"]: (s["code"], s["reason"]) for s in first["stops"]}
    assert reasons == {"dong-ha-p1": ("P1", "forecast"), "dong-ha-p2": ("P2", "full")}
    assert first["route_m"] <= first["reference_m"] and first["route_m"] > 0
    assert first["points_known"] == 2 and first["points_total"] == 22

    services = app.state.services
    local = datetime.now(VIETNAM)
    if local.hour >= 4:  # hours after the set time: too late for a morning's list
        services.worklists.send_time = (local - timedelta(hours=4)).time()
        assert services.worklists.send_due() == []
    # the set time has just come, whenever this runs
    services.worklists.send_time = (
        (local - timedelta(minutes=1)).time() if local.hour or local.minute else clock_time(0, 0)
    )
    made = services.worklists.send_due()
    assert {w.team_id for w in made} == {"thu-gom-1", "thu-gom-2"}
    kept = api.get(f"/api/v1/worklists/thu-gom-1/{TODAY}").raise_for_status().json()
    assert kept["kept"] and kept["sent_at"] is not None
    outbox = api.get("/api/v1/sms/outbox", params={"to": "+84912000181"}).json()
    sms = next(m for m in outbox if m["kind"] == "worklist")
    assert sms["body"].startswith("Thu gom ") and " P1" in sms["body"] and " P2" in sms["body"]
    assert fits_one_segment(sms["body"], "gsm7")

    reply = api.post("/api/v1/sms/inbound", json={"from": "0912000192", "text": "Xong P2"},
                     headers=WEBHOOK).raise_for_status().json()  # fmt: skip
    assert reply["accepted"] and reply["code"] == "P2"
    ticked = api.get(f"/api/v1/worklists/thu-gom-1/{TODAY}").json()
    stop = next(s for s in ticked["stops"] if s["code"] == "P2")
    assert stop["done_at"] is not None and stop["done_by"] == "Phạm Thị Nga"
    assert ticked["done"] == 1
    answers = api.get("/api/v1/sms/outbox", params={"to": "+84912000192"}).json()
    assert any(m["body"] == "Da ghi nhan XONG diem P2. Cam on." for m in answers)

    # the crew empties P2's bin: its readings say so, beside the crew's XONG
    assert ticked["collected"] == 0 and stop["collected_at"] is None
    time.sleep(1.1)  # a reading after the list was made, not in the future
    emptied = int(time.time())
    reading = {"id": "bin-dong-ha-03", "kind": "bin", "boot": 1, "seq": 1, "ts": emptied,
               "fill_pct": 4.0, "received_at": emptied + 0.5}  # fmt: skip
    api.post("/api/v1/ingest", json={"gateway": "gw-1", "readings": [reading]},
             headers=GATEWAY).raise_for_status()  # fmt: skip
    collected = api.get(f"/api/v1/worklists/thu-gom-1/{TODAY}").json()
    assert collected["collected"] == 1
    assert next(s for s in collected["stops"] if s["code"] == "P2")["collected_at"] == emptied

    # the scores judge the same: P2 collected by its readings, P1 planned and not yet decided
    # (its round runs to midnight); the village page says so (the live part is kept up to
    # 90 s: a new one is asked for)
    services.scores._live.clear()
    time.sleep(1.1)  # a period runs up to now, excluded: the emptying's second must be past
    midnight = int(datetime.combine(local.date(), clock_time(0), VIETNAM).timestamp())
    scores = api.get("/api/v1/scores", params={"start": midnight, "end": midnight + 86_400})
    dong_ha = next(v for v in scores.json()["villages"] if v["village_id"] == "dong-ha")
    assert dong_ha["parts"]["rounds_collected"] == 1 and dong_ha["parts"]["rounds_reported"] == 1
    assert dong_ha["planned"]["value"] == 100.0 and dong_ha["planned"]["verdict_vi"] == "Đạt"
    village = api.get("/thon/dong-ha").text
    rounds = village.split('id="village-rounds"')[1].split("</p>")[0]
    assert "<strong>1</strong> trong 1 lượt đo được đã thu gom" in rounds, rounds

    page = api.get(f"/thu-gom/thu-gom-1/{TODAY}")
    assert page.status_code == 200
    assert 'data-code="P2" class="done"' in page.text and "Phạm Thị Nga" in page.text
    assert "cảm biến ghi nhận đã thu gom 1/2" in page.text
    assert "Tổ thu gom rác số 2" in api.get("/thu-gom").text
    assert api.get("/api/v1/worklists/thu-gom-1/2020-01-01").status_code == 404
    assert api.get(f"/api/v1/worklists/dien-1/{TODAY}").status_code == 404
