"""A map of every device, coloured by its state, drawn as inline SVG (no tiles, no internet)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    village_id: str

    @property
    def colour(self) -> str:
        return STATES[self.state][0]


@dataclass(frozen=True, slots=True)
class Label:
    """A village's name on the map, centred above its devices."""

    village_id: str
    name: str
    x: float
    y: float


LABEL_GAP = 8  # drawing units between a village's top device and its name's baseline
LABEL_HALF = 70  # about half the widest name ("Thôn Quang Trung") at the label's size


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
            d["village_id"],
        )
        for d in devices
    ]


def labels(placed: Sequence[Dot], names: Mapping[str, str]) -> list[Label]:
    """Each village's name, centred over its devices and just above the topmost, kept inside
    the drawing; villages without a located device get none."""
    spots: dict[str, list[Dot]] = {}
    for dot in placed:
        spots.setdefault(dot.village_id, []).append(dot)
    found = []
    for village_id, group in spots.items():
        x = sum(dot.x for dot in group) / len(group)
        y = min(dot.y for dot in group) - LABEL_GAP
        x = min(max(x, LABEL_HALF), WIDTH - LABEL_HALF)
        y = max(y, MARGIN)
        found.append(Label(village_id, names.get(village_id, village_id), x, y))
    return sorted(found, key=lambda label: label.village_id)
