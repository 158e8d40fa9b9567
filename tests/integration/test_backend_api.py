"""The backend's API in-process on SQLite and on PostgreSQL: auth, clear errors, idempotent
ingest, state."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.config import DEV_INGEST_TOKEN, BackendSettings
from tests.harness import ADMIN

TOKEN = {"Authorization": f"Bearer {DEV_INGEST_TOKEN}"}
NOW = 1_780_000_000


@pytest.fixture
def api(tmp_path: Path, sql_url: str) -> Iterator[TestClient]:
    # The letters are dated NOW: a retention shorter than their age would let the purge that
    # runs at start delete them, or not, depending on which thread comes first.
    settings = BackendSettings(
        data_dir=tmp_path, database_url=sql_url, dead_letter_retention_days=36_500
    )
    with TestClient(create_app(settings), headers=ADMIN) as client:
        yield client


def lamp(seq: int, device: str = "lamp-dong-ha-001", **changes: Any) -> dict[str, Any]:
    return {"id": device, "kind": "lamp", "boot": 2, "seq": seq, "ts": NOW + seq, "on": True,
            "received_at": NOW + seq + 0.5, **changes}  # fmt: skip


def batch(readings: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"gateway": "gw-1", "readings": readings, **more}


def test_ingest_needs_the_gateway_token(api: TestClient) -> None:
    assert api.post("/api/v1/ingest", json=batch([lamp(1)])).status_code == 403  # admin: no
    wrong = {"Authorization": "Bearer nope"}
    assert api.post("/api/v1/ingest", json=batch([lamp(1)]), headers=wrong).status_code == 401
    assert api.post("/api/v1/ingest", json=batch([lamp(1)]), headers=TOKEN).status_code == 200


def test_malformed_batch_names_the_field(api: TestClient) -> None:
    response = api.post("/api/v1/ingest", json=batch([lamp(1, on="maybe")]), headers=TOKEN)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert errors[0]["loc"][-1] == "on"
    assert "boolean" in errors[0]["msg"]


def test_a_batch_that_is_no_json_is_refused_as_fastapi_refuses_it(api: TestClient) -> None:
    headers = {**TOKEN, "Content-Type": "application/json"}
    cut = b'{"gateway": "gw-1", "readings": ['
    response = api.post("/api/v1/ingest", content=cut, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
    wrapped = cut + json.dumps(lamp(1, on=1)).encode() + b"]}"
    [error] = api.post("/api/v1/ingest", content=wrapped, headers=headers).json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "readings", 0, "lamp", "on"], "bool_type")


def test_ingest_is_idempotent_and_tracks_state(api: TestClient) -> None:
    body = batch([lamp(seq) for seq in range(10)])
    first = api.post("/api/v1/ingest", json=body, headers=TOKEN).json()
    again = api.post("/api/v1/ingest", json=body, headers=TOKEN).json()
    assert (
        first
        == again
        == {
            "stored": 10,
            "rejected": 0,
            "statuses": 0,
            "dead_letters": 0,
            "refused": [],
            "ordered": True,
        }
    )
    assert api.get("/api/v1/stats").json()["readings"] == {"lamp": 10, "bin": 0}
    device = api.get("/api/v1/devices/lamp-dong-ha-001").json()
    assert (device["seq"], device["ts"], device["values"]["on"]) == (9, NOW + 9, True)
    # An older reading arriving late does not move the state back.
    api.post("/api/v1/ingest", json=batch([lamp(0, boot=1, ts=NOW - 100)]), headers=TOKEN)
    assert api.get("/api/v1/devices/lamp-dong-ha-001").json()["seq"] == 9


def test_unknown_device_and_wrong_kind_become_dead_letters(api: TestClient) -> None:
    readings = [lamp(1, device="lamp-atlantis-001"), lamp(2, device="bin-dong-ha-01")]
    result = api.post("/api/v1/ingest", json=batch(readings), headers=TOKEN).json()
    assert result == {"stored": 0, "rejected": 2, "statuses": 0, "dead_letters": 2, "refused": [],
                      "ordered": True}  # fmt: skip
    letters = {d["device_id"]: d for d in api.get("/api/v1/dead-letters").json()}
    assert letters["lamp-atlantis-001"]["reason"] == "unknown_device"
    assert letters["bin-dong-ha-01"]["reason"] == "kind_mismatch"
    assert "registered as a bin" in letters["bin-dong-ha-01"]["detail"]
    assert api.get("/api/v1/dead-letters", params={"reason": "schema"}).json() == []
    bad = api.get("/api/v1/dead-letters", params={"reason": "nonsense"})
    assert bad.status_code == 422


def test_birth_and_will_set_online_state(api: TestClient) -> None:
    status = {"id": "bin-dong-ha-01", "state": "online", "kind": "bin", "boot": 1,
              "received_at": NOW, "retained": False}  # fmt: skip
    will = {"id": "bin-dong-ha-01", "state": "offline", "received_at": NOW + 60}
    api.post("/api/v1/ingest", json=batch([], statuses=[status]), headers=TOKEN)
    assert api.get("/api/v1/devices/bin-dong-ha-01").json()["online"] is True
    api.post("/api/v1/ingest", json=batch([], statuses=[will]), headers=TOKEN)
    assert api.get("/api/v1/devices/bin-dong-ha-01").json()["online"] is False
    offline = api.get("/api/v1/devices", params={"online": False}).json()
    assert [d["id"] for d in offline] == ["bin-dong-ha-01"]
    assert api.get("/api/v1/stats").json()["devices"] == {"online": 0, "offline": 1, "never": 379}


def test_registry_listing_and_readings(api: TestClient) -> None:
    villages = api.get("/api/v1/villages").json()
    assert len(villages) == 10
    assert sum(v["lamps"] for v in villages) == 300
    assert sum(v["bins"] for v in villages) == 80
    assert api.get("/api/v1/devices/nope").status_code == 404
    api.post("/api/v1/ingest", json=batch([lamp(s) for s in range(5)]), headers=TOKEN)
    rows = api.get("/api/v1/devices/lamp-dong-ha-001/readings", params={"start": NOW + 2}).json()
    assert [r["seq"] for r in rows] == [2, 3, 4]
    reversed_range = {"start": NOW + 5, "end": NOW}
    response = api.get("/api/v1/devices/lamp-dong-ha-001/readings", params=reversed_range)
    assert response.status_code == 422
    assert "end must be after start" in response.text


def test_openapi_is_served(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/api/v1/ingest", "/api/v1/devices", "/api/v1/dead-letters", "/api/v1/stats"} <= set(
        paths
    )


def test_unsynced_reading_redelivered_with_a_new_receive_time_is_stored_once(
    api: TestClient,
) -> None:
    first = lamp(0, ts=NOW, synced=False)
    # After a gateway restart the broker redelivers it; the new gateway stamps a later time.
    again = lamp(0, ts=NOW + 90, synced=False, received_at=NOW + 90.2)
    api.post("/api/v1/ingest", json=batch([first]), headers=TOKEN)
    result = api.post("/api/v1/ingest", json=batch([again]), headers=TOKEN).json()
    assert (result["stored"], result["rejected"]) == (0, 0)
    assert api.get("/api/v1/stats").json()["readings"]["lamp"] == 1
    rows = api.get("/api/v1/devices/lamp-dong-ha-001/readings").json()
    assert [(r["ts"], r["synced"]) for r in rows] == [(NOW, False)]


def test_a_failing_alert_engine_does_not_hold_readings_back(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = api.app.state.services  # type: ignore[attr-defined]

    def broken(*args: object) -> list[object]:
        raise RuntimeError("a bug in alerting")

    monkeypatch.setattr(services.alerts, "on_ingest", broken)
    result = api.post("/api/v1/ingest", json=batch([lamp(s) for s in range(3)]), headers=TOKEN)
    assert result.status_code == 200
    assert api.get("/api/v1/stats").json()["readings"]["lamp"] == 3
    assert api.get("/api/v1/devices/lamp-dong-ha-001").json()["seq"] == 2


def test_a_lone_surrogate_in_a_refused_batch_is_a_422_not_a_500(api: TestClient) -> None:
    """FastAPI's own 422 failed to encode the input it quotes: a 500, resent forever."""
    body = json.dumps(batch([lamp(1, bogus="\udc00")]))  # ASCII: the surrogate as an escape
    answer = api.post(
        "/api/v1/ingest", content=body, headers={**TOKEN, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["detail"]
    assert error["loc"][-1] == "bogus" and error["input"] == "\udc00"
    vietnamese = api.get("/api/v1/dead-letters", params={"reason": "khác"})
    assert vietnamese.status_code == 422 and "khác" in vietnamese.text  # still written as is


def test_a_gateway_that_makes_the_letters_gets_the_refusals_back(api: TestClient) -> None:
    readings = [lamp(1), lamp(2, device="lamp-atlantis-001"), lamp(3, device="bin-dong-ha-01")]
    status = {"id": "bin-nowhere-09", "state": "online", "received_at": NOW}
    body = batch(readings, statuses=[status], letters="gateway")
    result = api.post("/api/v1/ingest", json=body, headers=TOKEN).raise_for_status().json()
    assert result["stored"] == 1 and result["dead_letters"] == 0
    assert [(r["kind"], r["index"], r["reason"]) for r in result["refused"]] == [
        ("reading", 1, "unknown_device"),
        ("reading", 2, "kind_mismatch"),
        ("status", 0, "unknown_device"),
    ]
    assert "registered as a bin" in result["refused"][1]["detail"]
    assert api.get("/api/v1/dead-letters").json() == [], "the gateway makes these letters"


def test_numbers_past_32_bits_are_stored_and_looked_up(api: TestClient) -> None:
    """PostgreSQL's INTEGER stops at 2**31 - 1: a reading's time (the contract takes it to
    2**32 - 1) and the ids the API takes (to 2**62) are BIGINT there (revision 0004)."""
    late = 2**32 - 1  # a node's clock in 2106
    body = batch([lamp(1, ts=late, received_at=late + 0.5)])
    assert api.post("/api/v1/ingest", json=body, headers=TOKEN).json()["stored"] == 1
    assert api.get("/api/v1/devices/lamp-dong-ha-001").json()["ts"] == late
    assert api.get(f"/api/v1/alerts/{2**62}").status_code == 404
    assert api.get("/api/v1/dead-letters", params={"offset": 2**62}).json() == []


def test_a_batch_naming_the_one_it_follows_is_stored_after_it_or_refused(api: TestClient) -> None:
    """backend/batchorder.py: a gateway with two batches in flight names the one each follows;
    a batch whose predecessor this backend never saw stores nothing and gets a 409."""
    first = api.post("/api/v1/ingest", json=batch([lamp(1)], key="a1"), headers=TOKEN)
    assert first.status_code == 200 and first.json()["ordered"] is True
    body = batch([lamp(2)], key="a2", after="a1", letters="gateway")  # the fast path too
    assert api.post("/api/v1/ingest", json=body, headers=TOKEN).json()["stored"] == 1
    services = api.app.state.services  # type: ignore[attr-defined]
    services.ingest.order.unseen_wait_s = 0.1
    lost = api.post("/api/v1/ingest", json=batch([lamp(3)], key="a3", after="ff"), headers=TOKEN)
    assert lost.status_code == 409 and "'ff', sent before this one, never arrived" in lost.text
    assert api.get("/api/v1/devices/lamp-dong-ha-001").json()["seq"] == 2, "nothing stored"
    # and the one behind the refused batch is refused at once
    behind = batch([lamp(4)], key="a4", after="a3")
    assert api.post("/api/v1/ingest", json=behind, headers=TOKEN).status_code == 409
    assert api.post("/api/v1/ingest", json=batch([lamp(5)], key="b1"), headers=TOKEN).is_success


def test_two_batches_of_a_gateway_are_judged_in_the_order_sent(api: TestClient) -> None:
    """The second batch arrives first: its transaction waits for the first one's."""
    from sangsach.backend.api.ingest import parse_batch

    ingest = api.app.state.services.ingest  # type: ignore[attr-defined]
    judged: list[int] = []
    handle = ingest._handle

    def recording(one: Any) -> Any:
        result = handle(one)
        judged.append(one.readings[0].seq)
        return result

    ingest._handle = recording
    second = parse_batch(json.dumps(batch([lamp(2)], key="b2", after="b1")).encode())
    late = threading.Thread(target=ingest.handle, args=(second,))
    late.start()
    time.sleep(0.3)
    assert judged == [], "the second went before the first arrived"
    ingest.handle(parse_batch(json.dumps(batch([lamp(1)], key="b1")).encode()))
    late.join(timeout=10)
    assert judged == [1, 2]
