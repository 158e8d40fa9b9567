"""The built-in pages in a real Chromium (Debian's, driven by Playwright) against a real backend:
sign-in with a token, they render in Vietnamese, their numbers match the API, and acknowledging
works."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright
from pypdf import PdfReader

from sangsach.backend.reports.period import parse_period
from sangsach.localbroker import LocalBroker
from tests.harness import GATEWAY, WEBHOOK, Stack

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: scripts/setup.sh --test installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def stack(tmp_path: Path, broker: LocalBroker) -> Iterator[Stack]:
    running = Stack(tmp_path / "stack", broker.port, {"SANGSACH_ALERT_QUIET_HOURS": ""})
    running.start_backend()
    now = int(time.time())
    readings = [
        {"id": "bin-dong-ha-01", "kind": "bin", "boot": 1, "seq": 0, "ts": now - 1200,
         "fill_pct": 40.0, "battery_v": 3.9, "received_at": now - 1199.0},
        {"id": "bin-dong-ha-01", "kind": "bin", "boot": 1, "seq": 1, "ts": now - 600,
         "fill_pct": 86.0, "battery_v": 3.9, "received_at": now - 599.0},
        {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": 0, "ts": now - 300,
         "on": True, "current_a": 0.18, "received_at": now - 299.0},
    ]  # fmt: skip
    body = {"gateway": "gw-1", "readings": readings}
    running.http.post("/api/v1/ingest", json=body, headers=GATEWAY).raise_for_status()
    yield running
    running.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(browser: Browser, stack: Stack) -> tuple[BrowserContext, Page]:
    """An operator token issued through the API, typed into the sign-in page."""
    issued = stack.http.post("/api/v1/tokens", json={"name": "Văn phòng xã", "role": "operator"})
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # the office's screen
    page = context.new_page()
    page.goto(stack.url + "/canh-bao")
    assert page.url.startswith(stack.url + "/dang-nhap")  # not signed in: sent to sign in
    assert page.locator("h1").inner_text() == "Đăng nhập"
    shot(page, "dang-nhap")
    page.fill('input[name="ma"]', "không-phải-mã")
    page.get_by_role("button", name="Đăng nhập").click()
    assert "Mã truy cập không đúng" in page.locator("#login-error").inner_text()
    page.fill('input[name="ma"]', issued.raise_for_status().json()["token"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(stack.url + "/canh-bao")  # back where it was going
    assert page.locator("#signed-in").inner_text() == "Văn phòng xã (xử lý)"
    [cookie] = context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == (
        "sangsach_phien",
        True,
        "Lax",
    )
    return context, page


def test_pages_render_match_the_api_and_acknowledge_works(browser: Browser, stack: Stack) -> None:
    context, page = sign_in(browser, stack)
    blocked: list[str] = []  # what the security policy refused, reported by Chromium
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)  # fmt: skip
    page.goto(stack.url + "/")
    assert page.locator("h1").inner_text() == "Tổng quan Sáng – Sạch"
    assert page.locator("#scores tbody tr").count() == 10
    # The overview opens on this month to date, as its picker says.
    month = page.locator('select[name="ky"]').input_value()
    assert month == time.strftime("%Y-%m", time.gmtime(time.time() + 7 * 3600))
    period = parse_period(month)
    bounds = {"start": period.start, "end": period.end}
    api = stack.http.get("/api/v1/scores", params=bounds).json()
    assert api["in_progress"] is True
    assert page.locator("#status").inner_text().startswith("Tạm tính đến ")
    dong_ha = next(v for v in api["villages"] if v["village_id"] == "dong-ha")
    row = page.locator('#scores tr[data-village="dong-ha"]')
    census = dong_ha["census"]["value"]
    assert row.locator("td.coverage").inner_text() == f"{census:.1f}".replace(".", ",")
    assert row.locator("td.alerts").inner_text() == "1"
    assert row.locator("td.sang-meets").inner_text() == dong_ha["sang"]["verdict_vi"]
    assert row.locator("td.sach-meets").inner_text() == dong_ha["sach_vi"]
    assert page.locator("#device-map circle").count() == 380
    dot = page.locator("#device-map circle")
    assert (
        dot.and_(page.locator('[data-device="bin-dong-ha-01"]')).get_attribute("data-state")
        == "bin_full"
    )
    assert (
        dot.and_(page.locator('[data-device="lamp-dong-ha-001"]')).get_attribute("data-state")
        == "lit"
    )
    assert (
        dot.and_(page.locator('[data-device="lamp-dong-ha-002"]')).get_attribute("data-state")
        == "never"
    )
    # each village's name on the map, inside the drawing, over its own devices
    names = page.locator("#device-map text.map-label")
    assert names.count() == 10
    drawing = page.locator("#device-map").bounding_box()
    name = names.and_(page.locator('[data-village="dong-ha"]'))
    box = name.bounding_box()
    assert name.text_content() == "Thôn Đông Hạ" and drawing is not None and box is not None
    assert drawing["x"] <= box["x"] and box["x"] + box["width"] <= drawing["x"] + drawing["width"]
    lamp = dot.and_(page.locator('[data-device="lamp-dong-ha-001"]')).bounding_box()
    assert lamp is not None and box["x"] - 80 <= lamp["x"] <= box["x"] + box["width"] + 80
    shot(page, "tong-quan")

    page.goto(stack.url + "/thon/dong-ha")
    assert page.locator("h1").inner_text() == "Thôn Đông Hạ"
    assert page.locator("#lamps tbody tr").count() == 32
    assert page.locator('#bins tr[data-device="bin-dong-ha-01"] td.fill').inner_text() == "86,0"
    assert "Đèn đang sáng" in page.locator('#lamps tr[data-device="lamp-dong-ha-001"]').inner_text()
    shot(page, "thon-dong-ha")

    page.goto(stack.url + "/canh-bao")
    [alert] = stack.http.get("/api/v1/alerts", params={"active": True}).json()
    row = page.locator(f'#alerts [data-alert="{alert["id"]}"]')
    assert "Thùng rác đầy" in row.inner_text()
    shot(page, "canh-bao")
    row.get_by_role("button", name="Nhận xử lý").click()
    page.wait_for_url(f"{stack.url}/canh-bao?da=nhan&ma={alert['id']}*")
    assert page.locator("#notice").inner_text() == f"Đã nhận xử lý cảnh báo {alert['id']}."
    assert "Đã nhận" in page.locator(f'#alerts [data-alert="{alert["id"]}"] .state').inner_text()
    acked = stack.http.get(f"/api/v1/alerts/{alert['id']}").json()
    assert (acked["state"], acked["acked_by"]) == ("active_acknowledged", "Văn phòng xã")
    # the crew texts "XONG": the reply and the answer sent back, on the alert and in the history
    crew = {"from": "0912000181", "text": f"XONG {alert['id']}"}
    stack.http.post("/api/v1/sms/inbound", json=crew, headers=WEBHOOK).raise_for_status()
    page.reload()
    replies = page.locator(f'#alerts [data-alert="{alert["id"]}"] .replies').inner_text()
    assert f"Đã trả lời: Da ghi nhan XONG {alert['id']}. Cam on." in replies
    page.get_by_role("link", name="Lịch sử cảnh báo").click()
    page.wait_for_url(stack.url + "/canh-bao/lich-su")
    done = page.locator(f'#history tr[data-alert="{alert["id"]}"] td.done').inner_text()
    assert "Nguyễn Văn Tâm" in done
    shot(page, "lich-su-canh-bao")

    page.goto(stack.url + "/bao-cao")
    period = parse_period(page.locator('select[name="ky"]').input_value())
    bounds = {"start": period.start, "end": period.end}
    body = stack.http.get("/api/v1/scores", params=bounds).json()
    assert page.locator("#report tbody tr").count() == 10
    shown = [r.get_attribute("data-village") for r in page.locator("#report tbody tr").all()]
    ranked = [row["village_id"] for row in body["ranking"]]
    assert shown[: len(ranked)] == ranked  # the ranked first, in rank order, then the others
    assert set(shown[len(ranked) :]) == {row["village_id"] for row in body["unranked"]}
    shot(page, "bao-cao")
    picks_a_period_and_prints_it(page, "bao-cao-thang-truoc")
    assert blocked == []

    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url(stack.url + "/dang-nhap")
    assert context.cookies() == []
    page.goto(stack.url + "/bao-cao")
    assert page.url.startswith(stack.url + "/dang-nhap")
    context.close()


def picks_a_period_and_prints_it(page: Page, name: str) -> None:
    """On the reports page: the picker's script (a file: no inline script is allowed) opens the
    chosen period, and "Tải PDF" gives that period's A4 document, in Vietnamese, with every
    village, the commune's total and the signatures."""
    chosen = page.locator('select[name="ky"] option').nth(1).get_attribute("value")
    assert chosen is not None
    page.locator('select[name="ky"]').select_option(chosen)
    page.wait_for_url(f"**/bao-cao?ky={chosen}")
    assert fits(page)
    shot(page, name)
    with page.expect_download() as download:
        page.locator("#pdf").click()
    assert download.value.suggested_filename == f"bao-cao-{chosen}.pdf"
    pdf = PdfReader(download.value.path())
    assert len(pdf.pages) >= 1
    for sheet in pdf.pages:
        size = sorted((float(sheet.mediabox.width), float(sheet.mediabox.height)))
        assert size == pytest.approx([595.28, 841.89], abs=0.5)
    text = "".join(sheet.extract_text() for sheet in pdf.pages)
    assert parse_period(chosen).title in text and "Toàn xã" in text, text[:500]
    assert "Đông Hạ" in text and "Người lập biểu" in text and "TM. BAN THƯỜNG TRỰC" in text


# What a clerk opens, signed in, besides the sign-in page: every page and an error page.
SIGNED_IN_PAGES = {
    "tong-quan": "/",
    "thon": "/thon/dong-ha",
    "canh-bao": "/canh-bao",
    "bao-cao": "/bao-cao",
    "bao-cao-ban-in": "/bao-cao/2026-H1.html",  # the printable report: its tables scroll on a phone
    "thiet-bi": "/thiet-bi",
    "thiet-bi-den": "/thiet-bi/lamp-dong-ha-001",
    "lich-su-canh-bao": "/canh-bao/lich-su",
    "thu-gom": "/thu-gom",  # every crew's work list of the day
    "lich": "/lich",
    "chien-dich": "/chien-dich",  # Green Sundays and clean-up days, with the office's form
    "mot-canh-bao": "/canh-bao/1",  # the bin alert of the stack fixture
    "loi-404": "/thon/khong-co",
    "loi-422": "/?ky=0001-H1",
}
AXE_REFUSED = {"serious", "critical"}  # axe-core's two highest impacts


def screen_problems(page: Page, name: str, width: int) -> list[str]:
    """What keeps a page from being read at ``width``: the page wider than the screen (a wide
    table may scroll in its own box), and axe-core's serious or critical violations."""
    found = []
    over = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if over > 0:
        found.append(f"{name} @{width}px: {over}px wider than the screen")
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in AXE_REFUSED:
            where = [" ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{name} @{width}px: {violation['id']} ({violation['impact']}) {where}")
    shot(page, f"{name}-{width}")
    return found


@pytest.mark.parametrize("width", [1280, 390, 360])
def test_every_page_fits_a_phone_and_passes_axe(browser: Browser, stack: Stack, width: int) -> None:
    issued = stack.http.post("/api/v1/tokens", json={"name": "Trưởng thôn", "role": "operator"})
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(stack.url + "/dang-nhap")
    problems = screen_problems(page, "dang-nhap", width)
    page.fill('input[name="ma"]', issued.raise_for_status().json()["token"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(stack.url + "/")
    [alert] = stack.http.get("/api/v1/alerts", params={"active": True}).json()
    pages = {**SIGNED_IN_PAGES, "mot-canh-bao": f"/canh-bao/{alert['id']}"}
    for name, path in pages.items():
        page.goto(stack.url + path)
        problems += screen_problems(page, name, width)
    assert problems == []

    # the header's links wrap onto the screen rather than off it
    for link in page.locator("header a").all():
        box = link.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width, link.inner_text()
    # the alert's action is reachable on the phone: pressing it acknowledges
    page.goto(stack.url + "/canh-bao")
    page.locator(f'[data-alert="{alert["id"]}"]').get_by_role("button", name="Nhận xử lý").click()
    page.wait_for_load_state()
    acked = stack.http.get(f"/api/v1/alerts/{alert['id']}").json()
    assert acked["state"] == "active_acknowledged"
    context.close()


def test_the_api_docs_work_offline_and_the_wall_screen_refreshes(
    browser: Browser, stack: Stack
) -> None:
    context = browser.new_context()
    outside: list[str] = []  # any request to another site: refused, as without internet

    def local_only(route: Route) -> None:
        if route.request.url.startswith(stack.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(stack.url + "/docs")
    assert "sangsach" in page.locator(".swagger-ui .info .title").inner_text(timeout=15_000)
    assert page.locator(".swagger-ui .opblock").count() > 10  # the operations, from openapi.json
    page.goto(stack.url + "/redoc")
    assert "sangsach" in page.locator("h1").first.inner_text(timeout=15_000)
    shot(page, "redoc")
    # ReDoc's "API docs by Redocly" logo is an image from its CDN: the policy stops it, and only it
    assert outside == []
    assert [e for e in errors if "cdn.redoc.ly" not in e] == []

    # the icon browsers ask for by themselves is there, without signing in
    icon = httpx.get(stack.url + "/favicon.ico", follow_redirects=False)
    assert (icon.status_code, icon.headers["content-type"]) == (200, "image/svg+xml")
    # the wall screen: the overview reloads itself when asked, within bounds
    wall = stack.http.get("/", params={"tu-dong": 60})
    assert '<meta http-equiv="refresh" content="60">' in wall.text
    assert '<body class="wall">' in wall.text  # larger type, read from across the room
    desk = stack.http.get("/").text
    assert 'http-equiv="refresh"' not in desk and 'class="wall"' not in desk
    assert stack.http.get("/", params={"tu-dong": 5}).status_code == 422
    context.close()


def fits(page: Page) -> bool:
    """No sideways scrolling of the page itself (a wide table scrolls in its own box)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("width", [1280, 390])
def test_a_clerk_enters_a_census_on_the_village_page(
    browser: Browser, stack: Stack, width: int
) -> None:
    issued = stack.http.post("/api/v1/tokens", json={"name": "Văn phòng", "role": "operator"})
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)  # fmt: skip
    page.goto(stack.url + "/thon/dong-ha")
    page.fill('input[name="ma"]', issued.raise_for_status().json()["token"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(stack.url + "/thon/dong-ha")

    # a slip first: more main-road households than households
    form = page.locator("#census-form")
    form.get_by_label("Tổng số hộ").fill("150")
    form.get_by_label("Số hộ ven trục đường chính", exact=True).fill("200")
    form.get_by_label("Số hộ ven trục đường chính có thùng rác đạt chuẩn").fill("150")
    form.get_by_label("Người nhập").fill("Chị Lan, văn phòng xã")
    form.get_by_role("button", name="Lưu số liệu điều tra").click()
    errors = page.locator("#census-errors")
    assert "Số hộ ven trục đường chính (200) không được lớn hơn tổng số hộ (150)." in (
        errors.inner_text()
    )
    assert page.locator("#census-main_road_households").get_attribute("aria-invalid") == "true"
    assert page.locator("#census-households").input_value() == "150"  # what was typed stays
    assert screen_problems(page, "dieu-tra-loi", width) == []

    # corrected, in force from yesterday
    yesterday = time.gmtime(time.time() + 7 * 3600 - 86_400)
    form.get_by_label("Tổng số hộ").fill("450")
    shown = time.strftime("%d/%m/%Y", yesterday)
    form.get_by_label("Áp dụng từ ngày").fill(shown)
    form.get_by_role("button", name="Lưu số liệu điều tra").click()
    page.wait_for_url(lambda url: "da_luu=" in url)
    assert page.locator("#census-saved").inner_text() == f"Đã lưu số liệu điều tra ngày {shown}."
    latest = page.locator("#census-history tbody tr").first.inner_text()
    assert f"{shown} (đang áp dụng)" in latest and "Chị Lan, văn phòng xã" in latest
    assert "450 hộ; 200 hộ ven trục đường chính" in page.locator("#census-now").inner_text()
    api = next(c for c in stack.http.get("/api/v1/census").json() if c["village_id"] == "dong-ha")
    assert (api["households"], api["main_road_standard_bins"], api["source"]) == (450, 150, "api")
    for field in page.locator("#census-form input:visible").all():  # stacked, on the screen
        box = field.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    assert fits(page)
    page.locator("#dieu-tra").scroll_into_view_if_needed()
    shot(page, f"dieu-tra-{width}")

    # the devices, then one device's readings, from the header's link
    page.get_by_role("link", name="Thiết bị", exact=True).click()
    page.wait_for_url(stack.url + "/thiet-bi")
    assert page.locator("#devices tbody tr").count() == 380
    assert fits(page)
    page.locator("#device-filters select[name=thon]").select_option("dong-ha")
    page.locator("#device-filters").get_by_role("button", name="Lọc").click()
    page.wait_for_url("**/thiet-bi?thon=dong-ha*")
    assert page.locator("#devices tbody tr").count() == 41
    shot(page, f"thiet-bi-dong-ha-{width}")  # the axe test keeps thiet-bi-{width}, unfiltered
    page.locator("#devices").get_by_role("link", name="bin-dong-ha-01").click()
    page.wait_for_url(stack.url + "/thiet-bi/bin-dong-ha-01")
    assert page.locator("#readings tbody tr").count() == 2
    assert page.locator("#readings tbody tr").first.locator("td").nth(1).inner_text() == "86,0"
    assert "Tốt (3,90 V)" in page.locator("#device-facts").inner_text()
    assert fits(page)
    shot(page, f"thiet-bi-bin-dong-ha-01-{width}")
    assert blocked == []
    context.close()


def test_a_clerk_on_a_phone_acknowledges_reads_the_crews_reply_and_the_history(
    browser: Browser, stack: Stack
) -> None:
    """At 390 px: the button on screen, the notice after it, the crew's "XONG" and the answer
    SMS on the alert, the history filtered by type, then a period's report printed."""
    issued = stack.http.post("/api/v1/tokens", json={"name": "Chị Lan", "role": "operator"})
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(stack.url + "/canh-bao")
    page.fill('input[name="ma"]', issued.raise_for_status().json()["token"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(stack.url + "/canh-bao")
    [alert] = stack.http.get("/api/v1/alerts", params={"active": True}).json()
    code = alert["id"]
    card = page.locator(f'#alerts [data-alert="{code}"]')
    assert "Điểm tập kết số 1, Thôn Đông Hạ" in card.inner_text()
    assert "Nguyễn Văn Tâm (Tổ thu gom rác số 1 · 0912000181)" in card.inner_text()  # texted
    button = card.get_by_role("button", name="Nhận xử lý")
    box = button.bounding_box()
    assert button.is_visible() and box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # on the screen, not off to the side
    assert fits(page)
    shot(page, "canh-bao-390")
    button.click()
    page.wait_for_url(f"{stack.url}/canh-bao?da=nhan&ma={code}*")
    assert page.locator("#notice").inner_text() == f"Đã nhận xử lý cảnh báo {code}."
    assert "Đã nhận: Chị Lan" in card.inner_text()
    shot(page, "canh-bao-da-nhan-390")

    # The crew texts "XONG": the reply and the answer sent back show on the alert.
    crew = {"from": "0912000181", "text": f"XONG {code}"}
    stack.http.post("/api/v1/sms/inbound", json=crew, headers=WEBHOOK).raise_for_status()
    page.reload()
    replies = card.locator(".replies")
    assert f"XONG {code}, báo xong" in replies.inner_text()
    assert f"Đã trả lời: Da ghi nhan XONG {code}. Cam on." in replies.inner_text()
    assert "Báo xong: Nguyễn Văn Tâm" in card.inner_text()
    assert "Chờ thiết bị xác nhận hết lỗi" in card.inner_text()
    assert fits(page)
    shot(page, "canh-bao-tra-loi-390")

    page.get_by_role("link", name="Lịch sử cảnh báo").click()
    page.wait_for_url(stack.url + "/canh-bao/lich-su")
    assert page.locator(f'#history tr[data-alert="{code}"]').count() == 1
    page.get_by_label("Loại", exact=True).select_option("fire")
    page.get_by_role("button", name="Lọc").click()
    page.wait_for_url("**/canh-bao/lich-su?*loai=fire*")
    assert page.locator("#history tr[data-alert]").count() == 0
    page.get_by_label("Loại", exact=True).select_option("bin_full")
    page.get_by_role("button", name="Lọc").click()
    row = page.locator(f'#history tr[data-alert="{code}"]')
    assert "Nguyễn Văn Tâm" in row.locator("td.done").inner_text()
    assert fits(page)
    shot(page, "lich-su-canh-bao-390")
    row.get_by_role("link", name=str(code), exact=True).click()
    page.wait_for_url(f"{stack.url}/canh-bao/{code}")
    assert f"Da ghi nhan XONG {code}. Cam on." in page.locator(".replies").inner_text()

    page.get_by_role("link", name="Báo cáo", exact=True).click()
    page.wait_for_url(stack.url + "/bao-cao")
    picks_a_period_and_prints_it(page, "bao-cao-thang-truoc-390")
    context.close()


# the desk and the narrowest phone; at 390 px the page is checked with every page above
@pytest.mark.parametrize("width", [1280, 360])
def test_the_office_records_corrects_and_deletes_a_campaign(
    browser: Browser, stack: Stack, width: int
) -> None:
    """The campaigns page's form on a phone and a desk: a slip named field by field, then kept,
    shown on the page and the village's, corrected and deleted."""
    issued = stack.http.post("/api/v1/tokens", json={"name": "Chị Hoa", "role": "operator"})
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)  # fmt: skip
    page.goto(stack.url + "/chien-dich")
    page.fill('input[name="ma"]', issued.raise_for_status().json()["token"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(stack.url + "/chien-dich")
    assert page.locator("#no-campaigns").is_visible()

    # a slip: another kind without a name, a day that is not one, no village
    form = page.locator("#campaign-form")
    form.get_by_label("Loại hoạt động", exact=True).select_option("other")
    form.get_by_label("Đến ngày").fill("32/12/2026")
    form.get_by_role("button", name="Lưu đợt này").click()
    errors = page.locator("#campaign-errors").inner_text()
    assert "Tên hoạt động: cần ghi tên cho loại “Hoạt động khác”." in errors
    assert "Đến ngày: “32/12/2026” không phải là một ngày" in errors
    assert "Thôn tham gia: chọn ít nhất một thôn, hoặc chọn “Cả xã”." in errors
    assert page.locator("#campaign-name").get_attribute("aria-invalid") == "true"
    assert screen_problems(page, "chien-dich-loi", width) == []

    form.get_by_label("Tên hoạt động").fill("Ra quân dọn rác sau lũ")
    form.get_by_label("Đến ngày").fill("")
    form.get_by_label("Thôn Đông Hạ", exact=True).check()
    form.get_by_label("Thôn Phú Khê", exact=True).check()
    form.get_by_label("Số người tham gia").fill("85")
    for box in page.locator("#campaign-form input:visible, #campaign-form button").all():
        where = box.bounding_box()  # on the screen, not off to the side
        assert where is not None and where["x"] + where["width"] <= width
    form.get_by_role("button", name="Lưu đợt này").click()
    page.wait_for_url(lambda url: "da_luu=" in url)
    assert (
        page.locator("#campaign-saved")
        .inner_text()
        .startswith("Đã lưu đợt “Ra quân dọn rác sau lũ” (")
    )
    [kept] = stack.http.get("/api/v1/campaigns").json()
    assert (kept["kind"], kept["villages"], kept["participants"]) == (
        "other", ["dong-ha", "phu-khe"], 85,
    )  # fmt: skip
    assert kept["entered_by"] == "Chị Hoa"
    row = page.locator(f'#campaigns tr[data-campaign="{kept["id"]}"]')
    assert "Thôn Đông Hạ, Thôn Phú Khê" in row.inner_text()
    assert page.locator('#campaign-counts tr[data-village="dong-ha"] td.count').inner_text() == "1"
    assert fits(page)
    shot(page, f"chien-dich-da-luu-{width}")

    # on the village page, for the year
    year = kept["first_day"][:4]
    page.goto(f"{stack.url}/thon/phu-khe?ky={year}")
    assert "Ra quân dọn rác sau lũ" in page.locator("#village-campaigns").inner_text()

    # corrected from its row, then deleted
    page.goto(f"{stack.url}/chien-dich?ky={year}")
    row.get_by_role("link", name="Sửa").click()
    page.wait_for_url(lambda url: f"sua={kept['id']}" in url)
    assert page.locator("#campaign-participants").input_value() == "85"
    page.locator("#campaign-participants").fill("90")
    page.get_by_role("button", name="Lưu sửa đổi").click()
    page.wait_for_url(lambda url: "da_luu=" in url)
    assert stack.http.get(f"/api/v1/campaigns/{kept['id']}").json()["participants"] == 90
    row.get_by_role("link", name="Sửa").click()
    page.get_by_role("button", name=f"Xóa đợt số {kept['id']}").click()
    page.wait_for_url(lambda url: "da_xoa=" in url)
    assert page.locator("#campaign-saved").inner_text() == f"Đã xóa đợt số {kept['id']}."
    assert stack.http.get("/api/v1/campaigns").json() == []
    assert blocked == []
    context.close()
