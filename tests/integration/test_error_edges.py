"""The backend's one exception boundary (``backend/api/errors.py``): bad periods and ids are 422
or 404 naming what was wrong, the time-series store down is 503 with ``Retry-After`` (on a real
influxd, stopped and started again), anything unexpected is a logged 500 without internals; the
API answers JSON, the pages a Vietnamese page in the site's layout.

The four URLs and the outage are those found from outside in issue 18, which answered 500."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sangsach.backend.api.errors import RETRY_AFTER_S
from sangsach.backend.api.schemas import MAX_ID
from sangsach.backend.app import create_app
from sangsach.backend.timeseries.influx import InfluxStore
from sangsach.backend.timeseries.port import TimeSeriesError, TimeSeriesUnavailable
from sangsach.config import BackendSettings
from tests.harness import ADMIN, GATEWAY
from tests.services import InfluxD

LAMP = "lamp-dong-ha-001"
VILLAGE = "dong-ha"


def _title(page: httpx.Response) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page.text)
    assert found, page.text[:300]
    return found.group(1)


def _problems(page: httpx.Response) -> list[str]:
    block = re.search(r'<ul id="error-problems">(.*?)</ul>', page.text, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1), re.S) if block else []


def _is_error_page(page: httpx.Response, status: int, title: str) -> None:
    assert page.status_code == status, page.text[:500]
    assert page.headers["content-type"].startswith("text/html")
    assert _title(page) == title
    assert '<a id="error-home" href="/">Về trang Tổng quan</a>' in page.text
    assert '<html lang="vi">' in page.text and "Traceback" not in page.text


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    """The app on SQLite, called with the admin's bearer token (pages accept it too)."""
    app = create_app(BackendSettings(data_dir=tmp_path))
    with TestClient(app, headers=ADMIN, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("/?ky=0001-H1", "0001-H1"),
        ("/?ky=9999-12-31..9999-12-31", "9999-12-31..9999-12-31"),
        (f"/thon/{VILLAGE}?ky=0001", "0001"),
    ],
)
def test_a_period_out_of_range_is_a_422_page_naming_ky(
    api: TestClient, url: str, text: str
) -> None:
    page = api.get(url)
    _is_error_page(page, 422, "Giá trị không hợp lệ")
    [problem] = _problems(page)
    assert problem.startswith(f"tham số ky trong địa chỉ: không đọc được kỳ &#39;{text}&#39;.")
    assert "Kỳ viết là 2026-06" in problem and "2000–2100" in problem


def test_a_report_file_of_year_9999_is_a_422_naming_the_period(api: TestClient) -> None:
    for suffix in ("csv", "html", "pdf"):
        page = api.get(f"/bao-cao/9999.{suffix}")
        _is_error_page(page, 422, "Giá trị không hợp lệ")
        [problem] = _problems(page)
        assert problem.startswith("phần period của đường dẫn: không đọc được kỳ &#39;9999&#39;.")
        assert "trong các năm 2000–2100" in problem


def test_an_alert_id_of_23_digits_is_a_422_and_an_unknown_one_a_404(api: TestClient) -> None:
    huge = "1" * 23
    page = api.post(f"/canh-bao/{huge}/nhan", data={"by": "văn phòng"})
    _is_error_page(page, 422, "Giá trị không hợp lệ")
    [problem] = _problems(page)
    assert problem == f"phần alert_id của đường dẫn: phải không quá {MAX_ID}"

    page = api.post("/canh-bao/7/nhan", data={"by": "văn phòng"})
    _is_error_page(page, 404, "Không tìm thấy")
    assert _problems(page) == ["không có cảnh báo số 7 đang mở"]

    answer = api.post(f"/api/v1/alerts/{huge}/ack", json={"by": "văn phòng"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["path", "alert_id"]
    answer = api.get("/api/v1/alerts/7")
    assert (answer.status_code, answer.json()) == (404, {"detail": "no alert 7"})


def test_pages_get_vietnamese_pages_and_the_api_json(api: TestClient) -> None:
    _is_error_page(api.get("/khong-co-trang-nay"), 404, "Không tìm thấy")
    page = api.get("/thon/khong-co")
    _is_error_page(page, 404, "Không tìm thấy")
    assert _problems(page) == ["không có thôn &#39;khong-co&#39;"]
    assert (api.get("/api/v1/khong-co").json(), api.get("/api/v1/khong-co").status_code) == (
        {"detail": "Not Found"},
        404,
    )

    issued = api.post("/api/v1/tokens", json={"name": "xem", "role": "viewer"}).json()["token"]
    viewer = {"Authorization": f"Bearer {issued}"}
    page = api.post("/canh-bao/1/nhan", data={"by": "x"}, headers=viewer)
    _is_error_page(page, 403, "Không được phép")
    assert "chỉ có quyền xem" in _problems(page)[0]
    assert api.post("/api/v1/alerts/1/ack", json={"by": "x"}, headers=viewer).status_code == 403

    # Not signed in, a page still sends the browser to sign in, as before.
    away = api.get("/canh-bao", headers={"Authorization": ""}, follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/dang-nhap")


def test_clerks_read_no_english_and_no_setting_names(api: TestClient) -> None:
    """The framework's own English reasons stay out of the pages, and so do the settings."""
    form = {"Content-Type": "multipart/form-data"}  # no boundary: the form cannot be read
    page = api.post("/canh-bao/1/nhan", content=b"x", headers=form)
    _is_error_page(page, 400, "Yêu cầu không hợp lệ")
    assert _problems(page) == []
    page = api.get("/", params={"tu-dong": "x"})
    _is_error_page(page, 422, "Giá trị không hợp lệ")
    assert _problems(page) == ["tham số tu-dong trong địa chỉ: phải là một số nguyên"]
    overview = api.get("/")
    assert 'id="signed-in">Mã khởi tạo (quản trị)<' in overview.text  # the bootstrap admin
    for text in (overview.text, page.text):
        assert "SANGSACH_" not in text and "Input should" not in text


def test_an_unexpected_error_is_logged_and_answered_500_without_internals(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    services = api.app.state.services  # type: ignore[attr-defined]

    def boom(*args: object, **kwargs: object) -> object:
        raise RuntimeError("secret internals at /srv/sangsach")

    monkeypatch.setattr(services.scores, "period", boom)
    with caplog.at_level(logging.ERROR, logger="sangsach.backend.api.errors"):
        page = api.get("/?ky=2026-01")
        answer = api.get("/api/v1/scores", params={"start": 1_767_200_000, "end": 1_767_300_000})

    _is_error_page(page, 500, "Lỗi máy chủ")
    assert "secret internals" not in page.text and "RuntimeError" not in page.text
    assert answer.status_code == 500
    for sent in (page, answer):  # answered outside the middleware: the headers come along
        assert sent.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in sent.headers["content-security-policy"]
    assert answer.json() == {"detail": "internal error: the backend's log has the details"}
    logged = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in logged] == [
        "unexpected error on GET /",
        "unexpected error on GET /api/v1/scores",
    ]
    assert all("secret internals" in str(r.exc_info[1]) for r in logged if r.exc_info)


# The store down: a real influxd of this module's own, stopped under a running backend.


@pytest.fixture(scope="module")
def own_influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxD]:
    server = InfluxD(tmp_path_factory.mktemp("influxd-stopped")).start()
    yield server
    server.stop()


def _reading(seq: int, ts: int) -> dict[str, object]:
    return {"id": LAMP, "kind": "lamp", "boot": 1, "seq": seq, "ts": ts, "on": True,
            "current_a": 0.2, "received_at": ts + 1.0}  # fmt: skip


def test_the_store_down_is_a_503_with_retry_after_on_api_and_pages(
    tmp_path: Path, own_influxd: InfluxD, caplog: pytest.LogCaptureFixture
) -> None:
    settings = BackendSettings(
        data_dir=tmp_path, timeseries="influxdb", influx_url=own_influxd.url, influx_db="down"
    )
    now = int(time.time())
    with TestClient(create_app(settings), headers=ADMIN) as api:
        batch = {"gateway": "gw-1", "readings": [_reading(1, now - 60)]}
        assert api.post("/api/v1/ingest", json=batch, headers=GATEWAY).status_code == 200
        own_influxd.stop()
        try:
            with caplog.at_level(logging.WARNING, logger="sangsach.backend.api.errors"):
                for url in ("/api/v1/stats", f"/api/v1/devices/{LAMP}/readings"):
                    answer = api.get(url)
                    assert answer.status_code == 503, (url, answer.text)
                    assert answer.headers["retry-after"] == str(RETRY_AFTER_S)
                    assert "unavailable" in answer.json()["detail"]
                    assert own_influxd.url not in answer.text  # the address stays in the log
                batch = {"gateway": "gw-1", "readings": [_reading(2, now - 30)]}
                answer = api.post("/api/v1/ingest", json=batch, headers=GATEWAY)
                assert (answer.status_code, answer.headers["retry-after"]) == (503, "30")
                for url in ("/", f"/thon/{VILLAGE}", "/bao-cao?ky=2026-H1", "/bao-cao/2026.csv"):
                    page = api.get(url)
                    _is_error_page(page, 503, "Tạm thời chưa đọc được số liệu")
                    assert page.headers["retry-after"] == str(RETRY_AFTER_S)
                    assert own_influxd.url not in page.text
            assert any(own_influxd.url in r.getMessage() for r in caplog.records)
        finally:
            own_influxd.start()
        # Back up: the same calls answer, and the resent batch is stored.
        assert api.post("/api/v1/ingest", json=batch, headers=GATEWAY).status_code == 200
        assert api.get("/api/v1/stats").status_code == 200
        assert len(api.get(f"/api/v1/devices/{LAMP}/readings").json()) == 2
        assert api.get(f"/thon/{VILLAGE}").status_code == 200


def test_an_influxdb_that_does_not_answer_in_time_is_unavailable() -> None:
    """A server that takes the connection and never answers (influxd hung, a dead proxy)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        accepted: list[socket.socket] = []
        threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with InfluxStore(url, "hung", timeout=0.5) as store, pytest.raises(TimeSeriesUnavailable):
            store.count()
        for conn in accepted:
            conn.close()


@pytest.mark.parametrize(
    ("reason", "transient"),
    [
        ("query engine shutdown", True),  # influxd stopping while the query ran (seen here)
        ("query interrupted", True),
        ("query-timeout limit exceeded", True),
        ("max-concurrent-queries limit exceeded(8, 8)", True),
        ("error parsing query: found X, expected SELECT", False),
    ],
)
def test_influxdb_query_errors_that_may_pass_later_are_unavailable(
    reason: str, transient: bool
) -> None:
    """InfluxDB 1.x answers such a query 200 with the reason inside (its words, as recorded)."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"results": [{"statement_id": 0, "error": reason}]})

    with InfluxStore("http://influxdb.invalid:8086", "db") as store:
        store._http = httpx.Client(  # the server's answer is recorded, not its connection
            base_url=store.url, transport=httpx.MockTransport(answer)
        )
        with pytest.raises(TimeSeriesError) as caught:
            store.count()
    assert isinstance(caught.value, TimeSeriesUnavailable) is transient
    assert reason in str(caught.value)
