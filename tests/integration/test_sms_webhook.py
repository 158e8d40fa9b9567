"""The SMS webhook on the whole backend: signed calls (timestamp and body), bounded skew, no
replay, the plain secret in development only; and replies taken only from the alert's own
recipients (its team, its village's head, the office), the others kept as `not_recipient`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from secrets import token_hex
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.notify.webhook import signed_headers
from sangsach.config import DEV_WEBHOOK_SECRET, BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.harness import ADMIN, GATEWAY, WEBHOOK

COMMUNE = load_registry(SAMPLE_REGISTRY)
VILLAGES = {v.id: v for v in COMMUNE.villages}
TEAMS = {t.id: t for t in COMMUNE.teams}
HEAD_DONG_HA = VILLAGES["dong-ha"].head.phone
HEAD_PHU_KHE = VILLAGES["phu-khe"].head.phone
COLLECTOR = TEAMS["thu-gom-1"].members[0].phone  # collects in Đông Hạ and Phú Khê
OTHER_COLLECTOR = TEAMS["thu-gom-2"].members[0].phone  # collects in Quang Trung, not Đông Hạ
ELECTRICIAN = TEAMS["dien-1"].members[0].phone  # Đông Hạ's lamps, not its bins
OFFICE = "+84243000000"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def api(tmp_path: Path, sql_url: str) -> Iterator[TestClient]:
    settings = BackendSettings(
        data_dir=tmp_path,
        database_url=sql_url,
        alert_quiet_hours="",
        sms_office_phones=[OFFICE],
        auth_failures_burst=0,
    )
    with TestClient(create_app(settings), headers=ADMIN) as client:
        yield client


def reply(client: TestClient, sender: str, text: str, **extra: str) -> Any:
    body = json.dumps({"from": sender, "text": text}).encode()
    headers = {**JSON, **signed_headers(DEV_WEBHOOK_SECRET, body, time.time()), **extra}
    return client.post("/api/v1/sms/inbound", content=body, headers=headers)


def inbound(client: TestClient) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = client.get("/api/v1/sms/inbound").raise_for_status().json()
    return rows


def full_bin(client: TestClient, bin_id: str) -> dict[str, Any]:
    """A bin reported full: its alert is raised (bin_full), and its id returned."""
    now = int(time.time())
    reading = {"id": bin_id, "kind": "bin", "boot": 1, "seq": 1, "ts": now, "fill_pct": 86.0,
               "received_at": now + 1.0}  # fmt: skip
    batch = {"gateway": "gw-1", "readings": [reading]}
    assert client.post("/api/v1/ingest", json=batch, headers=GATEWAY).status_code == 200
    [alert] = client.get("/api/v1/alerts", params={"device": bin_id}).json()
    return alert  # type: ignore[no-any-return]


# -- signed calls --------------------------------------------------------------------------


def test_a_signed_call_is_taken_once(api: TestClient) -> None:
    body = json.dumps({"from": COLLECTOR, "text": "Chào anh"}).encode()
    timestamp = str(int(time.time()))
    mac = hmac.new(DEV_WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    headers = {**JSON, "X-Sangsach-Timestamp": timestamp,
               "X-Sangsach-Signature": f"sha256={mac.hexdigest()}"}  # fmt: skip
    taken = api.post("/api/v1/sms/inbound", content=body, headers=headers)
    assert taken.status_code == 200, taken.text
    replayed = api.post("/api/v1/sms/inbound", content=body, headers=headers)
    assert replayed.status_code == 401
    assert "X-Sangsach-Signature already used" in replayed.json()["detail"]
    assert [row["text"] for row in inbound(api)] == ["Chào anh"]  # the replay is not kept


def test_stale_future_unsigned_and_tampered_calls_are_refused_with_the_reason(
    api: TestClient,
) -> None:
    body = json.dumps({"from": COLLECTOR, "text": "OK 1"}).encode()
    now = time.time()
    cases = [
        (signed_headers(DEV_WEBHOOK_SECRET, body, now - 301), "X-Sangsach-Timestamp is 30"),
        (signed_headers(DEV_WEBHOOK_SECRET, body, now + 400), "SANGSACH_SMS_WEBHOOK_MAX_SKEW_S"),
        ({"X-Sangsach-Signature": "sha256=" + "0" * 64}, "missing X-Sangsach-Timestamp"),
        ({"X-Sangsach-Timestamp": "yesterday", "X-Sangsach-Signature": "x"}, "unix seconds"),
        ({"X-Sangsach-Timestamp": str(int(now))}, "missing X-Sangsach-Signature"),
        (signed_headers("another secret", body, now), "wrong X-Sangsach-Signature"),
        ({}, "missing X-Sangsach-Timestamp and X-Sangsach-Signature"),
        ({"X-Sangsach-Webhook-Secret": "guess"}, "wrong X-Sangsach-Webhook-Secret"),
    ]
    for headers, reason in cases:
        refused = api.post("/api/v1/sms/inbound", content=body, headers={**JSON, **headers})
        assert refused.status_code == 401, (headers, refused.text)
        assert reason in refused.json()["detail"], (reason, refused.json())
    signed = signed_headers(DEV_WEBHOOK_SECRET, body, now)
    tampered = body.replace(b"OK 1", b"OK 2")
    refused = api.post("/api/v1/sms/inbound", content=tampered, headers={**JSON, **signed})
    assert "wrong X-Sangsach-Signature" in refused.json()["detail"]
    assert inbound(api) == []
    # within the skew either way, and signed: taken (10 s spare for a slow, loaded machine)
    for skew in (-290, 290):
        assert reply(api, COLLECTOR, f"Chào {skew}", **signed_headers(
            DEV_WEBHOOK_SECRET, json.dumps({"from": COLLECTOR, "text": f"Chào {skew}"}).encode(),
            now + skew)).status_code == 200  # fmt: skip


def test_the_plain_secret_is_taken_in_development(api: TestClient) -> None:
    body = {"from": COLLECTOR, "text": "Chào"}
    assert api.post("/api/v1/sms/inbound", json=body, headers=WEBHOOK).status_code == 200


def test_production_refuses_the_plain_secret_and_takes_a_signed_call(tmp_path: Path) -> None:
    secret = token_hex(32)
    settings = BackendSettings(
        data_dir=tmp_path, env="production", ingest_token=token_hex(32),
        admin_token=token_hex(32), sms_webhook_secret=secret, firmware_key=token_hex(32),
    )  # fmt: skip
    body = json.dumps({"from": COLLECTOR, "text": "Chào"}).encode()
    with TestClient(create_app(settings)) as client:
        plain = client.post("/api/v1/sms/inbound", content=body,
                            headers={**JSON, "X-Sangsach-Webhook-Secret": secret})  # fmt: skip
        assert plain.status_code == 401
        assert "refused when SANGSACH_ENV=production" in plain.json()["detail"]
        signed = client.post("/api/v1/sms/inbound", content=body,
                             headers={**JSON, **signed_headers(secret, body, time.time())})  # fmt: skip
        assert signed.status_code == 200, signed.text


# -- who may answer an alert ----------------------------------------------------------------


def test_only_the_alerts_recipients_may_answer_it_others_are_kept(api: TestClient) -> None:
    dong_ha = full_bin(api, "bin-dong-ha-01")
    code = str(dong_ha["id"])
    for phone, text in (
        (HEAD_PHU_KHE, f"XONG {code}"),  # another village's head
        (OTHER_COLLECTOR, f"OK {code}"),  # a crew of other villages
        (ELECTRICIAN, f"XONG {code}"),  # Đông Hạ's electrician: lamps, not bins
    ):
        answer = reply(api, phone, text)
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] is False
        assert f"{phone} is not a recipient of alert {code}" in answer.json()["reason"]
    alert = api.get(f"/api/v1/alerts/{code}").json()
    assert (alert["state"], alert["acked_by"], alert["done_by"]) == (
        "active_unacknowledged", None, None,
    )  # fmt: skip
    kept = inbound(api)
    assert [(r["sender"], r["result"], r["code"]) for r in kept] == [
        (ELECTRICIAN, "not_recipient", code),
        (OTHER_COLLECTOR, "not_recipient", code),
        (HEAD_PHU_KHE, "not_recipient", code),
    ]
    assert [r["role"] for r in kept] == ["team", "team", "head"]
    assert "only its team, the head of its village and the commune office" in kept[0]["detail"]

    assert reply(api, COLLECTOR, f"OK {code}").json()["accepted"] is True
    assert api.get(f"/api/v1/alerts/{code}").json()["acked_by"] == COLLECTOR
    # the head answers before the alert escalated to him: he is one of its recipients
    assert reply(api, HEAD_DONG_HA, f"XONG {code}").json()["accepted"] is True
    assert api.get(f"/api/v1/alerts/{code}").json()["done_by"] == HEAD_DONG_HA

    phu_khe = full_bin(api, "bin-phu-khe-01")
    assert reply(api, OFFICE, f"XONG {phu_khe['id']}").json()["accepted"] is True
    assert api.get(f"/api/v1/alerts/{phu_khe['id']}").json()["done_by"] == OFFICE
    assert [r["result"] for r in inbound(api)][:3] == ["accepted"] * 3
