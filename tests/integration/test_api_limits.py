"""Request limits: bodies above SANGSACH_MAX_BODY_BYTES get 413 before they are read whole, a
gateway over its ingest rate gets 429 with Retry-After, and an empty webhook secret refuses every
call (the signed webhook itself: test_sms_webhook.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.auth.roles import Role
from sangsach.backend.notify.webhook import signed_headers
from sangsach.config import BackendSettings
from sangsach.localbroker import LocalBroker
from tests.harness import ADMIN, GATEWAY, WEBHOOK, Stack, publish_all, wait_until

MIB = 1024 * 1024
NOW = int(time.time())


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    settings = BackendSettings(
        data_dir=tmp_path, max_body_bytes=MIB, ingest_rate_per_s=1.0, ingest_burst=3
    )
    with TestClient(create_app(settings), headers=ADMIN) as client:
        yield client


def lamps(n: int, first: int = 0) -> list[dict[str, object]]:
    return [{"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": s, "ts": NOW - 600 + s,
             "on": True, "received_at": NOW - 599.0 + s} for s in range(first, first + n)]  # fmt: skip


def test_a_declared_large_body_is_refused_unread(api: TestClient) -> None:
    big = b'{"gateway": "gw-1", "readings": []' + b" " * MIB + b"}"
    response = api.post("/api/v1/ingest", content=big, headers={**GATEWAY, "Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert response.json()["detail"] == f"request body too large: at most {MIB} bytes (SANGSACH_MAX_BODY_BYTES)"  # fmt: skip
    assert api.post("/api/v1/ingest", json={"gateway": "gw-1"}, headers=GATEWAY).status_code == 200


def test_a_streamed_large_body_is_cut_off(api: TestClient) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(40):
            sent.append(1)
            yield b"village_id,households\n" + b"x" * 64 * 1024

    response = api.post(
        "/api/v1/census/import", content=chunks(), params={"entered_by": "x"},
        headers={"Content-Type": "text/csv"},
    )  # fmt: skip
    assert response.status_code == 413
    assert "SANGSACH_MAX_BODY_BYTES" in response.json()["detail"]


def test_a_gateway_over_its_rate_gets_429_others_do_not(api: TestClient) -> None:
    first = {"gateway": "gw-1", "readings": lamps(3)}
    assert api.post("/api/v1/ingest", json=first, headers=GATEWAY).status_code == 200
    refused = api.post(
        "/api/v1/ingest", json={"gateway": "gw-1", "readings": lamps(1, 3)}, headers=GATEWAY
    )
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert "gw-1" in refused.json()["detail"] and "resend" in refused.json()["detail"]
    other = api.app.state.auth.store.add("gw-2", Role.GATEWAY, NOW)[1]  # type: ignore[attr-defined]
    own_bucket = {"gateway": "gw-2", "readings": lamps(1, 3)}
    assert api.post("/api/v1/ingest", json=own_bucket, headers={"Authorization": f"Bearer {other}"}).status_code == 200  # fmt: skip
    assert api.get("/api/v1/stats").json()["readings"]["lamp"] == 4  # nothing of the 429 stored


def test_an_empty_webhook_secret_refuses_every_call(tmp_path: Path) -> None:
    settings = BackendSettings(data_dir=tmp_path, sms_webhook_secret="")
    body = json.dumps({"from": "+84912000181", "text": "OK 1"}).encode()
    with TestClient(create_app(settings)) as client:
        for headers in (
            {"X-Sangsach-Webhook-Secret": ""},
            WEBHOOK,
            signed_headers("", body, time.time()),
        ):
            response = client.post("/api/v1/sms/inbound", content=body, headers={**headers, "Content-Type": "application/json"})  # fmt: skip
            assert response.status_code == 401


def test_the_gateway_splits_a_batch_too_large_and_waits_when_throttled(
    tmp_path: Path, broker: LocalBroker
) -> None:
    """Real processes: 400 dead letters of ~4 KB each spool while the backend is down; the first
    batch (~1.7 MB) is over the 1 MiB limit, and the rate lets 100 messages through a second."""
    env = {"SANGSACH_MAX_BODY_BYTES": str(MIB), "SANGSACH_INGEST_RATE_PER_S": "100",
           "SANGSACH_INGEST_BURST": "100"}  # fmt: skip
    stack = Stack(tmp_path / "stack", broker.port, env)
    try:
        stack.start_gateway()
        junk = [(f"sangsach/v1/lamp-x-{i:03d}/telemetry", b"{" + b"x" * 5000) for i in range(400)]
        publish_all(broker.port, junk)
        wait_until(lambda: stack.gateway_health()["spooled"] == 400, 60, "400 entries spooled")
        stack.start_backend()
        oversized = stack.http.post("/api/v1/ingest", content=b" " * (MIB + 1), headers=GATEWAY)
        assert oversized.status_code == 413  # the real server answers without reading it

        wait_until(lambda: len(stack.dead_letters()) == 400, 90, "every dead letter stored")
        wait_until(lambda: stack.gateway_health()["spooled"] == 0, 30, "the spool emptied")
        assert stack.gateway_health()["forwarder"]["rate_limited"] >= 1
        assert "backend answered 413" in stack.gateway.log()
        assert "backend answered 429" in stack.gateway.log()
        letters = stack.dead_letters()
        assert len({d["id"] for d in letters}) == 400
        assert {len(d["payload"]) for d in letters} == {4096}
    finally:
        stack.close()
