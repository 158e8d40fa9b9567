"""A province of two communes in one installation (sangsach/province_file.py): the province file
and its errors, each commune's office seeing only its own (tokens and web sessions scoped to a
commune; every other route refused), the province's office ranking the communes and looking at
either, and each commune's scores equal to those of an installation of that commune alone fed
the same readings.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.auth.roles import Role
from sangsach.backend.auth.scopes import COMMUNE_ROUTES
from sangsach.backend.auth.tokens import TokenStore
from sangsach.backend.citizens.form import FormGuard
from sangsach.backend.scores.days import local_day, local_midnight
from sangsach.cli import main
from sangsach.config import BackendSettings
from sangsach.province_file import load_installation
from sangsach.registry_file import RegistryFileError
from sangsach.registry_gen import generate
from tests.harness import ADMIN, GATEWAY
from tests.integration.test_api_auth import NEEDS, PATH_VALUES

NOW = int(time.time())
COMMUNES = {"tan-phong": ("a-", "Tân Phong"), "hoa-binh": ("b-", "Hòa Bình")}
PROVINCE = """province:
  name: Hưng Yên
communes:
  - id: tan-phong
    registry: tan-phong.yaml
  - id: hoa-binh
    registry: hoa-binh.yaml
"""


def write_province(folder: Path, text: str = PROVINCE) -> Path:
    for commune_id, (prefix, name) in COMMUNES.items():
        registry = generate(2, 3, 2, seed=len(prefix + name), prefix=prefix, name=name)
        if commune_id == "hoa-binh":  # a formula of its own: its pages must use it
            registry += "scores:\n  sang_target_pct: 80\n"
        (folder / f"{commune_id}.yaml").write_text(registry, encoding="utf-8")
    path = folder / "province.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def readings(prefix: str) -> list[dict[str, Any]]:
    """A day of a commune's bins, one of them overflowing (an alert), and its lamps lit."""
    out = []
    for village in (1, 2):
        for n in (1, 2):
            fill = 97.0 if (village, n) == (1, 1) else 30.0 + n
            out += [
                {"id": f"bin-{prefix}thon-{village}-0{n}", "kind": "bin", "boot": 1, "seq": k,
                 "ts": NOW - 3600 * (6 - k), "fill_pct": fill, "battery_v": 3.9,
                 "received_at": NOW - 3600 * (6 - k) + 1.0}
                for k in range(6)
            ]  # fmt: skip
        out += [
            {"id": f"lamp-{prefix}thon-{village}-00{n}", "kind": "lamp", "boot": 1, "seq": k,
             "ts": NOW - 3600 * (6 - k), "on": True, "current_a": 0.2,
             "received_at": NOW - 3600 * (6 - k) + 1.0}
            for n in (1, 2, 3) for k in range(6)
        ]  # fmt: skip
    return out


def fed(app: FastAPI, *prefixes: str) -> TestClient:
    client = TestClient(app, headers=ADMIN, follow_redirects=False)
    client.__enter__()
    for prefix in prefixes:
        body = {"gateway": "gw-1", "readings": readings(prefix)}
        client.post("/api/v1/ingest", json=body, headers=GATEWAY).raise_for_status()
    return client


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data = tmp_path_factory.mktemp("province")
    settings = BackendSettings(
        data_dir=data, registry_file=write_province(data), alert_quiet_hours="",
        auth_failures_burst=0,
    )  # fmt: skip
    return create_app(settings)


@pytest.fixture(scope="module")
def province(app: FastAPI) -> Iterator[TestClient]:
    """The province's office (the settings' admin), after a day of both communes."""
    client = fed(app, "a-", "b-")
    yield client
    client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def scoped(app: FastAPI, province: TestClient) -> dict[str, str]:
    """Secrets of tokens scoped to Tân Phong: a viewer, an operator and an admin."""
    store: TokenStore = app.state.auth.store
    return {
        role.value: store.add(f"tan-phong {role}", role, NOW, "tan-phong")[1]
        for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
    }


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# -- the province file ---------------------------------------------------------------------


def test_the_province_file_lists_communes_each_with_its_own_registry(tmp_path: Path) -> None:
    found = load_installation(write_province(tmp_path))
    assert found.name == "Hưng Yên" and list(found.communes) == ["tan-phong", "hoa-binh"]
    assert found.communes["hoa-binh"].commune.name == "Hòa Bình"
    assert found.commune_of("b-thon-2") == "hoa-binh"
    lone = load_installation(tmp_path / "tan-phong.yaml")  # a commune's file: a province of one
    assert list(lone.communes) == ["tan-phong"] and not lone.several


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ((" b-\n", " a-\n"), None),  # the same ids in both communes: see below
        (("id: hoa-binh", "id: tan-phong"), "commune id used twice in the province: tan-phong"),
        (("registry: hoa-binh.yaml", "registry: missing.yaml"), "missing.yaml: cannot read"),
        (("  name: Hưng Yên\n", "  name: Hưng Yên\n  district: X\n"), "province.district: "),
        ((PROVINCE[PROVINCE.index("communes:") :], "communes: []\n"), "communes: List should"),
    ],
)
def test_a_bad_province_file_is_refused_naming_the_field(
    tmp_path: Path, edit: tuple[str, str], message: str | None
) -> None:
    path = write_province(tmp_path, PROVINCE.replace(*edit))
    if message is None:  # two communes made with the same prefix share every id
        twin = (tmp_path / "tan-phong.yaml").read_text(encoding="utf-8")
        (tmp_path / "hoa-binh.yaml").write_text(twin, encoding="utf-8")
        message = "village id used twice in the province: a-thon-1 (tan-phong and hoa-binh)"
    with pytest.raises(RegistryFileError) as refused:
        load_installation(path)
    assert message in str(refused.value)


# -- each commune sees its own ---------------------------------------------------------------


def test_a_commune_token_sees_its_own_villages_alerts_and_devices_only(
    province: TestClient, scoped: dict[str, str]
) -> None:
    mine = bearer(scoped["viewer"])
    villages = province.get("/api/v1/villages", headers=mine).json()
    assert [v["id"] for v in villages] == ["a-thon-1", "a-thon-2"]
    assert {v["commune_id"] for v in villages} == {"tan-phong"}
    overview = province.get("/", headers=mine).text
    assert "Tân Phong" in overview and 'data-village="a-thon-1"' in overview
    assert "b-thon-" not in overview and "Hòa Bình" not in overview
    alerts = province.get("/canh-bao", headers=mine).text
    assert "bin-a-thon-1-01" in alerts and "bin-b-thon-1-01" not in alerts
    theirs = province.get("/api/v1/alerts", params={"device": "bin-b-thon-1-01"}).json()
    assert len(theirs) == 2  # the province's office sees Hòa Bình's alerts (full, overflow) ...
    assert province.get(f"/canh-bao/{theirs[0]['id']}", headers=mine).status_code == 404
    for path in (
        "/thon/b-thon-1",
        "/thiet-bi/lamp-b-thon-1-001",
        "/thu-gom/b-thu-gom-1/2026-12-01",
    ):
        assert province.get(path, headers=mine).status_code == 404, path  # ... a commune not
    devices = province.get("/thiet-bi", headers=mine).text
    assert "lamp-a-thon-2-003" in devices and "lamp-b-thon" not in devices
    history = province.get("/canh-bao/lich-su", headers=mine).text
    assert "bin-a-thon-1-01" in history and "bin-b-thon" not in history
    report = province.get("/bao-cao/2026.csv", headers=mine).text
    assert "Thôn 1" in report and "Hòa Bình" not in report


def test_a_commune_token_is_refused_every_route_that_is_not_a_communes(
    province: TestClient, scoped: dict[str, str]
) -> None:
    """Every route of the app that needs a role: a commune's admin gets 403 on each one not
    listed as a commune's (so a route added later stays closed until it filters by commune)."""
    values = {**PATH_VALUES, "village_id": "a-thon-1", "device_id": "lamp-a-thon-1-001",
              "team_id": "a-thu-gom-1", "commune_id": "tan-phong"}  # fmt: skip
    checked = 0
    for (method, path), need in sorted(NEEDS.items()):
        if need in ("public", "webhook"):
            continue
        url = path.format(**{k: v for k, v in values.items() if "{" + k + "}" in path})
        answer = province.request(method, url, headers=bearer(scoped["admin"]))
        if path in COMMUNE_ROUTES:
            assert answer.status_code != 403, (method, path, answer.text)
        else:
            assert answer.status_code == 403, (method, path, answer.status_code)
            checked += 1
    assert checked >= 30


def test_a_commune_session_keeps_its_scope(
    app: FastAPI, province: TestClient, scoped: dict[str, str]
) -> None:
    browser = TestClient(app, follow_redirects=False)
    signed = browser.post("/dang-nhap", data={"ma": scoped["operator"], "tiep": "/"})
    assert signed.status_code == 303, signed.text
    page = browser.get("/").text
    assert "Tân Phong" in page and 'id="province-link"' not in page and "/chien-dich" not in page
    assert browser.get("/thon/b-thon-2").status_code == 404
    assert browser.get("/tinh").status_code == 403
    assert browser.get("/tinh/xa/hoa-binh").status_code == 403  # the cookie is not a way round
    browser.cookies.set("xa", "hoa-binh")
    assert "b-thon-" not in browser.get("/").text


# -- the province's office -------------------------------------------------------------------


def test_the_province_ranks_its_communes_and_looks_at_either(province: TestClient) -> None:
    page = province.get("/tinh", params={"ky": "2026"}).text
    assert 'data-village="tan-phong"' in page and 'data-village="hoa-binh"' in page
    assert 'href="/tinh/xa/hoa-binh"' in page
    assert "Chỉ xếp hạng xã có số liệu" in page  # the formula speaks of communes here
    picked = province.get("/tinh/xa/hoa-binh")
    assert picked.status_code == 303 and picked.headers["location"] == "/"
    province.cookies.set("xa", "hoa-binh")
    overview = province.get("/").text
    province.cookies.delete("xa")
    assert 'data-village="b-thon-1"' in overview and "a-thon-" not in overview
    assert province.get("/tinh/xa/nowhere").status_code == 404


def test_tokens_are_scoped_to_a_commune_of_the_registry(province: TestClient) -> None:
    unknown = province.post("/api/v1/tokens", json={"name": "x", "role": "viewer", "scope": "zz"})
    assert unknown.status_code == 422 and "scope: no commune 'zz'" in unknown.text
    gateway = province.post(
        "/api/v1/tokens", json={"name": "gw-9", "role": "gateway", "scope": "tan-phong"}
    )
    assert gateway.status_code == 422 and "scope:" in gateway.text
    made = province.post(
        "/api/v1/tokens", json={"name": "hoa-binh office", "role": "viewer", "scope": "hoa-binh"}
    )
    assert made.status_code == 201 and made.json()["scope"] == "hoa-binh"
    listed = {t["name"]: t["scope"] for t in province.get("/api/v1/tokens").json()}
    assert listed["hoa-binh office"] == "hoa-binh"


def test_a_communes_scores_equal_those_of_the_commune_alone(
    province: TestClient, scoped: dict[str, str], tmp_path: Path
) -> None:
    """The same readings, the same village scores: whether Tân Phong runs alone or in the
    province; the province's ranking of the communes adds their villages' parts."""
    write_province(tmp_path)
    alone = create_app(
        BackendSettings(
            data_dir=tmp_path / "alone",
            registry_file=tmp_path / "tan-phong.yaml",
            alert_quiet_hours="",
        )
    )
    window = {"start": NOW - 8 * 3600, "end": NOW - 600}
    in_province = province.get("/api/v1/scores", params=window, headers=bearer(scoped["viewer"]))
    solo = fed(alone, "a-")
    try:
        by_itself = solo.get("/api/v1/scores", params=window).json()
    finally:
        solo.__exit__(None, None, None)
    assert in_province.json() == by_itself
    assert by_itself["villages"][0]["parts"]["bin_required_s"] > 0  # not an empty comparison
    ranked = province.get("/tinh", params={"ky": "2026"}).text
    assert re.search(r'data-village="tan-phong"', ranked)


def test_a_citizens_qr_form_files_the_report_with_its_own_commune(
    app: FastAPI, province: TestClient
) -> None:
    """Both communes have a point P1: the QR code's address names the commune of the form, and
    the ticket goes to that commune's village (and to its office only)."""
    province.cookies.set("xa", "hoa-binh")
    sheet = province.get("/phieu-phan-anh/ma-qr").text
    province.cookies.delete("xa")
    assert "/phan-anh?ma=P1&amp;xa=hoa-binh" in sheet
    public = TestClient(app)  # a villager's phone: no token, no cookie
    form = public.get("/phan-anh", params={"ma": "P1", "xa": "hoa-binh"})
    assert (
        'value="b-thon-1" selected' in form.text and 'action="/phan-anh?xa=hoa-binh"' in form.text
    )
    guard: FormGuard = app.state.citizen_form
    data = {"loai": "rac", "ma": "P1", "thon": "", "noi_dung": "Thùng đầy", "sdt": "",
            "t": guard.stamp(time.time() - 10), "website": ""}  # fmt: skip
    sent = public.post("/phan-anh?xa=hoa-binh", data=data, headers={"Origin": "http://testserver"})
    assert sent.status_code == 200, sent.text
    tickets = province.get("/api/v1/tickets").json()
    assert [(t["village_id"], t["device_id"]) for t in tickets] == [("b-thon-1", "bin-b-thon-1-01")]


def test_a_province_on_either_sql_store(tmp_path: Path, sql_url: str) -> None:
    """The registry of both communes, the scoped token and what it sees, on SQLite and on
    PostgreSQL (villages.commune_id, api_tokens.scope: migration 0008)."""
    settings = BackendSettings(
        data_dir=tmp_path, registry_file=write_province(tmp_path), database_url=sql_url,
        alert_quiet_hours="", auth_failures_burst=0,
    )  # fmt: skip
    app = create_app(settings)
    client = fed(app, "a-", "b-")
    try:
        made = client.post(
            "/api/v1/tokens", json={"name": "hb", "role": "viewer", "scope": "hoa-binh"}
        ).json()
        theirs = bearer(made["token"])
        villages = client.get("/api/v1/villages", headers=theirs).json()
        assert [(v["id"], v["commune_id"]) for v in villages] == [
            ("b-thon-1", "hoa-binh"), ("b-thon-2", "hoa-binh"),
        ]  # fmt: skip
        assert "a-thon-" not in client.get("/canh-bao", headers=theirs).text
        assert client.get("/api/v1/devices", headers=theirs).status_code == 403
        ranked = client.get("/tinh", params={"ky": "2026"}).text
        assert 'data-village="tan-phong"' in ranked and 'data-village="hoa-binh"' in ranked
    finally:
        client.__exit__(None, None, None)


def test_the_command_line_scopes_a_token_to_a_commune_of_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SANGSACH_REGISTRY_FILE", str(write_province(tmp_path)))
    add = ["tokens", "add", "--name", "van-phong", "--role", "operator", "--commune"]
    unknown = CliRunner().invoke(main, [*add, "nowhere"])
    assert unknown.exit_code == 2 and "--commune: không có xã 'nowhere'" in unknown.output
    assert "tan-phong, hoa-binh" in unknown.output
    made = CliRunner().invoke(main, [*add, "hoa-binh"])
    assert made.exit_code == 0 and "chỉ xã hoa-binh" in made.output, made.output
    listed = CliRunner().invoke(main, ["tokens", "list"]).output
    assert re.search(r"van-phong +operator +xã hoa-binh", listed), listed


def test_each_commune_is_judged_by_its_own_formula_on_stored_days(
    province: TestClient, scoped: dict[str, str], app: FastAPI
) -> None:
    """Closed days are rolled up and stored for every commune's villages in one store; a
    commune's period takes the formula stored with its own villages' days, not the first one
    the store returns (Tân Phong's, whose ids sort first)."""
    made = province.post(
        "/api/v1/tokens", json={"name": "hb viewer", "role": "viewer", "scope": "hoa-binh"}
    ).json()
    today = local_midnight(local_day(NOW))
    days = {"start": today - 2 * 86_400, "end": today}  # two closed days: stored, then summed
    for secret, target in ((scoped["viewer"], 95.0), (made["token"], 80.0)):
        for _ in range(2):  # computed and stored, then read back from the store
            found = province.get("/api/v1/scores", params=days, headers=bearer(secret)).json()
            assert found["formula"]["sang_target_pct"] == target
