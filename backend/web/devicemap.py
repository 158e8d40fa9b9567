"""A map of every device, coloured by its state, drawn as inline SVG (no tiles, no internet)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT, MARGIN = 900, 520, 20

# Colour and Vietnamese legend per state.
STATES: dict[str, tuple[str, str]] = {
    "lit": ("#f59e0b", "Đèn đang sáng"),
    "off": ("#64748b", "Đèn tắt"),
    "fault": ("#7c2d12", "Đèn hỏng (bật mà không có dòng điện)"),
    "bin_ok": ("#16a34a", "Thùng rác dưới 80%"),
    "bin_full": ("#ea580c", "Thùng rác đầy (từ 80%)"),
    "bin_overflow": ("#dc2626", "Thùng rác tràn (từ 95%)"),
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


def state_of(kind: str, online: bool | None, latest: dict[str, Any] | None) -> str:
    if online is False:
        return "offline"
    if not latest:
        return "never"
    if kind == "lamp":
        if latest.get("fault"):
            return "fault"
        return "lit" if latest.get("on") else "off"
    fill = latest.get("fill_pct") or 0.0
    return "bin_overflow" if fill >= 95 else ("bin_full" if fill >= 80 else "bin_ok")


def dots(devices: list[dict[str, Any]]) -> list[Dot]:
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
            state_of(d["kind"], d["online"], d["latest"]),
        )
        for d in devices
    ]
