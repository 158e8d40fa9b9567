"""The report command: CSV and printable HTML in Vietnamese, from the backend's own data."""

from __future__ import annotations

import csv
import io
import time
from datetime import date, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from sangsach import formats
from sangsach.backend.app import create_app
from sangsach.backend.reports.build import (
    CAMPAIGN_CSV_TITLES,
    CAMPAIGNS_TITLE,
    CSV_COLUMNS,
    NO_CAMPAIGNS,
    NO_ROUNDS,
)
from sangsach.backend.reports.period import PeriodError, parse_period
from sangsach.backend.scores.days import local_midnight
from sangsach.backend.services import bootstrap
from sangsach.cli import main
from sangsach.config import DEV_INGEST_TOKEN, BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY, parse_registry
from sangsach.sun import VIETNAM, dusk_dawn
from tests.harness import ADMIN

# The sample commune, with one lamp and one bin of dong-ha installed for 2026-06-10 only: the
# half year's required time of dong-ha is that day's. Every other device counts from its first
# reading, and none is heard in the half year.
REGISTRY = (
    SAMPLE_REGISTRY.read_text(encoding="utf-8")
    .replace(
        "{id: lamp-dong-ha-001,",
        "{id: lamp-dong-ha-001, installed: 2026-06-10, removed: 2026-06-11,",
    )
    .replace(
        "{id: bin-dong-ha-01,", "{id: bin-dong-ha-01, installed: 2026-06-10, removed: 2026-06-11,"
    )
)
COMMUNE = parse_registry(REGISTRY)
DAY = date(2026, 6, 10)
START, END = local_midnight(DAY), local_midnight(date(2026, 6, 11))
HOUR = 3600
TOKEN = {"Authorization": f"Bearer {DEV_INGEST_TOKEN}"}
TITLES = [c.title for c in CSV_COLUMNS]


def test_periods_are_local_half_years_and_years() -> None:
    h1 = parse_period("2026-H1")
    assert (h1.start, h1.end) == (1767200400, 1782838800)  # 2026-01-01 and 07-01, 00:00 UTC+7
    assert parse_period("2026").end == parse_period("2026-H2").end
    assert parse_period("2026-H2").title == "6 tháng cuối năm 2026"
    with pytest.raises(PeriodError, match="expected YYYY-MM, YYYY-H1, YYYY-H2 or YYYY"):
        parse_period("2026-Q3")


def _night(day: date) -> tuple[int, int]:
    dusk, dawn = dusk_dawn(COMMUNE.commune.latitude, COMMUNE.commune.longitude, day)
    return int(dusk.timestamp()), int(dawn.timestamp())


def _readings() -> list[dict[str, Any]]:
    """2026-06-10: lamp-dong-ha-001 lit whenever it must be (switched on at the last reading
    before sunset), but for one dark hour after sunset; bin-dong-ha-01 at 40 % all day, read
    every hour."""
    _, sunrise = _night(date(2026, 6, 9))  # the morning of the day
    sunset, _ = _night(DAY)
    out = []
    for seq, ts in enumerate(range(START - 600, END + 600, 300)):
        required = ts < sunrise or ts > sunset - 300
        dark = sunset + 2 * HOUR <= ts < sunset + 3 * HOUR
        on = required and not dark
        out.append({"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": seq, "ts": ts,
                    "on": on, "current_a": 0.18 if on else 0.0, "received_at": ts + 0.5})  # fmt: skip
    for seq, ts in enumerate(range(START - HOUR, END + HOUR, HOUR)):
        out.append({"id": "bin-dong-ha-01", "kind": "bin", "boot": 1, "seq": seq, "ts": ts,
                    "fill_pct": 40.0, "battery_v": 3.9, "received_at": ts + 1.0})  # fmt: skip
    return out


def _report(period: str, out: Path) -> tuple[list[list[str]], str, str]:
    """The CSV's table, its raw text and the printable page."""
    result = CliRunner().invoke(main, ["report", "--period", period, "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / f"bao-cao-{period}.csv").read_text(encoding="utf-8")
    page = (out / f"bao-cao-{period}.html").read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    return table, text, page


def test_report_of_a_half_year(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tmp_path / "xa.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    settings = BackendSettings(data_dir=tmp_path, registry_file=registry)
    with TestClient(create_app(settings), headers=ADMIN) as api:
        body = {"gateway": "gw-1", "readings": _readings()}
        assert api.post("/api/v1/ingest", json=body, headers=TOKEN).status_code == 200
        # a Green Sunday of dong-ha: counted beside the indicators, not in the score
        sunday = {"first_day": "2026-06-14", "villages": ["dong-ha"], "participants": 85}
        assert api.post("/api/v1/campaigns", json=sunday).status_code == 201

    monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SANGSACH_REGISTRY_FILE", str(registry))
    table, text, page = _report("2026-H1", tmp_path / "out")
    assert text.startswith("\ufeff"), "a BOM, for Excel on Windows"
    header, villages, total, tail = table[0], table[1:11], table[11], table[12:]
    assert total[:2] == ["", "Toàn xã"]
    assert header == TITLES
    rows = [dict(zip(header, row, strict=True)) for row in villages]
    assert [row["Mã thôn"] for row in rows[1:]] == [v.id for v in COMMUNE.villages[1:]]
    # the period's campaigns, then the status, then the formula
    listed = ["14/06/2026", "14/06/2026", "Chủ nhật xanh", "Chủ nhật xanh", "Thôn Đông Hạ", "85"]
    assert tail[:4] == [[], [CAMPAIGNS_TITLE], list(CAMPAIGN_CSV_TITLES), [*listed, ""]]
    assert tail[4:] == [[], ["Số liệu cả kỳ."], [tail[6][0]]]
    assert tail[6][0].startswith("Điểm = 50 × Sáng + 50 × trung bình các chỉ tiêu Sạch")

    # By hand. Required: the lamp's morning (00:00 to sunrise) and evening (sunset to 24:00).
    _, sunrise = _night(date(2026, 6, 9))
    sunset, _ = _night(DAY)
    required = (sunrise - START) + (END - sunset)
    sang = 100 * (required - HOUR) / required  # one dark hour; all of it measured: 90.7 %
    allowed = 0.5  # 0.5 h x one point measured all day
    census = COMMUNE.villages[0].census
    census_pct = 100 * census.main_road_standard_bins / census.main_road_households  # 95.6 %
    # 50 x min(1, sang / 95) x 1 + 50 x mean(overflow 1, census min(1, 95.6 / 90)); no bin got
    # full, so collection has nothing to judge and is left out of the mean.
    score = round(50 * sang / 95 + 50, 2)
    alerts = ("Số cảnh báo", "TB giờ đến khi nhận", "TB giờ đến khi xong")  # the alert engine's
    top = {k: v for k, v in rows[0].items() if k not in alerts}
    assert top == {
        "Mã thôn": "dong-ha",
        "Thôn": "Thôn Đông Hạ",
        "Xếp hạng": "1",
        "Điểm": formats.number(score, 2),  # in Vietnamese: 97,69
        "Sáng (% thời gian đo được)": formats.number(sang),
        "Đo được – đèn (%)": "100,0",
        "Đạt Sáng": "Chưa đạt",  # 90.7 % < 95 %
        "Thu gom đúng hạn (%)": "",
        "Lần đầy thu gom đúng hạn": "0",
        "Tổng số lần đầy": "0",
        "Giờ tràn rác": "0,0",
        "Giờ tràn cho phép": formats.number(allowed),
        "Đo được – thùng rác (%)": "100,0",
        "Hộ có thùng rác chuẩn (%)": formats.number(census_pct),
        "Đạt Sạch": "Đạt",
        "Số đợt ra quân vệ sinh": "1",  # beside the score computed by hand above
        "Số phản ánh của người dân": "0",  # none made
        "Ghi chú": "",
        # no work list was kept in the half year: no planned visit to judge
        "Lượt thu gom theo kế hoạch": "0",
        "Đã thu gom (cảm biến ghi nhận)": "0",
        "Không đo được": "0",
        "Thu gom theo kế hoạch (% lượt đo được)": "",
        "Tổ báo xong (XONG)": "0",
        "Thu gom ngoài kế hoạch": "0",
        "Tổng thu gom trước Tết (% lượt đo được)": "",
    }
    assert rows[0]["Số cảnh báo"].isdigit() and rows[0]["TB giờ đến khi nhận"] == ""  # none acked
    for row in rows[1:]:  # nothing heard: no lamp nor bin counts, not ranked
        assert (row["Xếp hạng"], row["Điểm"], row["Đạt Sáng"]) == ("", "", "Không đo"), row
        assert row["Ghi chú"] == "Chưa xếp hạng: không có đèn gắn cảm biến phải sáng trong kỳ"

    assert "Báo cáo kết quả Sáng – Sạch, 6 tháng đầu năm 2026" in page
    assert "Số liệu cả kỳ." in page and tail[6][0] in unescape(page)
    assert "Cách xếp hạng thi đua" in page and "http" not in page  # nothing fetched from outside
    assert page.index("Thôn Đông Hạ") < page.index(COMMUNE.villages[1].name)
    assert "Chủ nhật, 14/06/2026" in page and NO_CAMPAIGNS not in page
    assert NO_ROUNDS in page  # the printed report says there was no work list to judge


def test_reports_without_data_and_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path))
    bootstrap(BackendSettings(data_dir=tmp_path)).close()  # the backend ran once, heard nothing
    table, _, page = _report("2025-12", tmp_path / "out")
    assert table[-2] == ["Không có số liệu trong kỳ này."]
    assert {row[TITLES.index("Ghi chú")] for row in table[1:11]} == {
        "Không có số liệu trong kỳ này"
    }
    assert {row[TITLES.index("Xếp hạng")] for row in table[1:11]} == {""}
    assert "Không có số liệu trong kỳ này." in page

    # This month, with a bin heard half an hour ago: provisional, up to the report's moment.
    now = int(time.time())
    reading = {"id": "bin-dong-ha-02", "kind": "bin", "boot": 1, "seq": 1, "ts": now - 1800,
               "fill_pct": 40.0, "battery_v": 3.9, "received_at": now - 1799.0}  # fmt: skip
    with TestClient(create_app(BackendSettings(data_dir=tmp_path)), headers=ADMIN) as api:
        body = {"gateway": "gw-1", "readings": [reading]}
        assert api.post("/api/v1/ingest", json=body, headers=TOKEN).status_code == 200
    month = datetime.now(VIETNAM).strftime("%Y-%m")
    table, _, page = _report(month, tmp_path / "out")
    [status] = table[-2]
    today = datetime.now(VIETNAM).strftime("%d/%m/%Y")
    assert status.startswith("Tạm tính đến ") and status.endswith(f" ngày {today}."), status
    assert status in page


def test_a_bad_period_stops_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["report", "--period", "H1-2026"])
    assert result.exit_code == 2
    assert "expected YYYY-MM, YYYY-H1, YYYY-H2 or YYYY" in result.output
