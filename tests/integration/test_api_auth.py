"""API auth: every route of the app needs its role (a new route missing from the table below
fails), tokens are issued, listed and revoked, and the web pages sign in with a cookie and
guard their forms with a CSRF token."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.auth.roles import Role
from sangsach.backend.auth.tokens import TokenStore
from sangsach.cli import main
from sangsach.config import DEV_INGEST_TOKEN, BackendSettings
from tests.harness import ADMIN, GATEWAY, WEBHOOK

# The role each route needs. "page": a signed-in viewer (else a redirect to the sign-in page);
# "page-operator": a signed-in operator; "webhook": the SMS webhook secret; "public": nobody.
NEEDS: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/ingest"): "gateway",
    ("PUT", "/api/v1/gateways/{gateway_id}/state"): "gateway",
    ("GET", "/api/v1/gateways"): "viewer",
    ("GET", "/api/v1/villages"): "viewer",
    ("GET", "/api/v1/devices"): "viewer",
    ("GET", "/api/v1/devices/{device_id}"): "viewer",
    ("GET", "/api/v1/devices/{device_id}/readings"): "viewer",
    ("GET", "/api/v1/stats"): "viewer",
    ("GET", "/api/v1/dead-letters"): "viewer",
    ("GET", "/api/v1/alerts"): "viewer",
    ("GET", "/api/v1/alerts/history"): "viewer",
    ("GET", "/api/v1/alerts/{alert_id}"): "viewer",
    ("POST", "/api/v1/alerts/{alert_id}/ack"): "operator",
    ("POST", "/api/v1/alerts/{alert_id}/assign"): "operator",
    ("GET", "/api/v1/sms/outbox"): "operator",
    ("GET", "/api/v1/sms/inbound"): "operator",
    ("POST", "/api/v1/sms/inbound"): "webhook",
    ("GET", "/api/v1/scores"): "viewer",
    ("GET", "/api/v1/census"): "viewer",
    ("PUT", "/api/v1/villages/{village_id}/census"): "operator",
    ("POST", "/api/v1/census/import"): "operator",
    ("GET", "/api/v1/tokens"): "admin",
    ("POST", "/api/v1/tokens"): "admin",
    ("DELETE", "/api/v1/tokens/{name}"): "admin",
    ("GET", "/api/v1/firmware/releases"): "viewer",
    ("GET", "/api/v1/firmware/rollouts"): "viewer",
    ("POST", "/api/v1/firmware/rollouts"): "admin",
    ("GET", "/ota/{number}/{name}"): "public",
    ("GET", "/api/v1/forecasts"): "viewer",
    ("GET", "/api/v1/worklists"): "viewer",
    ("GET", "/api/v1/worklists/{team_id}/{day}"): "viewer",
    ("GET", "/api/v1/campaigns"): "viewer",
    ("GET", "/api/v1/campaigns/{campaign_id}"): "viewer",
    ("POST", "/api/v1/campaigns"): "operator",
    ("PUT", "/api/v1/campaigns/{campaign_id}"): "operator",
    ("DELETE", "/api/v1/campaigns/{campaign_id}"): "operator",
    ("GET", "/chien-dich"): "page",
    ("POST", "/chien-dich"): "page-operator",
    ("POST", "/chien-dich/{campaign_id}"): "page-operator",
    ("POST", "/chien-dich/{campaign_id}/xoa"): "page-operator",
    ("GET", "/api/v1/tickets"): "operator",
    ("POST", "/api/v1/tickets/{ticket_id}/close"): "operator",
    ("GET", "/phieu-phan-anh"): "page-operator",
    ("GET", "/phieu-phan-anh/ma-qr"): "page-operator",
    ("POST", "/phieu-phan-anh/{ticket_id}/dong"): "page-operator",
    ("GET", "/phan-anh"): "public",
    ("POST", "/phan-anh"): "public",
    ("GET", "/"): "page",
    ("GET", "/thon/{village_id}"): "page",
    ("POST", "/thon/{village_id}/dieu-tra"): "page-operator",
    ("GET", "/thiet-bi"): "page",
    ("GET", "/thiet-bi/{device_id}"): "page",
    ("GET", "/canh-bao"): "page",
    ("GET", "/canh-bao/lich-su"): "page",
    ("GET", "/canh-bao/{alert_id}"): "page",
    ("POST", "/canh-bao/{alert_id}/nhan"): "page-operator",
    ("GET", "/bao-cao"): "page",
    ("GET", "/thu-gom"): "page",
    ("GET", "/thu-gom/{team_id}/{day}"): "page",
    ("GET", "/lich"): "page",
    ("GET", "/tinh"): "page",
    ("GET", "/tinh/xa/{commune_id}"): "page",
    ("GET", "/bao-cao/{period}.csv"): "page",
    ("GET", "/bao-cao/{period}.pdf"): "page",
    ("GET", "/bao-cao/{period}.html"): "page",
    ("GET", "/dang-nhap"): "public",
    ("POST", "/dang-nhap"): "public",
    ("POST", "/dang-xuat"): "public",
    ("GET", "/healthz"): "public",
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/redoc"): "public",
    ("GET", "/favicon.ico"): "public",
}
PATH_VALUES = {"device_id": "lamp-dong-ha-001", "alert_id": "1", "village_id": "dong-ha",
               "name": "nobody", "period": "2026-H1", "gateway_id": "gw-1",
               "number": "1", "team_id": "thu-gom-1", "campaign_id": "1", "ticket_id": "1",
               "commune_id": "xa",
               # today's work list (UTC+7): a preview of it is there before its SMS time
               "day": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 3600))}  # fmt: skip
NOW = int(time.time())
ALLOWED = {
    "viewer": {Role.VIEWER, Role.OPERATOR, Role.ADMIN},
    "operator": {Role.OPERATOR, Role.ADMIN},
    "admin": {Role.ADMIN},
    "gateway": {Role.GATEWAY},  # and nobody else ingests
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    found = set()
    for context in iter_route_contexts(app.routes):
        methods = getattr(context.original_route, "methods", None)
        if methods is None:  # the /static mounts (the pages', the API docs'): files, no data
            assert context.path in ("/static", "/static/api-docs")
            continue
        found |= {(method, str(context.path)) for method in methods - {"HEAD"}}
    return found


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    # this module fails to authenticate on purpose hundreds of times from one address: the limit
    # on failures is off here and has its own tests (test_web_edge.py)
    data_dir = tmp_path_factory.mktemp("auth")
    return create_app(BackendSettings(data_dir=data_dir, auth_failures_burst=0))


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(app: FastAPI) -> dict[Role, str]:
    """A token of each role: admin from the settings, the others issued into the table."""
    store: TokenStore = app.state.auth.store
    issued: dict[Role, str] = {
        # a gateway token is named after its gateway: the one of PATH_VALUES
        role: store.add("gw-1" if role is Role.GATEWAY else f"test {role}", role, NOW)[1]
        for role in Role
        if role is not Role.ADMIN
    }
    return {**issued, Role.ADMIN: ADMIN["Authorization"].split()[1]}


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    url = path.format(**{k: v for k, v in PATH_VALUES.items() if "{" + k + "}" in path})
    return client.request(method, url, headers=headers)


def test_every_route_of_the_app_has_a_declared_role(app: FastAPI) -> None:
    assert app_routes(app) == set(NEEDS), "a new route: add it to NEEDS with the role it needs"


@pytest.mark.parametrize(("method", "path"), sorted(k for k, v in NEEDS.items() if v in ALLOWED))
def test_api_routes_need_a_token_of_the_right_role(
    client: TestClient, tokens: dict[Role, str], method: str, path: str
) -> None:
    need = NEEDS[method, path]
    for headers in ({}, bearer("not-a-token"), {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        refused = call(client, method, path, headers)
        assert refused.status_code == 401, (headers, refused.text)
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    for role, secret in tokens.items():
        response = call(client, method, path, bearer(secret))
        if role in ALLOWED[need]:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert f"has the {role} role" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"), sorted(k for k, v in NEEDS.items() if v.startswith("page"))
)
def test_web_pages_send_strangers_to_sign_in_and_check_the_role(
    client: TestClient, tokens: dict[Role, str], method: str, path: str
) -> None:
    for headers in ({}, bearer(tokens[Role.GATEWAY])):
        response = call(client, method, path, headers)
        assert response.status_code == 303, response.text
        assert response.headers["Location"].startswith("/dang-nhap?tiep=%2F")
    wrong = call(client, method, path, bearer("not-a-token"))  # a script's wrong token
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    needs_operator = NEEDS[method, path] == "page-operator"
    viewer = call(client, method, path, bearer(tokens[Role.VIEWER]))
    # this module's database has no alert 1: past the role check, its page is a 404
    # nor a province's page: an installation of one commune has none
    shown = 404 if path == "/canh-bao/{alert_id}" or path.startswith("/tinh") else 200
    assert viewer.status_code == (403 if needs_operator else shown), viewer.text
    operator = call(client, method, path, bearer(tokens[Role.OPERATOR]))
    assert operator.status_code not in (303, 401, 403), operator.text


def test_the_webhook_takes_its_secret_not_tokens(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    body = {"from": "+84912000181", "text": "Chào"}
    for secret in tokens.values():
        assert (
            client.post("/api/v1/sms/inbound", json=body, headers=bearer(secret)).status_code == 401
        )
    assert client.post("/api/v1/sms/inbound", json=body, headers=WEBHOOK).status_code == 200


def test_public_routes_need_nothing(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "Mã truy cập" in client.get("/dang-nhap").text


def test_tokens_are_issued_once_listed_without_secret_and_revoked(client: TestClient) -> None:
    issued = client.post("/api/v1/tokens", json={"name": "màn hình văn phòng", "role": "viewer"}, headers=ADMIN)  # fmt: skip
    assert issued.status_code == 201
    secret = issued.json()["token"]
    assert client.get("/api/v1/stats", headers=bearer(secret)).status_code == 200
    listed = client.get("/api/v1/tokens", headers=ADMIN).json()
    [mine] = [t for t in listed if t["name"] == "màn hình văn phòng"]
    assert set(mine) == {"id", "name", "role", "created_at", "revoked_at", "scope"}
    assert secret not in str(listed)
    again = client.post("/api/v1/tokens", json={"name": "màn hình văn phòng", "role": "admin"}, headers=ADMIN)  # fmt: skip
    assert again.status_code == 409 and "revoke it first" in again.json()["detail"]
    bad = client.post("/api/v1/tokens", json={"name": "a\nb", "role": "viewer"}, headers=ADMIN)
    assert bad.status_code == 422
    unknown_role = client.post("/api/v1/tokens", json={"name": "x", "role": "root"}, headers=ADMIN)
    assert unknown_role.status_code == 422
    assert client.delete("/api/v1/tokens/màn hình văn phòng", headers=ADMIN).json() == {
        "revoked": 1
    }
    assert client.get("/api/v1/stats", headers=bearer(secret)).status_code == 401
    assert client.delete("/api/v1/tokens/màn hình văn phòng", headers=ADMIN).status_code == 404


def test_cli_tokens_work_against_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path))
    added = CliRunner().invoke(main, ["tokens", "add", "--name", "gw-2", "--role", "gateway"])
    assert added.exit_code == 0, added.output
    assert "đã cấp mã 'gw-2' quyền gateway" in added.output
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("ss_")
    refused = CliRunner().invoke(main, ["tokens", "add", "--name", "gw-2", "--role", "viewer"])
    assert refused.exit_code == 2 and "in use" in refused.output
    with TestClient(create_app(BackendSettings(data_dir=tmp_path))) as api:
        body = {"gateway": "gw-2", "readings": []}
        assert api.post("/api/v1/ingest", json=body, headers=bearer(secret)).status_code == 200
        listed = CliRunner().invoke(main, ["tokens", "list"])
        assert re.search(r"gw-2 +gateway .* đang dùng", listed.output), listed.output
        assert secret not in listed.output
        assert CliRunner().invoke(main, ["tokens", "revoke", "gw-2"]).exit_code == 0
        assert api.post("/api/v1/ingest", json=body, headers=bearer(secret)).status_code == 401
        assert api.post("/api/v1/ingest", json=body, headers=GATEWAY).status_code == 200
    assert "đã thu hồi" in CliRunner().invoke(main, ["tokens", "list"]).output


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient, secret: str) -> TestClient:
    client.cookies.clear()
    response = client.post("/dang-nhap", data={"ma": secret, "tiep": "/canh-bao"})
    assert response.status_code == 303 and response.headers["Location"] == "/canh-bao"
    return client


def test_sign_in_sets_a_safe_cookie_and_refuses_bad_tokens(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    client.cookies.clear()
    wrong = client.post("/dang-nhap", data={"ma": "đoán-mò"})
    assert wrong.status_code == 401 and "Mã truy cập không đúng" in wrong.text
    assert client.post("/dang-nhap", data={"ma": tokens[Role.GATEWAY]}).status_code == 401
    elsewhere = client.post("/dang-nhap", data={"ma": tokens[Role.VIEWER], "tiep": "//evil.example/"})  # fmt: skip
    assert elsewhere.headers["Location"] == "/"  # never sent off the site
    cookie = elsewhere.headers["Set-Cookie"]
    assert cookie.startswith("sangsach_phien=") and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Path=/" in cookie
    forged = client.post(
        "/dang-nhap", data={"ma": tokens[Role.VIEWER]}, headers={"Origin": "http://evil.example"}
    )
    assert forged.status_code == 403


def test_acknowledging_in_the_browser_needs_an_operator_and_the_csrf_token(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    full = {"id": "bin-an-lac-01", "kind": "bin", "boot": 1, "seq": 0, "ts": NOW - 60,
            "fill_pct": 95.0, "received_at": NOW - 59.0}  # fmt: skip
    body = {"gateway": "gw-1", "readings": [full]}
    assert client.post("/api/v1/ingest", json=body, headers=GATEWAY).status_code == 200
    [alert] = client.get(
        "/api/v1/alerts", params={"device": "bin-an-lac-01", "type": "bin_full"}, headers=ADMIN
    ).json()
    ack = f"/canh-bao/{alert['id']}/nhan"

    sign_in(client, tokens[Role.VIEWER])
    page = client.get("/canh-bao").text
    assert "Đăng nhập để nhận xử lý" in page and ack not in page
    assert client.post(ack, data={"by": "x", "csrf": csrf_of(page)}).status_code == 403

    sign_in(client, tokens[Role.OPERATOR])
    page = client.get("/canh-bao").text
    assert ack in page
    assert client.post(ack, data={"by": "văn phòng xã"}).status_code == 403  # no CSRF token
    wrong = client.post(ack, data={"by": "văn phòng xã", "csrf": "0" * 64})
    assert wrong.status_code == 403 and "biểu mẫu đã hết hạn" in wrong.text  # the error page
    done = client.post(ack, data={"csrf": csrf_of(page)})
    assert done.status_code == 303
    code = alert["id"]
    assert done.headers["Location"] == f"/canh-bao?da=nhan&ma={code}#canh-bao-{code}"
    acked = client.get(f"/api/v1/alerts/{code}", headers=ADMIN).json()
    assert acked["acked_by"] == "test operator"  # who is signed in, not what the form says

    assert client.post("/dang-xuat").status_code == 403  # signing out is a form too
    out = client.post("/dang-xuat", data={"csrf": csrf_of(page)})
    assert out.status_code == 303 and 'sangsach_phien=""' in out.headers["Set-Cookie"]


def test_a_revoked_token_ends_its_session_at_once(app: FastAPI, client: TestClient) -> None:
    store: TokenStore = app.state.auth.store
    _, secret = store.add("short-lived", Role.OPERATOR, NOW)
    sign_in(client, secret)
    assert client.get("/canh-bao").status_code == 200
    store.revoke("short-lived", time.time())
    assert client.get("/canh-bao").status_code == 303
    client.cookies.clear()


def test_open_read_pages_still_guard_acknowledging(tmp_path: Path) -> None:
    settings = BackendSettings(data_dir=tmp_path, web_open_read=True)
    with TestClient(create_app(settings), follow_redirects=False) as open_client:
        overview = open_client.get("/")
        assert overview.status_code == 200 and 'href="/dang-nhap"' in overview.text
        assert open_client.get("/bao-cao/2026-H1.csv").status_code == 200
        assert open_client.post("/canh-bao/1/nhan", data={"by": "x"}).status_code == 303
        assert open_client.get("/api/v1/stats").status_code == 401  # the API is not opened
        assert open_client.get("/api/v1/stats", headers=bearer(DEV_INGEST_TOKEN)).status_code == 403
