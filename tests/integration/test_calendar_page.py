"""The calendar page lists the coming year's festivals by the same rule the lamps are judged by."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from sangsach import formats
from sangsach.backend.app import create_app
from sangsach.config import BackendSettings
from sangsach.lunar import FestivalNights
from sangsach.registry_file import SAMPLE_REGISTRY
from sangsach.sun import VIETNAM
from tests.harness import ADMIN


def test_the_calendar_shows_the_festival_nights_of_the_commune_and_its_villages(
    tmp_path: Path,
) -> None:
    text = SAMPLE_REGISTRY.read_text(encoding="utf-8").replace(
        "  - id: lac-duc\n",
        "  - id: lac-duc\n    festivals: [{lunar_day: '10/2', name: Hội làng Lạc Dục}]\n",
    )
    registry = tmp_path / "commune.yaml"
    registry.write_text(text, encoding="utf-8")
    settings = BackendSettings(data_dir=tmp_path, registry_file=registry)
    with TestClient(create_app(settings), headers=ADMIN) as client:
        html = client.get("/lich").text
    today = datetime.now(VIETNAM).date()
    coming = FestivalNights(village_days=[("10/2", "Hội làng Lạc Dục")]).between(
        today, today + timedelta(days=365)
    )
    eve = next(f for f in coming if f.name == "Đêm Giao thừa")
    village = next(f for f in coming if f.name == "Hội làng Lạc Dục")
    row = html.split(formats.day(eve.day))[1].split("</tr>")[0]
    assert "Đêm Giao thừa" in row and "Sáng suốt đêm" in row and "Cả xã" in row
    row = html.split(formats.day(village.day))[1].split("</tr>")[0]
    assert "10/2" in row and "Thôn Lạc Dục" in row and "Sáng suốt đêm" in row
    rounds = html.split('id="tet-rounds"')[1].split("</p>")[0]  # the 3 days up to the eve
    first = formats.day(eve.day - timedelta(days=2))
    assert f"từ {first} đến\n{formats.day(eve.day)}" in rounds, rounds
    vu_lan = next(f for f in coming if f.name.startswith("Rằm tháng Bảy"))
    assert "Theo lịch thường" in html.split(formats.day(vu_lan.day))[1].split("</tr>")[0]
