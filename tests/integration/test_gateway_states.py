"""Gateway states over the real API: a gateway reports its spool's disk full, the commune
office gets one GSM-7 SMS per episode, one "resolved" SMS when it clears, and viewers see it;
a gateway flipping is texted at most twice in 30 minutes, and told its last state after; a
gateway token speaks for its own gateway id only, here and on ingest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from secrets import token_hex
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
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
def client(tmp_path: Path, sql_url: str) -> Iterator[TestClient]:
    settings = BackendSettings(data_dir=tmp_path, database_url=sql_url, sms_office_phones=OFFICE)
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
    assert (state["sms_held"], state["sms_held_until"]) == ("", None)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_flips_beyond_the_limit_are_recorded_held_and_sent_when_the_window_allows(
    client: TestClient,
) -> None:
    clock = Clock(1_780_000_000.0)
    client.app.state.services.clock = clock  # type: ignore[attr-defined]
    put(client, "gw-flap", FULL)
    put(client, "gw-flap", "")  # two SMS per phone: the window's allowance (default 2 in 30 min)
    for minute in range(1, 10):  # nine more flips within the window: recorded, not texted
        clock.now += 60
        assert put(client, "gw-flap", FULL if minute % 2 else "").json()["spool_full"] == (
            FULL if minute % 2 else ""
        )
    assert [row["kind"] for row in gateway_sms(client)].count("spool_full") == 2  # one a phone
    assert len(gateway_sms(client)) == 4
    state = client.get("/api/v1/gateways", headers=ADMIN).json()[0]
    assert state["spool_full"] == FULL and state["full_since"] == clock.now
    assert "chờ gửi" in state["sms_held"] and "SANGSACH_GATEWAY_SMS_PER_WINDOW" in state["sms_held"]
    assert state["sms_held_until"] == 1_780_000_000.0 + 1800

    clock.now = 1_780_000_000.0 + 1801  # the window allows again; the gateway is still full
    assert put(client, "gw-flap", FULL).json()["sms_held"] == ""
    owed = [row for row in gateway_sms(client) if row["created_at"] == clock.now]
    assert sorted(row["to"] for row in owed) == OFFICE
    assert {row["kind"] for row in owed} == {"spool_full"}  # the office's last word: full
    put(client, "gw-flap", FULL)
    assert len(gateway_sms(client)) == 6  # told once

    clock.now += 60
    put(client, "gw-flap", "")  # the second of this window: sent
    assert len(gateway_sms(client)) == 8
    clock.now += 60
    held = put(client, "gw-flap", FULL).json()  # a third: held until the first leaves the window
    assert held["sms_held_until"] == 1_780_000_000.0 + 1801 + 1800
    assert len(gateway_sms(client)) == 8


def test_another_gateway_is_not_held_by_a_flapping_one(client: TestClient) -> None:
    for state in (FULL, "", FULL):
        put(client, "gw-flap", state)
    put(client, "gw-calm", FULL)
    calm = [row for row in gateway_sms(client) if row["id"].startswith("gateway:gw-calm:")]
    assert sorted(row["to"] for row in calm) == OFFICE


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


def lamp_batch(gateway: str) -> dict[str, Any]:
    reading = {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": 1,
               "ts": 1_780_000_000, "on": True, "received_at": 1_780_000_001.0}  # fmt: skip
    return {"gateway": gateway, "readings": [reading]}


def test_a_gateway_token_speaks_for_its_own_gateway_only(tmp_path: Path) -> None:
    settings = BackendSettings(
        data_dir=tmp_path, ingest_gateway_ids="gw-1", sms_office_phones=OFFICE
    )
    with TestClient(create_app(settings)) as client:
        issued = client.post(
            "/api/v1/tokens", json={"name": "gw-2", "role": "gateway"}, headers=ADMIN
        )
        own = {"Authorization": f"Bearer {issued.json()['token']}"}
        for headers, mine, other, name in (
            (GATEWAY, "gw-1", "gw-spoofed", "gateway (SANGSACH_INGEST_TOKEN)"),
            (own, "gw-2", "gw-1", "gw-2"),
        ):
            state = {"spool_full": FULL, "spooled": 1}
            refused = client.put(f"/api/v1/gateways/{other}/state", json=state, headers=headers)
            assert refused.status_code == 403
            detail = refused.json()["detail"]
            assert f"the token {name!r} speaks for {mine!r}, not for gateway {other!r}" in detail
            ingest = client.post("/api/v1/ingest", json=lamp_batch(other), headers=headers)
            assert ingest.status_code == 403 and ingest.json()["detail"] == detail

            accepted = client.put(f"/api/v1/gateways/{mine}/state", json=state, headers=headers)
            assert accepted.status_code == 200, accepted.text
            ingest = client.post("/api/v1/ingest", json=lamp_batch(mine), headers=headers)
            assert ingest.status_code == 200, ingest.text
        # nothing of the refused gateways was kept, nor texted
        known = [s["gateway_id"] for s in client.get("/api/v1/gateways", headers=ADMIN).json()]
        assert known == ["gw-1", "gw-2"]
        assert {row["id"].split(":")[1] for row in gateway_sms(client)} == {"gw-1", "gw-2"}
        assert client.get("/api/v1/stats", headers=ADMIN).json()["readings"]["lamp"] == 1


def test_a_gateway_token_is_named_after_its_gateway_id(client: TestClient) -> None:
    for name in ("gateway of Dong Ha", "g" * 33, "gw:1"):
        refused = client.post(
            "/api/v1/tokens", json={"name": name, "role": "gateway"}, headers=ADMIN
        )
        assert refused.status_code == 422, name
        assert "SANGSACH_GATEWAY_ID" in refused.json()["detail"]
    staff = client.post("/api/v1/tokens", json={"name": "van phong xa", "role": "viewer"}, headers=ADMIN)  # fmt: skip
    assert staff.status_code == 201


def test_the_settings_token_speaks_for_any_gateway_in_development_and_gw_1_in_production(
    tmp_path: Path,
) -> None:
    assert BackendSettings(data_dir=tmp_path).ingest_gateway_id_list == {"*"}
    assert BackendSettings(data_dir=tmp_path, ingest_gateway_ids=" gw-a , gw-b").ingest_gateway_id_list == {"gw-a", "gw-b"}  # fmt: skip
    secrets = {
        name: token_hex(32)
        for name in ("ingest_token", "admin_token", "sms_webhook_secret", "firmware_key")
    }
    production = BackendSettings(data_dir=tmp_path, env="production", **secrets)  # type: ignore[arg-type]
    assert production.ingest_gateway_id_list == {"gw-1"}
    with pytest.raises(ValidationError, match="SANGSACH_INGEST_GATEWAY_IDS=\\* is refused"):
        BackendSettings(data_dir=tmp_path, env="production", ingest_gateway_ids="*", **secrets)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="ingest_gateway_ids"):
        BackendSettings(data_dir=tmp_path, ingest_gateway_ids="gw 1")
