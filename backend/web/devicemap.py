"""A map of every device, coloured by its state, drawn as inline SVG (no tiles, no internet)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.rules import Thresholds, device_state

WIDTH, HEIGHT, MARGIN = 900, 520, 20

# Colour and Vietnamese legend per state.
STATES: dict[str, tuple[str, str]] = {
    "lit": ("#f59e0b", "Đèn đang sáng"),
    "off": ("#64748b", "Đèn tắt"),
    "fault": ("#7c2d12", "Đèn hỏng (bật mà không có dòng điện)"),
    "bin_ok": ("#16a34a", "Thùng rác chưa đầy"),
    "bin_full": ("#ea580c", "Thùng rác đầy"),
    "bin_overflow": ("#dc2626", "Thùng rác tràn"),
    "bin_unmeasured": ("#a855f7", "Lỗi cảm biến siêu âm – chưa đo được mức rác"),
    "offline": ("#000000", "Mất kết nối"),
    "never": ("#cbd5e1", "Chưa có dữ liệu"),
}


@dataclass(frozen=True, slots=True)
class Dot:
    device_id: str
    x: float
    y: float
    state: str

    @property
    def colour(self) -> str:
        return STATES[self.state][0]


def dots(devices: list[dict[str, Any]], thresholds: Mapping[str, Thresholds]) -> list[Dot]:
    """Project latitude and longitude linearly onto the drawing (a commune is a few km wide)."""
    if not devices:
        return []
    lats = [d["lat"] for d in devices]
    lons = [d["lon"] for d in devices]
    span_lat = max(max(lats) - min(lats), 1e-6)
    span_lon = max(max(lons) - min(lons), 1e-6)
    scale = min((WIDTH - 2 * MARGIN) / span_lon, (HEIGHT - 2 * MARGIN) / span_lat)
    return [
        Dot(
            d["id"],
            MARGIN + (d["lon"] - min(lons)) * scale,
            HEIGHT - MARGIN - (d["lat"] - min(lats)) * scale,  # north up
            device_state(d["kind"], d["online"], d["latest"], thresholds[d["village_id"]]),
        )
        for d in devices
    ]
