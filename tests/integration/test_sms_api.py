"""The SMS API in-process on SQLite: the outbox listing and the inbound reply webhook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sangsach.backend.api import sms
from sangsach.backend.app import create_app
from sangsach.backend.notify import outbox
from sangsach.backend.notify.inbound import UnknownAlert
from sangsach.config import DEV_WEBHOOK_SECRET, BackendSettings
from tests.harness import ADMIN

SECRET = {"X-Sangsach-Webhook-Secret": DEV_WEBHOOK_SECRET}
COLLECTOR = "+84912000181"  # Nguyễn Văn Tâm, Tổ thu gom rác số 1, in the sample registry
HEAD = "+84912000107"  # Nguyễn Văn Hùng, head of Thôn Đông Hạ
OFFICE = "+84243000000"


class FakeActions:
    def __init__(self) -> None:
        self.open = {"123", "456"}
        self.calls: list[tuple[str, str, str]] = []

    def acknowledge(self, code: str, phone: str) -> str:
        return self._do("ack", code, phone)

    def mark_done(self, code: str, phone: str) -> str:
        return self._do("done", code, phone)

    def _do(self, action: str, code: str, phone: str) -> str:
        if code not in self.open:
            raise UnknownAlert(f"no open alert {code}")
        self.calls.append((action, code, phone))
        return f"alert {code}: {action} by {phone}"


@pytest.fixture
def actions() -> FakeActions:
    return FakeActions()


@pytest.fixture
def app(tmp_path: Path, actions: FakeActions) -> FastAPI:
    app = create_app(BackendSettings(data_dir=tmp_path, sms_office_phones=[OFFICE]))
    app.include_router(sms.router)
    app.dependency_overrides[sms.get_alert_actions] = lambda: actions
    return app


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=ADMIN) as client:
        yield client


def inbound(api: TestClient) -> list[dict[str, object]]:
    response = api.get("/api/v1/sms/inbound")
    assert response.status_code == 200
    rows: list[dict[str, object]] = response.json()
    return rows


def test_the_webhook_needs_the_shared_secret(api: TestClient) -> None:
    body = {"from": COLLECTOR, "text": "OK 123"}
    assert api.post("/api/v1/sms/inbound", json=body).status_code == 401
    wrong = {"X-Sangsach-Webhook-Secret": "guess"}
    assert api.post("/api/v1/sms/inbound", json=body, headers=wrong).status_code == 401
    assert api.post("/api/v1/sms/inbound", content=b"junk", headers=wrong).status_code == 401
    assert inbound(api) == []


def test_ok_from_a_team_member_acknowledges(api: TestClient, actions: FakeActions) -> None:
    # A carrier posting a form, with the number as the phone shows it.
    response = api.post(
        "/api/v1/sms/inbound", data={"from": "0912000181", "text": "ok123"}, headers=SECRET
    )
    assert response.status_code == 200
    assert response.json() == {
        "accepted": True,
        "reason": f"alert 123: ack by {COLLECTOR}",
        "action": "ack",
        "code": "123",
    }
    assert actions.calls == [("ack", "123", COLLECTOR)]
    [row] = inbound(api)
    assert (row["sender"], row["role"], row["result"]) == (COLLECTOR, "team", "accepted")


def test_xong_from_a_village_head_and_the_office_marks_done(
    api: TestClient, actions: FakeActions
) -> None:
    for phone, code in ((HEAD, "123"), (OFFICE, "456")):
        body = {"from": phone, "text": f"Xong {code}"}
        response = api.post("/api/v1/sms/inbound", json=body, headers=SECRET)
        assert response.json()["accepted"] is True
    assert actions.calls == [("done", "123", HEAD), ("done", "456", OFFICE)]
    assert [row["role"] for row in inbound(api)] == ["office", "head"]


def test_an_unknown_sender_is_refused_and_kept(api: TestClient, actions: FakeActions) -> None:
    body = {"from": "+84999999999", "text": "OK 123"}
    response = api.post("/api/v1/sms/inbound", json=body, headers=SECRET)
    assert response.status_code == 403
    assert response.json()["detail"] == "+84999999999 is not in the registry"
    assert actions.calls == []
    [row] = inbound(api)
    assert (row["text"], row["result"], row["role"]) == ("OK 123", "unknown_sender", None)


def test_unreadable_text_and_unknown_codes_are_answered_not_accepted(
    api: TestClient, actions: FakeActions
) -> None:
    chat = api.post(
        "/api/v1/sms/inbound", json={"from": COLLECTOR, "text": "Chào anh"}, headers=SECRET
    )
    assert chat.status_code == 200
    assert chat.json()["accepted"] is False
    assert "starts with OK or XONG" in chat.json()["reason"]
    unknown = api.post(
        "/api/v1/sms/inbound", json={"from": COLLECTOR, "text": "OK 999"}, headers=SECRET
    )
    assert unknown.json() == {
        "accepted": False,
        "reason": "no open alert 999",
        "action": "ack",
        "code": "999",
    }
    assert actions.calls == []
    assert [row["result"] for row in inbound(api)] == ["unknown_alert", "unparseable"]


def test_a_malformed_webhook_call_is_refused(api: TestClient) -> None:
    missing = api.post("/api/v1/sms/inbound", json={"text": "OK 1"}, headers=SECRET)
    assert missing.status_code == 422
    plain = api.post(
        "/api/v1/sms/inbound", content=b"OK 1", headers={**SECRET, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 415


def test_the_outbox_lists_what_was_and_will_be_sent(api: TestClient, app: FastAPI) -> None:
    engine = app.state.services.engine
    with engine.begin() as conn:
        for n, to in enumerate((COLLECTOR, HEAD, COLLECTOR)):
            message = outbox.Sms(f"k{n}", to, f"Thung rac day. Ma {n}.", "gsm7", "bin_full", str(n))
            outbox.enqueue(conn, message, 1_780_000_000.0 + n)
        outbox.mark_sent(conn, "k0", "log:k0", 1_780_000_010.0)
    every = api.get("/api/v1/sms/outbox").json()
    assert [m["id"] for m in every] == ["k2", "k1", "k0"]
    assert every[2]["status"] == "sent" and every[2]["provider_ref"] == "log:k0"
    pending = api.get("/api/v1/sms/outbox", params={"status": "pending", "to": COLLECTOR}).json()
    assert [m["id"] for m in pending] == ["k2"]
    assert api.get("/api/v1/sms/outbox", params={"status": "lost"}).status_code == 422
