"""Gateway states over the real API: a gateway reports its spool's disk full, the commune
office gets one GSM-7 SMS per episode, one "resolved" SMS when it clears, and viewers see it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from sangsach.backend.app import create_app
from sangsach.backend.db import make_engine
from sangsach.backend.gateways import SPOOL_FULL, SPOOL_OK, message, states
from sangsach.backend.notify.text import GSM7_BASIC, fits_one_segment
from sangsach.config import BackendSettings
from tests.harness import ADMIN, GATEWAY

OFFICE = ["+84912000991", "+84912000992"]
FULL = "disk of spool x is nearly full: 900 KiB free, 1024 KiB kept in reserve; 7 entries kept"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = BackendSettings(data_dir=tmp_path, sms_office_phones=OFFICE)
    with TestClient(create_app(settings)) as running:
        yield running


def put(client: TestClient, gateway: str, spool_full: str, spooled: int = 7) -> Any:
    return client.put(
        f"/api/v1/gateways/{gateway}/state",
        json={"spool_full": spool_full, "spooled": spooled},
        headers=GATEWAY,
    )


def gateway_sms(client: TestClient) -> list[dict[str, Any]]:
    rows = client.get("/api/v1/sms/outbox", headers=ADMIN).raise_for_status().json()
    return [row for row in rows if row["id"].startswith("gateway:")]


def test_one_sms_per_office_phone_when_full_and_one_when_resolved(client: TestClient) -> None:
    assert put(client, "gw-east", "").status_code == 200
    assert gateway_sms(client) == []  # a healthy gateway: nothing to say

    for _ in range(3):  # the heartbeat repeats the state: still one SMS per phone
        answer = put(client, "gw-east", FULL)
        assert answer.status_code == 200, answer.text
    full = gateway_sms(client)
    assert sorted(row["to"] for row in full) == OFFICE
    assert {row["kind"] for row in full} == {"spool_full"}
    body = full[0]["body"]
    assert "gw-east" in body and "o dia hang doi sap day" in body
    assert full[0]["encoding"] == "gsm7" and set(body) <= GSM7_BASIC

    states = client.get("/api/v1/gateways", headers=ADMIN).raise_for_status().json()
    assert [(s["gateway_id"], s["spool_full"], s["spooled"]) for s in states] == [
        ("gw-east", FULL, 7)
    ]
    assert states[0]["full_since"] is not None

    put(client, "gw-east", "", 0)
    put(client, "gw-east", "", 0)
    resolved = [row for row in gateway_sms(client) if row["kind"] == "spool_ok"]
    assert sorted(row["to"] for row in resolved) == OFFICE
    assert "gw-east" in resolved[0]["body"] and "binh thuong" in resolved[0]["body"]
    state = client.get("/api/v1/gateways", headers=ADMIN).json()[0]
    assert state["spool_full"] == "" and state["full_since"] is None

    put(client, "gw-east", FULL)  # a new episode is a new alert
    assert len([row for row in gateway_sms(client) if row["kind"] == "spool_full"]) == 4


def test_bad_reports_are_refused_naming_the_field(client: TestClient) -> None:
    answer = put(client, "gw east!", "")
    assert answer.status_code == 422 and "gateway_id" in answer.text
    answer = client.put(
        "/api/v1/gateways/gw-1/state", json={"spool_full": "", "spooled": -1}, headers=GATEWAY
    )
    assert answer.status_code == 422 and "spooled" in answer.text
    answer = client.put("/api/v1/gateways/gw-1/state", json={"spooled": 1}, headers=GATEWAY)
    assert answer.status_code == 422 and "spool_full" in answer.text
    assert client.get("/api/v1/gateways", headers=ADMIN).json() == []


@pytest.mark.parametrize("template", [SPOOL_FULL, SPOOL_OK])
def test_the_messages_fit_one_gsm7_segment_with_the_longest_gateway_id(template: str) -> None:
    text = message(template, "g" * 32)
    assert fits_one_segment(text, "gsm7") and set(text) <= GSM7_BASIC


def test_a_stalled_intake_is_shown_and_texts_no_one(client: TestClient) -> None:
    stalled = "nhận tin bị treo: 12 tin chờ (intake stalled: 12 messages waiting)"
    answer = client.put(
        "/api/v1/gateways/gw-west/state",
        json={"spool_full": "", "spooled": 3, "intake_stalled": stalled},
        headers=GATEWAY,
    )
    assert answer.status_code == 200, answer.text
    state = client.get("/api/v1/gateways", headers=ADMIN).raise_for_status().json()[0]
    assert (state["gateway_id"], state["intake_stalled"]) == ("gw-west", stalled)
    assert gateway_sms(client) == []
    put(client, "gw-west", "")  # an older gateway omits the field: not stalled
    assert client.get("/api/v1/gateways", headers=ADMIN).json()[0]["intake_stalled"] == ""


def test_a_database_of_an_older_version_gains_the_new_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = create_engine(url)
    with old.begin() as conn:  # gateway_states as the version before intake_stalled made it
        conn.execute(
            text(
                "CREATE TABLE gateway_states (gateway_id VARCHAR(32) PRIMARY KEY, spool_full TEXT"
                " NOT NULL, spooled INTEGER NOT NULL, full_since FLOAT, reported_at FLOAT NOT NULL)"
            )
        )
        conn.execute(text("INSERT INTO gateway_states VALUES ('gw-old', '', 5, NULL, 1.0)"))
    old.dispose()
    engine = make_engine(url)
    with engine.connect() as conn:
        assert [(s.gateway_id, s.spooled, s.intake_stalled) for s in states(conn)] == [
            ("gw-old", 5, "")
        ]
    make_engine(url).dispose()  # a second start finds nothing to add
    engine.dispose()
