"""The web and API edge on a real backend process: who is calling is decided before a body is
read, failed attempts are limited per address (behind a trusted proxy too), sessions live on
the server and end at sign-out or expiry, and every answer carries the security headers."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sangsach.backend.api import ingest as ingest_route
from sangsach.backend.app import create_app
from sangsach.backend.notify.webhook import signed_headers
from sangsach.config import DEV_ADMIN_TOKEN, DEV_WEBHOOK_SECRET, BackendSettings
from sangsach.localbroker import LocalBroker
from tests.harness import ADMIN, GATEWAY, Stack, wait_until

COOKIE = "sangsach_phien"
WEBHOOK_PATH = "/api/v1/sms/inbound"


@pytest.fixture
def stack(tmp_path: Path, broker: LocalBroker) -> Iterator[Stack]:
    running = Stack(
        tmp_path / "stack",
        broker.port,
        {
            "SANGSACH_AUTH_FAILURES_BURST": "3",
            "SANGSACH_AUTH_FAILURES_PER_MIN": "1",
            # 9 s: the expiry test waits it out; the rest of a test's session is done in 1 or 2
            "SANGSACH_SESSION_HOURS": "0.0025",
            "SANGSACH_TRUSTED_PROXIES": "127.0.0.1",
        },
    )
    running.start_backend()
    yield running
    running.close()


def raw_request(port: int, head: str, body: bytes = b"", timeout: float = 15) -> str:
    """Send ``head`` (and ``body``) over a socket; the answer's status line and headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode("latin-1")


def test_a_body_without_a_token_is_refused_before_it_is_read(stack: Stack) -> None:
    # 7 MB announced, not one byte sent: an answer can only come from the headers
    head = (
        "POST /api/v1/ingest HTTP/1.1\nHost: x\nContent-Type: application/json\n"
        "Content-Length: 7000000\n"
    )
    assert raw_request(stack.port, head).startswith("HTTP/1.1 401")
    wrong = head.replace("Host: x\n", "Host: x\nAuthorization: Bearer not-a-token\n")
    assert raw_request(stack.port, wrong).startswith("HTTP/1.1 401")
    # a malformed body: 401 without a token, the validation's 422 only for a gateway
    with httpx.Client(base_url=stack.url, timeout=30) as anonymous:
        bad = anonymous.post("/api/v1/ingest", content=b"{not json", headers={"Content-Type": "application/json"})  # fmt: skip
        assert bad.status_code == 401 and bad.headers["WWW-Authenticate"] == "Bearer"
        form = anonymous.post("/canh-bao/1/nhan", content=b"x" * 1000, headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert form.status_code == 303 and form.headers["Location"].startswith("/dang-nhap")
    as_gateway = stack.http.post(
        "/api/v1/ingest",
        content=b"{not json",
        headers={**GATEWAY, "Content-Type": "application/json"},
    )
    assert as_gateway.status_code == 422
    assert stack.http.get("/healthz").status_code == 200


def test_failed_attempts_are_limited_per_address_a_right_secret_included(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=30, follow_redirects=False) as web:
        for _ in range(3):
            assert web.post("/dang-nhap", data={"ma": "đoán-mò"}).status_code == 401
        blocked = web.post("/dang-nhap", data={"ma": DEV_ADMIN_TOKEN})
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
        # a person at the sign-in form reads why, in Vietnamese, in the site's layout
        assert "<h1>Quá nhiều lần thử</h1>" in blocked.text and "thử lại sau khoảng" in blocked.text
        assert "frame-ancestors 'none'" in blocked.headers["content-security-policy"]
        # the address is blocked for bearer tokens too, the right one included
        assert web.get("/api/v1/stats", headers=ADMIN).status_code == 429
        # another address behind the trusted proxy is counted on its own
        proxied = {**ADMIN, "X-Forwarded-For": "10.0.0.8"}
        assert web.get("/api/v1/stats", headers=proxied).status_code == 200
        other = {"Authorization": "Bearer wrong", "X-Forwarded-For": "10.0.0.9"}
        for _ in range(3):
            assert web.get("/api/v1/stats", headers=other).status_code == 401
        assert web.get("/api/v1/stats", headers={**other, **ADMIN}).status_code == 429
        assert web.get("/api/v1/stats", headers=proxied).status_code == 200
        # nobody is refused health checks or the sign-in page itself
        assert web.get("/healthz").status_code == 200
        assert web.get("/dang-nhap").status_code == 200
    log = stack.backend.log()
    assert "failed sign-in attempt from 127.0.0.1" in log
    assert "failed bearer attempt from 10.0.0.9" in log
    assert "further attempts from this address are refused (429)" in log


def test_wrong_webhook_signatures_are_counted_too(stack: Stack) -> None:
    body = json.dumps({"from": "+84912000001", "text": "OK 1"}).encode()
    kind = {"Content-Type": "application/json"}
    with httpx.Client(base_url=stack.url, timeout=30) as carrier:
        for _ in range(3):
            wrong = signed_headers("not-the-secret", body, time.time())
            assert (
                carrier.post(WEBHOOK_PATH, content=body, headers={**kind, **wrong}).status_code
                == 401
            )
        right = signed_headers(DEV_WEBHOOK_SECRET, body, time.time())
        refused = carrier.post(WEBHOOK_PATH, content=body, headers={**kind, **right})
        assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "failed webhook attempt from 127.0.0.1" in stack.backend.log()


def sign_in(web: httpx.Client, secret: str) -> str:
    answer = web.post("/dang-nhap", data={"ma": secret, "tiep": "/canh-bao"})
    assert answer.status_code == 303, answer.text
    return str(web.cookies[COOKIE])


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, html
    return found.group(1)


def test_sessions_are_server_side_and_end_at_sign_out_and_expiry(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=30, follow_redirects=False) as web:
        session = sign_in(web, DEV_ADMIN_TOKEN)
        assert DEV_ADMIN_TOKEN not in session and len(session) >= 40
        cookie_header = web.post("/dang-nhap", data={"ma": DEV_ADMIN_TOKEN}).headers["set-cookie"]
        assert "HttpOnly" in cookie_header and "Secure" not in cookie_header  # plain http here
        session = str(web.cookies[COOKIE])
        page = web.get("/canh-bao")
        assert page.status_code == 200
        # a cross-site form: the browser sends no cookie, so nothing changes (no Set-Cookie)
        with httpx.Client(base_url=stack.url, timeout=30, follow_redirects=False) as elsewhere:
            forged = elsewhere.post("/dang-xuat", data={"csrf": "x"})
            assert forged.status_code == 303 and "set-cookie" not in forged.headers
        # with the cookie but without the form's token: refused, still signed in
        assert web.post("/dang-xuat").status_code == 403
        assert web.get("/canh-bao").status_code == 200
        out = web.post("/dang-xuat", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303
    # the old cookie, kept by someone, no longer opens anything: ended on the server
    with httpx.Client(base_url=stack.url, timeout=30, follow_redirects=False) as replay:
        replay.cookies.set(COOKIE, session)
        assert replay.get("/canh-bao").status_code == 303
        # and a fresh one expires by itself (SANGSACH_SESSION_HOURS)
        replay.cookies.clear()
        sign_in(replay, DEV_ADMIN_TOKEN)
        assert replay.get("/canh-bao").status_code == 200
        wait_until(lambda: replay.get("/canh-bao").status_code == 303, 40, "session expiry")


def test_the_cookie_is_secure_when_users_come_by_https(tmp_path: Path, broker: LocalBroker) -> None:
    """Secure by the setting, or by a trusted proxy's word; an untrusted caller's forwarding
    headers are ignored, so a guesser cannot name a new address for each try."""
    extra = {
        "SANGSACH_PUBLIC_URL": "https://sangsach.example.vn",
        "SANGSACH_TRUSTED_PROXIES": "10.9.9.9",  # the proxy is elsewhere: 127.0.0.1 is a client
        "SANGSACH_AUTH_FAILURES_BURST": "3",
    }
    running = Stack(tmp_path / "stack", broker.port, extra)
    running.start_backend()
    try:
        answer = running.http.post("/dang-nhap", data={"ma": DEV_ADMIN_TOKEN})
        assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]
        for n in range(3):
            spoofed = {"Authorization": "Bearer wrong", "X-Forwarded-For": f"10.0.1.{n}"}
            assert running.http.get("/api/v1/stats", headers=spoofed).status_code == 401
        fresh = {**ADMIN, "X-Forwarded-For": "10.0.1.99"}
        assert running.http.get("/api/v1/stats", headers=fresh).status_code == 429
        assert "failed bearer attempt from 127.0.0.1" in running.backend.log()
    finally:
        running.close()
    # without the setting, a trusted proxy's X-Forwarded-Proto says so
    plain = Stack(tmp_path / "plain", broker.port)
    plain.start_backend()
    try:
        proxied = plain.http.post(
            "/dang-nhap", data={"ma": DEV_ADMIN_TOKEN}, headers={"X-Forwarded-Proto": "https"}
        )
        assert "Secure" in proxied.headers["set-cookie"]
    finally:
        plain.close()


def test_every_answer_carries_the_security_headers(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=30, follow_redirects=False) as web:
        sign_in(web, DEV_ADMIN_TOKEN)
        answers = [
            web.get(path)
            for path in ("/", "/canh-bao", "/bao-cao", "/dang-nhap", "/static/style.css",
                         "/khong-co", "/api/v1/stats", "/healthz", "/docs")
        ]  # fmt: skip
        answers.append(stack.http.get("/api/v1/stats"))
    # the gate's own answers, given before any route runs, carry them too
    with httpx.Client(base_url=stack.url, timeout=30, follow_redirects=False) as anonymous:
        gate = [anonymous.get("/api/v1/stats"), anonymous.post("/canh-bao/1/nhan")]
        assert [a.status_code for a in gate] == [401, 303]
        answers.extend(gate)
    for answer in answers:
        where = f"{answer.request.url.path} ({answer.status_code})"
        csp = answer.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, where
        assert answer.headers["x-content-type-options"] == "nosniff", where
        assert answer.headers["x-frame-options"] == "DENY", where
        assert answer.headers["referrer-policy"] == "same-origin", where
        if answer.request.url.path != "/docs":
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp, where
    # the pages themselves have no inline script or style the policy would block
    for answer in answers[:3]:
        assert "<script>" not in answer.text and " style=" not in answer.text
        assert re.search(r"\son[a-z]+=", answer.text) is None, answer.request.url.path


def test_a_session_survives_a_backend_restart(tmp_path: Path, broker: LocalBroker) -> None:
    """Sessions are rows, not memory: a restart (an upgrade) does not sign the office out, but a
    changed admin secret ends the sessions opened with the old one."""
    running = Stack(tmp_path / "stack", broker.port)
    running.start_backend()
    try:
        with httpx.Client(base_url=running.url, timeout=30, follow_redirects=False) as web:
            sign_in(web, DEV_ADMIN_TOKEN)
            running.backend.stop()
            running.start_backend()
            assert web.get("/canh-bao").status_code == 200
            # a leaked admin secret, replaced: the sessions it opened end with it
            running.backend.stop()
            running.env["SANGSACH_ADMIN_TOKEN"] = secrets.token_hex(32)
            running.start_backend()
            assert web.get("/canh-bao").status_code == 303
    finally:
        running.close()


def test_a_big_batch_is_parsed_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch above 64 KiB is parsed in a worker thread; a small one inline (cheaper)."""
    in_thread: list[int] = []
    real = ingest_route.parse_batch

    def watched(body: bytes) -> object:
        try:
            asyncio.get_running_loop()  # on the event loop
        except RuntimeError:
            in_thread.append(len(body))
        return real(body)

    monkeypatch.setattr(ingest_route, "parse_batch", watched)
    now = int(time.time())
    reading = {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "ts": now - 60, "on": False,
               "received_at": now - 59.0}  # fmt: skip
    small = {"gateway": "gw-1", "readings": [{**reading, "seq": 0}]}
    big = {"gateway": "gw-1", "readings": [{**reading, "seq": i} for i in range(2000)]}
    with TestClient(create_app(BackendSettings(data_dir=tmp_path)), headers=GATEWAY) as client:
        assert client.post("/api/v1/ingest", json=small).status_code == 200
        assert in_thread == []
        assert client.post("/api/v1/ingest", json=big).status_code == 200
    assert len(in_thread) == 1 and in_thread[0] > ingest_route.PARSE_INLINE_BYTES
