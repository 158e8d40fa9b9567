"""Answers to SMS replies on the whole backend, sent through a stand-in carrier on a loopback
port: one GSM-7 answer per reply from a known phone, once however often the carrier delivers
the reply, none to a stranger, and the quiet hours and hourly share of every SMS kept."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.notify.webhook import signed_headers
from sangsach.config import DEV_WEBHOOK_SECRET, BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.sun import VIETNAM
from tests.carrier import Carrier
from tests.harness import ADMIN, GATEWAY, wait_until

COMMUNE = load_registry(SAMPLE_REGISTRY)
TEAMS = {t.id: t for t in COMMUNE.teams}
COLLECTOR = TEAMS["thu-gom-1"].members[0].phone  # collects in Đông Hạ and Phú Khê
ELECTRICIAN = TEAMS["dien-1"].members[0].phone  # Đông Hạ's lamps, not its bins
OFFICE = "+84243000000"
STRANGER = "+84999999999"
JSON = {"Content-Type": "application/json"}


def backend(tmp_path: Path, carrier: Carrier, **settings: Any) -> TestClient:
    configured = BackendSettings(
        data_dir=tmp_path, sms_office_phones=[OFFICE], auth_failures_burst=0,
        sms_provider="http", sms_http_url=carrier.url, sms_retry_min_s=1,
        **{"alert_quiet_hours": "", **settings},
    )  # fmt: skip
    return TestClient(create_app(configured), headers=ADMIN)


@pytest.fixture
def api(tmp_path: Path, carrier: Carrier, sql_url: str) -> Iterator[TestClient]:
    with backend(tmp_path, carrier, database_url=sql_url) as client:
        yield client


def reply(client: TestClient, sender: str, text: str, at: float, **extra: str) -> Any:
    """The carrier posting a reply; ``at`` signs it (a repeat is signed anew, as a carrier's
    retry is)."""
    body = json.dumps({"from": sender, "text": text, **extra}).encode()
    headers = {**JSON, **signed_headers(DEV_WEBHOOK_SECRET, body, at)}
    answer = client.post("/api/v1/sms/inbound", content=body, headers=headers)
    assert answer.status_code in (200, 403), answer.text
    return answer.json()


def bin_alert(client: TestClient, bin_id: str, **values: float) -> str:
    """A bin's reading that raises an alert (full unless told otherwise); its code."""
    now = int(time.time())
    reading = {"id": bin_id, "kind": "bin", "boot": 1, "seq": 1, "ts": now,
               "fill_pct": 86.0, "received_at": now + 1.0, **values}  # fmt: skip
    batch = {"gateway": "gw-1", "readings": [reading]}
    assert client.post("/api/v1/ingest", json=batch, headers=GATEWAY).status_code == 200
    alerts = client.get("/api/v1/alerts", params={"device": bin_id}).json()
    return str(alerts[0]["id"])


def answers(client: TestClient, to: str) -> list[dict[str, Any]]:
    sent = client.get("/api/v1/sms/outbox", params={"to": to}).raise_for_status().json()
    return [m for m in sent if m["kind"] == "answer"]


def test_a_crews_xong_is_answered_once_though_the_carrier_delivers_it_twice(
    api: TestClient, carrier: Carrier
) -> None:
    code = bin_alert(api, "bin-dong-ha-01")
    now = time.time()
    for at in (now, now + 1):  # the same SMS, posted again by the carrier
        assert reply(api, COLLECTOR, f"XONG {code}", at)["accepted"] is True
    [answer] = answers(api, COLLECTOR)
    assert answer["body"] == f"Da ghi nhan XONG {code}. Cam on."
    assert (answer["encoding"], answer["alert_id"]) == ("gsm7", code)
    assert answer["id"].startswith(f"answer:{COLLECTOR}:")
    wait_until(lambda: carrier.delivered[answer["id"]] == 1, 10, "the answer at the carrier")
    assert carrier.payloads[answer["id"]]["text"] == f"Da ghi nhan XONG {code}. Cam on."
    wait_until(lambda: answers(api, COLLECTOR)[0]["status"] == "sent", 10, "the answer sent")
    assert carrier.requests.count(answer["id"]) == 1
    assert len(api.get("/api/v1/sms/inbound").json()) == 2  # both deliveries kept

    # With the carrier's message id, a repeat on another day is still the same message.
    for at in (now + 2, now + 3):
        reply(api, COLLECTOR, f"OK {code}", at, id="carrier-msg-77")
    assert [a["body"] for a in answers(api, COLLECTOR)].count(
        f"Da ghi nhan OK {code}. Khi xong, gui XONG {code}."
    ) == 1


def test_unreadable_replies_get_the_help_answer_and_strangers_nothing(
    api: TestClient, carrier: Carrier
) -> None:
    code = bin_alert(api, "bin-dong-ha-01")
    now = time.time()
    assert reply(api, COLLECTOR, "Chào anh, xong rồi", now)["accepted"] is False
    assert reply(api, COLLECTOR, f"Xong {code} rồi", now + 1)["accepted"] is False
    assert reply(api, COLLECTOR, "XONG 99999", now + 2)["accepted"] is False
    assert reply(api, ELECTRICIAN, f"XONG {code}", now + 3)["accepted"] is False
    assert "not in the registry" in reply(api, STRANGER, f"XONG {code}", now + 4)["detail"]
    assert [a["body"] for a in reversed(answers(api, COLLECTOR))] == [
        "Khong hieu tin nhan. Gui: OK <ma> khi nhan viec, XONG <ma> khi xong.",
        f"Khong hieu tin nhan. Neu da xong, chi gui: XONG {code}",
        "Khong co canh bao ma 99999. Xem lai ma trong tin da nhan.",
    ]
    [refused] = answers(api, ELECTRICIAN)
    assert refused["body"] == f"Canh bao {code} khong giao cho so may nay nen chua duoc ghi nhan."
    assert refused["alert_id"] == code
    assert api.get("/api/v1/sms/outbox", params={"to": STRANGER}).json() == []
    sent = [a["id"] for a in answers(api, COLLECTOR) + answers(api, ELECTRICIAN)]
    wait_until(lambda: all(carrier.delivered[key] for key in sent), 10, "the 4 answers sent")
    assert STRANGER not in {p["to"] for p in carrier.payloads.values()}


def test_answers_keep_the_hourly_share_of_each_phone(tmp_path: Path, carrier: Carrier) -> None:
    with backend(tmp_path, carrier, alert_max_sms_per_hour=4) as api:
        bin_alert(api, "bin-dong-ha-01")  # the collector's first SMS of the hour
        now = time.time()
        for n in range(5):
            reply(api, COLLECTOR, f"xin chào {n}", now + n)
        assert len(answers(api, COLLECTOR)) == 3  # 1 alert + 3 answers: the share is used up
        kept = api.get("/api/v1/sms/inbound").json()
        assert [r["result"] for r in kept] == ["unparseable"] * 5  # all kept all the same


def test_answers_wait_for_the_end_of_quiet_hours_except_about_a_fire(
    tmp_path: Path, carrier: Carrier
) -> None:
    local = datetime.now(VIETNAM)
    start, end = (local.hour + 23) % 24, (local.hour + 2) % 24  # quiet now, for two hours more
    quiet = f"{start:02d}:00-{end:02d}:00"
    with backend(tmp_path, carrier, alert_quiet_hours=quiet) as api:
        full = bin_alert(api, "bin-dong-ha-01")  # held too: not a fire
        fire = bin_alert(api, "bin-dong-ha-02", fill_pct=20.0, temp_c=90.0)
        now = time.time()
        reply(api, COLLECTOR, f"XONG {full}", now)
        reply(api, COLLECTOR, f"OK {fire}", now + 1)
        by_alert = {a["alert_id"]: a for a in answers(api, COLLECTOR)}
        morning = by_alert[full]["next_attempt_at"]
        assert morning - now > 3600
        assert datetime.fromtimestamp(morning, VIETNAM).strftime("%H:%M") == f"{end:02d}:00"
        fire_answer = by_alert[fire]["id"]
        wait_until(lambda: carrier.delivered[fire_answer] == 1, 10, "the fire's answer, at once")
        assert carrier.delivered[by_alert[full]["id"]] == 0
        assert api.get("/api/v1/alerts/" + fire).json()["acked_by"] == COLLECTOR
