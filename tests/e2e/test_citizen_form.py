"""The citizens' report form in a real Chromium on a 360 px phone, against the backend run as a
process with the stand-in carrier: opened from a QR code's address, filled in without
JavaScript, a receipt with the ticket's number, the acknowledgement SMS at the carrier; then the
office closes the ticket on its page and prints the QR sheet. Every page fits the screen and
passes axe-core."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from sangsach.localbroker import LocalBroker
from tests.carrier import Carrier
from tests.e2e.test_web_pages import browser, screen_problems
from tests.harness import Stack, wait_until

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the Chromium fixture, shared with the pages' test

PHONE = "+84987000360"


@pytest.fixture
def stack(tmp_path: Path, broker: LocalBroker, carrier: Carrier) -> Iterator[Stack]:
    env = {"SANGSACH_ALERT_QUIET_HOURS": "", "SANGSACH_SMS_PROVIDER": "http",
           "SANGSACH_SMS_HTTP_URL": carrier.url}  # fmt: skip
    running = Stack(tmp_path / "stack", broker.port, env)
    running.start_backend()
    yield running
    running.close()


def texts_to(carrier: Carrier, phone: str) -> list[str]:
    with carrier.lock:
        keys = sorted(carrier.payloads, key=carrier.arrived_at.__getitem__)
        return [carrier.payloads[k]["text"] for k in keys if carrier.payloads[k]["to"] == phone]


def test_a_villager_reports_from_a_360_px_phone_and_the_office_closes_it(
    browser: Browser, stack: Stack, carrier: Carrier
) -> None:
    width = 360
    # a basic phone's browser: no JavaScript at all
    phone = browser.new_context(viewport={"width": width, "height": 740}, java_script_enabled=False)
    page = phone.new_page()
    page.goto(stack.url + "/phan-anh?ma=p2")  # the QR code's address, the code typed loosely
    assert page.locator("h1").inner_text() == "Phản ánh về đèn đường, rác thải"
    assert page.locator("#f-ma").input_value() == "P2"
    assert page.locator("#f-thon").input_value() == "dong-ha"
    page.fill("#f-noi_dung", "Thùng rác đầy tràn ra đường")
    page.fill("#f-sdt", "0987 000 360")
    page.wait_for_timeout(3200)  # a person takes a few seconds: the form refuses a script's haste
    page.get_by_role("button", name="Gửi phản ánh").click()
    page.wait_for_load_state()
    number = page.locator("#ticket-number").inner_text()
    assert re.fullmatch(r"#[0-9]+", number), page.content()
    wait_until(lambda: len(texts_to(carrier, PHONE)) == 1, 15, "the acknowledgement SMS")
    assert texts_to(carrier, PHONE)[0].startswith(f"Da nhan phan anh {number} ve diem P2")
    phone.close()

    # the same at 360 px with axe-core (which needs JavaScript to run): the form, a slip named
    # on the form itself with the values kept, and the receipt
    checked = browser.new_context(viewport={"width": width, "height": 740})
    page = checked.new_page()
    page.goto(stack.url + "/phan-anh")
    problems = screen_problems(page, "phan-anh", width)
    page.fill("#f-ma", "Z9")
    page.fill("#f-noi_dung", "Đèn tắt")
    page.wait_for_timeout(3200)
    page.get_by_role("button", name="Gửi phản ánh").click()
    page.wait_for_load_state()
    assert "không có mã Z9" in page.locator("#form-errors").inner_text()
    assert page.locator("#f-ma").get_attribute("aria-invalid") == "true"
    assert page.locator("#f-noi_dung").input_value() == "Đèn tắt"
    problems += screen_problems(page, "phan-anh-loi", width)
    page.fill("#f-ma", "D7")
    page.wait_for_timeout(3200)
    page.get_by_role("button", name="Gửi phản ánh").click()
    page.wait_for_load_state()
    assert "cột đèn D7" in page.locator("#receipt").inner_text()
    problems += screen_problems(page, "phan-anh-da-nhan", width)
    checked.close()

    issued = stack.http.post("/api/v1/tokens", json={"name": "Văn phòng xã", "role": "operator"})
    office = browser.new_context(viewport={"width": width, "height": 740})
    page = office.new_page()
    page.goto(stack.url + "/phieu-phan-anh")
    page.fill('input[name="ma"]', issued.raise_for_status().json()["token"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(stack.url + "/phieu-phan-anh")
    problems += screen_problems(page, "phieu-phan-anh", width)
    row = page.locator(f'[data-ticket="{number[1:]}"]')
    row.locator('input[name="ghi_chu"]').fill("Đã thu gom")
    row.get_by_role("button", name="Đóng phiếu").click()
    page.wait_for_load_state()
    assert page.locator(f'[data-ticket="{number[1:]}"]').count() == 0  # no longer open
    wait_until(lambda: len(texts_to(carrier, PHONE)) == 2, 15, "the closing SMS")
    assert texts_to(carrier, PHONE)[1].startswith(f"Phan anh {number} ve diem P2")
    page.goto(stack.url + "/phieu-phan-anh/ma-qr?thon=dong-ha")
    assert page.locator('.qr-card[data-code="P2"] svg').count() == 2  # P2's two bins
    problems += screen_problems(page, "ma-qr", width)
    office.close()
    assert problems == []
