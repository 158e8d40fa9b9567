"""The report command: CSV and printable HTML in Vietnamese, from the backend's own data."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from sangsach.backend.app import create_app
from sangsach.backend.reports.period import PeriodError, parse_period
from sangsach.cli import main
from sangsach.config import DEV_INGEST_TOKEN, BackendSettings
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.sun import dusk_dawn
from tests.harness import ADMIN

COMMUNE = load_registry(SAMPLE_REGISTRY)


def test_periods_are_local_half_years_and_years() -> None:
    h1 = parse_period("2026-H1")
    assert (h1.start, h1.end) == (1767200400, 1782838800)  # 2026-01-01 and 07-01, 00:00 UTC+7
    assert parse_period("2026").end == parse_period("2026-H2").end
    assert parse_period("2026-H2").title == "6 tháng cuối năm 2026"
    with pytest.raises(PeriodError, match="expected YYYY-H1, YYYY-H2 or YYYY"):
        parse_period("2026-Q3")


def test_report_of_a_half_year(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dusk, dawn = dusk_dawn(COMMUNE.commune.latitude, COMMUNE.commune.longitude, date(2026, 6, 10))
    sunset, sunrise = int(dusk.timestamp()), int(dawn.timestamp())
    readings = [
        {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": seq, "ts": ts, "on": True,
         "current_a": 0.18, "received_at": ts + 0.5}
        for seq, ts in enumerate(range(sunset - 600, sunrise + 600, 300))
    ]  # fmt: skip
    with TestClient(create_app(BackendSettings(data_dir=tmp_path)), headers=ADMIN) as api:
        body = {"gateway": "gw-1", "readings": readings}
        headers = {"Authorization": f"Bearer {DEV_INGEST_TOKEN}"}
        assert api.post("/api/v1/ingest", json=body, headers=headers).status_code == 200

    monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(
        main, ["report", "--period", "2026-H1", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "out" / "bao-cao-2026-H1.csv").open(encoding="utf-8")))
    assert len(rows) == 10
    top = rows[0]
    assert (top["Mã thôn"], top["Thôn"], top["Xếp hạng"]) == ("dong-ha", "Thôn Đông Hạ", "1")
    assert top["Đạt Sáng"] == "Chưa đạt"  # one lamp of 32 heard, for one night of half a year
    assert float(top["Sáng (%)"]) > 0
    page = (tmp_path / "out" / "bao-cao-2026-H1.html").read_text(encoding="utf-8")
    assert "Báo cáo kết quả Sáng – Sạch, 6 tháng đầu năm 2026" in page
    assert "Cách xếp hạng thi đua" in page and "http" not in page  # nothing fetched from outside


def test_a_bad_period_stops_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["report", "--period", "H1-2026"])
    assert result.exit_code == 2
    assert "expected YYYY-H1, YYYY-H2 or YYYY" in result.output
