"""The report as a document, on the real backend app: the printable page's parts, the PDF
(parsed back: Vietnamese text intact, A4), the reports page, and the CSV for Excel."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pypdf import PdfReader

from sangsach import formats
from sangsach.backend.app import create_app
from sangsach.backend.reports.build import CSV_COLUMNS
from sangsach.cli import main
from sangsach.config import BackendSettings
from sangsach.sun import VIETNAM
from tests.harness import ADMIN, GATEWAY
from tests.integration.test_report import REGISTRY, _readings

# The sample commune with a heading of its own; dong-ha has one lamp and one bin for 2026-06-10.
HEADED = REGISTRY + "report:\n  signer: Trần Văn Bình\n  preparer: Lê Thị Hoa\n"
A4 = (595.28, 841.89)  # points, either way round
TITLES = [c.title for c in CSV_COLUMNS]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backend's data directory with the half year's readings stored."""
    root = tmp_path_factory.mktemp("report-document")
    (root / "xa.yaml").write_text(HEADED, encoding="utf-8")
    with TestClient(create_app(_settings(root)), headers=ADMIN) as api:
        body = {"gateway": "gw-1", "readings": _readings()}
        assert api.post("/api/v1/ingest", json=body, headers=GATEWAY).status_code == 200
    return root


def _settings(root: Path) -> BackendSettings:
    return BackendSettings(data_dir=root, registry_file=root / "xa.yaml")


@pytest.fixture(scope="module")
def api(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(data_dir)), headers=ADMIN) as client:
        yield client


def _today_line() -> str:
    return formats.date_line("Chi Lăng Bắc", datetime.now(VIETNAM).date())


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_printable_page_is_a_document(api: TestClient) -> None:
    answer = api.get("/bao-cao/2026-H1.html")
    assert answer.status_code == 200
    page = answer.text
    # The security policy allows no inline style: the stylesheet is a served file.
    assert '<link rel="stylesheet" href="/static/report.css">' in page
    assert "<style" not in page and "style=" not in page and "<script" not in page
    assert "@page" in api.get("/static/report.css").text
    text = _text(page)
    for part in (
        "ỦY BAN MẶT TRẬN TỔ QUỐC VIỆT NAM XÃ CHI LĂNG BẮC BAN THƯỜNG TRỰC Số: /BC-MTTQ",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM Độc lập - Tự do - Hạnh phúc",
        _today_line(),
        "BÁO CÁO",
        "6 tháng đầu năm 2026 (01/01/2026 – 30/06/2026)",
        "Số liệu cả kỳ.",
        "Người lập biểu (Ký, ghi rõ họ tên) Lê Thị Hoa",
        "TM. BAN THƯỜNG TRỰC CHỦ TỊCH (Ký tên, đóng dấu) Trần Văn Bình",
        "Chưa xếp hạng vì không có đèn gắn cảm biến phải sáng trong kỳ: Thôn Phú Khê, ",
        "Toàn xã: đèn đo được 100,0% thời gian; thùng rác đo được 100,0% thời gian.",
    ):
        assert part in text, part
    # Per village the figures in Vietnamese, then the commune's total of the same columns.
    dong_ha = re.search(r'<tr data-village="dong-ha">(.*?)</tr>', page)
    total = re.search(r'<tr class="total" id="total">(.*?)</tr>', page)
    assert dong_ha and total
    cells = dict(re.findall(r'<td class="(\w+)">(.*?)</td>', dong_ha.group(1)))
    assert (cells["rank"], cells["sang_coverage"], cells["overflow_allowed"]) == (
        "1",
        "100,0",
        "0,5",
    )
    assert re.fullmatch(r"\d{2},\d", cells["sang_percent"]), cells  # 90,6
    assert re.fullmatch(r"\d{2},\d{2}", cells["score"]), cells  # 97,69
    summed = dict(re.findall(r'<td class="(\w+)">(.*?)</td>', total.group(1)))
    # Only dong-ha was measured: the commune's Sáng is its; the census is every village's.
    assert (summed["name"], summed["rank"], summed["score"]) == ("Toàn xã", "", "")
    assert summed["sang_percent"] == cells["sang_percent"]
    assert summed["census_percent"] not in ("", cells["census_percent"])
    assert "http" not in page.replace('href="/static/report.css"', "")


def test_the_pdf_is_a4_with_its_vietnamese_intact(api: TestClient) -> None:
    answer = api.get("/bao-cao/2026-H1.pdf")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert 'filename="bao-cao-2026-H1.pdf"' in answer.headers["content-disposition"]
    pdf = PdfReader(io.BytesIO(answer.content))
    assert 1 <= len(pdf.pages) <= 3
    for page in pdf.pages:
        size = sorted((float(page.mediabox.width), float(page.mediabox.height)))
        assert size == pytest.approx(A4, abs=0.5)
    text = " ".join(page.extract_text() for page in pdf.pages)
    for words in (
        "ỦY BAN MẶT TRẬN TỔ QUỐC VIỆT NAM XÃ CHI LĂNG BẮC",
        "Độc lập - Tự do - Hạnh phúc",
        _today_line(),
        "6 tháng đầu năm 2026 (01/01/2026 – 30/06/2026)",
        "Thôn Đông Hạ",
        "Thôn Nghĩa Xá",
        "Toàn xã",
        "Người lập biểu",
        "TM. BAN THƯỜNG TRỰC",
        "Trần Văn Bình",
    ):
        assert words in text, words
    fonts = {
        str(font["/BaseFont"])
        for page in pdf.pages
        for font in page["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    # Embedded (a subset, "ABCDEF+"), in the font with Vietnamese letters that setup.sh installs.
    assert {name.split("+")[-1].split("-")[:2] == ["DejaVu", "Sans"] for name in fonts} == {True}
    assert "Trang 1/" in text  # the page numbers, in the margin


def test_the_reports_page_in_vietnamese_with_its_total_and_links(api: TestClient) -> None:
    page = api.get("/bao-cao?ky=2026-H1").text
    assert 'href="/bao-cao/2026-H1.pdf"' in page and 'href="/bao-cao/2026-H1.html"' in page
    assert "6 tháng đầu năm 2026 (01/01/2026 – 30/06/2026)" in page
    row = re.search(r'<tr data-village="dong-ha">(.*?)</tr>', page)
    total = re.search(r'<tr id="total" class="total">(.*?)</tr>', page)
    assert row and total
    cells = dict(re.findall(r'<td class="(\w+)">(.*?)</td>', row.group(1)))
    assert (cells["sang_coverage"], cells["bin_coverage"]) == ("100,0", "100,0")
    assert "." not in cells["sang_percent"] and "," in cells["sang_percent"]
    assert "Toàn xã" in total.group(1)


def test_the_csv_opens_in_excel_with_vietnamese_settings(api: TestClient) -> None:
    raw = api.get("/bao-cao/2026-H1.csv").content
    assert raw.startswith(b"\xef\xbb\xbf"), "a UTF-8 byte-order mark"
    lines = raw.decode("utf-8-sig").splitlines()
    table = list(csv.reader(lines[: lines.index("")], delimiter=";"))
    assert table[0] == TITLES
    assert all(len(row) == len(TITLES) for row in table)
    rows = {row[0]: dict(zip(TITLES, row, strict=True)) for row in table[1:]}
    dong_ha, total = rows["dong-ha"], rows[""]
    assert total["Thôn"] == "Toàn xã" and len(rows) == 11
    assert dong_ha["Đo được – đèn (%)"] == "100,0"
    assert re.fullmatch(r"\d+,\d{2}", dong_ha["Điểm"]), dong_ha
    # Counts are numbers of their own: "0/0" would be a date to Excel.
    assert (dong_ha["Lần đầy thu gom đúng hạn"], dong_ha["Tổng số lần đầy"]) == ("0", "0")
    census = next(r for r in rows.values() if r["Hộ có thùng rác chuẩn (%)"])
    assert "," in census["Hộ có thùng rác chuẩn (%)"]


def test_report_command_writes_the_pdf(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGSACH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SANGSACH_REGISTRY_FILE", str(data_dir / "xa.yaml"))
    out = data_dir / "out"
    result = CliRunner().invoke(main, ["report", "--period", "2026-06", "--out", str(out), "--pdf"])
    assert result.exit_code == 0, result.output
    assert "bao-cao-2026-06.pdf" in result.output
    pdf = PdfReader(out / "bao-cao-2026-06.pdf")
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert "tháng 06/2026 (01/06/2026 – 30/06/2026)" in text and "Người lập biểu" in text
    # The file written stands alone: its stylesheet inline, nothing to fetch.
    html = (out / "bao-cao-2026-06.html").read_text(encoding="utf-8")
    assert "<style>" in html and "@page" in html and "<link" not in html
