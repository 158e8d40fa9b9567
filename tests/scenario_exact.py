"""One deterministic scenario with every score computed by hand (docs/scores.md, worked example).

Two villages of a small commune (``REGISTRY``), three local days 2026-06-10 .. 2026-06-12
(``DAY1`` 00:00 to ``END`` 00:00, UTC+7). Every village runs the part-night programme
19:30-23:00 and 03:00-04:30, inside the dark on those days (sunset about 18:35, sunrise about
05:13 at the commune), so each lamp must be lit 210 + 90 = 300 minutes per local day: the
03:00-04:30 window of a day belongs to the night before, and both windows fall in the day.

The tests feed ``lamp_readings()`` and ``bin_readings()`` to the engine, to a real backend
through its ingest API, and then compare every layer (API, pages, report, rollup in InfluxDB
read by the Grafana queries) with the numbers written below. Nothing here calls the engine.
"""

from __future__ import annotations

from typing import Any

MIN = 60
HOUR = 3600
DAY = 24 * HOUR
DAY1 = 1_781_024_400  # 2026-06-10 00:00 in Asia/Ho_Chi_Minh
END = DAY1 + 3 * DAY  # 2026-06-13 00:00
PERIOD = "2026-06-10..2026-06-12"
DAYS = (DAY1, DAY1 + DAY, DAY1 + 2 * DAY)

REGISTRY = """\
commune:
  name: Xã Mẫu
  district: Thanh Miện
  province: Hải Dương
  latitude: 20.72
  longitude: 106.23
villages:
  - id: thon-an
    name: Thôn An
    head: {name: Nguyễn Văn An, phone: "0912000001"}
    census: {households: 120, main_road_households: 40, main_road_standard_bins: 38}
    lighting: [{on: "19:30", off: "23:00"}, {on: "03:00", off: "04:30"}]
    lanes:
      - id: an-l1
        name: Đường trục thôn An
        lamps:
          - {id: lamp-an-1, lat: 20.70100, lon: 106.21000}
          - {id: lamp-an-2, lat: 20.70120, lon: 106.21030}
    points:
      - id: an-p1
        name: Điểm tập kết An
        lat: 20.70200
        lon: 106.21100
        households_served: 60
        bins: [{id: bin-an-1, depth_cm: 100}]
  - id: thon-binh
    name: Thôn Bình
    head: {name: Trần Văn Bình, phone: "0912000002"}
    census: {households: 150, main_road_households: 50, main_road_standard_bins: 43}
    lighting: [{on: "19:30", off: "23:00"}, {on: "03:00", off: "04:30"}]
    lanes:
      - id: binh-l1
        name: Đường trục thôn Bình
        lamps:
          - {id: lamp-binh-1, lat: 20.71000, lon: 106.22000}
          - {id: lamp-binh-2, lat: 20.71020, lon: 106.22030}
    points:
      - id: binh-p1
        name: Điểm tập kết Bình
        lat: 20.71100
        lon: 106.22100
        households_served: 80
        bins: [{id: bin-binh-1, depth_cm: 100}, {id: bin-binh-2, depth_cm: 100}]
"""

POSITIONS = {
    "lamp-an-1": (20.70100, 106.21000),
    "lamp-an-2": (20.70120, 106.21030),
    "bin-an-1": (20.70200, 106.21100),
    "lamp-binh-1": (20.71000, 106.22000),
    "lamp-binh-2": (20.71020, 106.22030),
    "bin-binh-1": (20.71100, 106.22100),
    "bin-binh-2": (20.71100, 106.22100),
}


def _in_programme(tod: int) -> bool:
    """19:30-23:00 or 03:00-04:30 local, ``tod`` in seconds after local midnight."""
    return 19 * HOUR + 30 * MIN <= tod < 23 * HOUR or 3 * HOUR <= tod < 4 * HOUR + 30 * MIN


def lamp_readings() -> list[dict[str, Any]]:
    """Every 5 min from 2026-06-09 23:50 (so each day starts known) to the end, switched by the
    programme, except for four incidents:

    - lamp-an-2, day 1, 21:00-22:00: off (``on`` false, no current): 60 dark minutes;
    - lamp-an-2, day 2: silent from 20:05 to 20:40 (8 readings missing). The 20:00 reading is
      fresh 15 min (3 x 300 s), so 20:15-20:45 is unknown: 30 minutes;
    - lamp-binh-1, day 2, 19:30-22:00: switched on but draws no current (0 A < 0.05 A): 150
      dark minutes;
    - lamp-binh-2: silent from day 3 00:00 (its 23:55 reading is fresh until 00:10): all its
      300 required minutes of day 3 are unknown.
    """
    out = []
    for device in ("lamp-an-1", "lamp-an-2", "lamp-binh-1", "lamp-binh-2"):
        for seq, ts in enumerate(range(DAY1 - 10 * MIN, END, 5 * MIN)):
            day, tod = divmod(ts - DAY1, DAY)
            on, current = _in_programme(tod), 0.18 if _in_programme(tod) else 0.0
            if device == "lamp-an-2" and day == 0 and 21 * HOUR <= tod < 22 * HOUR:
                on, current = False, 0.0
            if device == "lamp-an-2" and day == 1 and 20 * HOUR < tod < 20 * HOUR + 45 * MIN:
                continue
            if device == "lamp-binh-1" and day == 1 and 19 * HOUR + 30 * MIN <= tod < 22 * HOUR:
                current = 0.0
            if device == "lamp-binh-2" and day >= 2:
                continue
            out.append({"id": device, "kind": "lamp", "boot": 1, "seq": seq, "ts": ts,
                        "on": on, "current_a": current, "voltage_v": 229.0,
                        "received_at": ts + 0.5})  # fmt: skip
    return out


# Bin fill levels, read every hour at DAY1 + h hours, h = -1 .. 71: (first h, fill %) steps.
# Full at >= 80 %, overflow at >= 95 %, emptied at a drop of >= 30 points, SLA 24 h.
FILLS: dict[str, list[tuple[int, float]]] = {
    "bin-an-1": [
        (-1, 30.0),
        (10, 85.0),  # full at day 1 10:00
        (12, 96.0),  # overflow 12:00-13:00: 1 h
        (13, 90.0),  # under 95 again, still full (a 6-point drop is no emptying)
        (14, 10.0),  # emptied 14:00, 4 h after full: on time (decided day 1)
        (36, 82.0),  # full at day 2 12:00
        (56, 8.0),  # emptied day 3 08:00, 20 h after full: on time (decided day 3)
    ],
    "bin-binh-1": [
        (-1, 40.0),
        (6, 85.0),  # full at day 1 06:00
        (20, 97.0),  # overflow from day 1 20:00 ...
        (33, 10.0),  # ... to day 2 09:00 (13 h); emptied 27 h after full: LATE, decided 06:00
        (38, 85.0),  # full at day 2 14:00
        (44, 5.0),  # emptied day 2 20:00, 6 h: on time (decided day 2)
        (58, 90.0),  # full at day 3 10:00
        (62, 96.0),  # overflow 14:00-16:00, while bin-binh-2 overflows too: not counted twice
        (64, 5.0),  # emptied day 3 16:00, 6 h: on time (decided day 3)
    ],
    "bin-binh-2": [
        (-1, 30.0),
        (26, 88.0),  # full at day 2 02:00, never emptied: MISSED, late at day 3 02:00
        (52, 98.0),  # overflow from day 3 04:00 to the end of the period: 20 h
    ],
}


def fill_at(device: str, hour: int) -> float:
    return [fill for first, fill in FILLS[device] if first <= hour][-1]


def bin_readings() -> list[dict[str, Any]]:
    return [
        {"id": device, "kind": "bin", "boot": 1, "seq": hour + 1, "ts": DAY1 + hour * HOUR,
         "fill_pct": fill_at(device, hour), "battery_v": 3.9, "received_at": DAY1 + hour * HOUR + 1.0}
        for device in FILLS
        for hour in range(-1, 72)
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Expected, by hand. Required per lamp and day: 210 + 90 = 300 min; 3 days x 2 lamps = 1800.
# ---------------------------------------------------------------------------------------------

EXPECTED: dict[str, dict[str, Any]] = {
    "thon-an": {
        "sang_required_min": 1800.0,
        "sang_dark_min": 60.0,  # lamp-an-2 off 21:00-22:00 on day 1
        "sang_unknown_min": 30.0,  # lamp-an-2 silent, 20:15-20:45 on day 2
        "sang_lit_min": 1710.0,  # 1800 - 60 - 30
        "sang_pct": 100 * 1710 / 1770,  # of the measured 1770 min: 96.61; >= 95: meets
        "sang_coverage": 100 * 1770 / 1800,  # 98.33 % measured, over the 80 % floor
        "sang_verdict": "met",
        "collection_on_time": 2,  # emptied after 4 h and after 20 h
        "collection_late": 0,
        "collection_pct": 100.0,  # 100 x 2 / 2; target 90: meets
        "overflow_h": 1.0,  # 12:00-13:00 on day 1
        "overflow_allowed_h": 1.5,  # 0.5 h x 72 measured point-hours / 24; 1.0 <= 1.5: meets
        "bin_coverage": 100.0,  # read every hour, never stale
        "coverage_pct": 95.0,  # 100 x 38 / 40; target 90: meets
        "sach_verdict": "met",
        # 50 x min(1, 96.61/95) x 0.98333 + 50 x mean(1 x 1, 1 x 1, min(1, 95/90))
        # = 49.1667 + 50 = 99.17
        "score": 99.17,
        "rank": 1,
    },
    "thon-binh": {
        "sang_required_min": 1800.0,
        "sang_dark_min": 150.0,  # lamp-binh-1 on without current 19:30-22:00 on day 2
        "sang_unknown_min": 300.0,  # lamp-binh-2 silent all day 3: 210 + 90
        "sang_lit_min": 1350.0,  # 1800 - 150 - 300
        "sang_pct": 90.0,  # 100 x 1350 / 1500 measured; < 95: does not meet
        "sang_coverage": 100 * 1500 / 1800,  # 83.33 %: over the floor, so judged
        "sang_verdict": "not_met",
        "collection_on_time": 2,  # bin-binh-1 emptied after 6 h, twice
        "collection_late": 2,  # bin-binh-1 after 27 h; bin-binh-2 never (missed)
        "collection_pct": 50.0,  # 100 x 2 / 4; < 90: does not meet
        "overflow_h": 33.0,  # bin-binh-1 13 h + bin-binh-2 20 h (the 2 h overlap counts once)
        "overflow_allowed_h": 1.5,  # 33 > 1.5: does not meet
        "bin_coverage": 100.0,
        "coverage_pct": 86.0,  # 100 x 43 / 50; < 90: does not meet
        "sach_verdict": "not_met",
        # 50 x (90/95) x (1500/1800) + 50 x mean(50/90, 1.5/33, 86/90)
        # = 39.4737 + 50 x (0.5556 + 0.0455 + 0.9556) / 3 = 39.4737 + 25.9428 = 65.42
        "score": 65.42,
        "rank": 2,
    },
}
RANKING = ["thon-an", "thon-binh"]

# Per local day (DAY1, DAY1 + 1 day, DAY1 + 2 days), the parts the rollup stores. Required per
# village and day: 2 lamps x 300 = 600 min = 36 000 s; one point read all day: 86 400 s.
DAILY: dict[str, dict[str, tuple[int, ...]]] = {
    "thon-an": {
        "lamp_required_s": (36_000, 36_000, 36_000),
        "lamp_lit_s": (32_400, 34_200, 36_000),  # 600 - 60 min; 600 - 30 min; 600 min
        "lamp_dark_s": (3600, 0, 0),  # the 30 min of day 2 are unknown, not dark
        "full_on_time": (1, 0, 1),  # decided at the emptying: day 1 14:00, day 3 08:00
        "full_late": (0, 0, 0),
        "bin_required_s": (86_400, 86_400, 86_400),
        "bin_overflow_s": (3600, 0, 0),
        "bin_unknown_s": (0, 0, 0),
    },
    "thon-binh": {
        "lamp_required_s": (36_000, 36_000, 36_000),
        "lamp_lit_s": (36_000, 27_000, 18_000),  # 600; 600 - 150; 600 - 300 min
        "lamp_dark_s": (0, 9000, 0),  # day 3's 300 min are unknown
        # Day 2: late (full + 24 h = day 2 06:00) and on time (20:00); day 3: missed (decided at
        # full + 24 h = day 3 02:00) and on time (16:00).
        "full_on_time": (0, 1, 1),
        "full_late": (0, 1, 1),
        # bin-binh-1 over 95 % from day 1 20:00 to day 2 09:00: 4 h + 9 h; bin-binh-2 from
        # day 3 04:00 to midnight: 20 h (bin-binh-1's 14:00-16:00 lies inside it).
        "bin_required_s": (86_400, 86_400, 86_400),
        "bin_overflow_s": (14_400, 32_400, 72_000),
        "bin_unknown_s": (0, 0, 0),
    },
}
# Each day's own figures, stored beside the parts for Grafana's charts by day.
DAY_FIGURES: dict[str, dict[str, tuple[float | None, ...]]] = {
    "thon-an": {
        "sang_pct": (90.0, 100.0, 100.0),  # 540 / 600; 570 / 570 measured; 600 / 600
        "collection_pct": (100.0, None, 100.0),  # nothing decided on day 2
        "overflow_h": (1.0, 0.0, 0.0),
        "coverage_pct": (95.0, 95.0, 95.0),
    },
    "thon-binh": {
        "sang_pct": (100.0, 75.0, 100.0),  # day 3: only lamp-binh-1 measured, lit
        "collection_pct": (None, 50.0, 50.0),
        "overflow_h": (4.0, 9.0, 20.0),
        "coverage_pct": (86.0, 86.0, 86.0),
    },
}

# The Grafana commune overview over the three days (its queries sum the daily parts), the same
# numbers as the period's:
GRAFANA: dict[str, dict[str, float]] = {
    "thon-an": {"sang": 100 * 1710 / 1770, "collection": 100.0, "overflow": 1.0, "coverage": 95.0},
    "thon-binh": {"sang": 90.0, "collection": 50.0, "overflow": 33.0, "coverage": 86.0},
}

# The device map shows each device's state now. The scenario's devices fell silent in June, so
# the alert engine judges them offline, except four heard again "now" (``fresh_readings``).
MAP_STATES = {
    "lamp-an-1": "lit",  # on, 0.18 A
    "lamp-an-2": "offline",
    "lamp-binh-1": "fault",  # on, reporting a fault
    "lamp-binh-2": "offline",
    "bin-an-1": "bin_full",  # 85 %
    "bin-binh-1": "offline",
    "bin-binh-2": "bin_overflow",  # 98 %
}


def fresh_readings(now: int) -> list[dict[str, Any]]:
    """One reading each, after a reboot, of the four devices the map shows heard again."""
    lamp = {"kind": "lamp", "boot": 2, "seq": 0, "ts": now, "received_at": now + 0.5}
    bin_ = {"kind": "bin", "boot": 2, "seq": 0, "ts": now, "received_at": now + 0.5}
    return [
        {"id": "lamp-an-1", **lamp, "on": True, "current_a": 0.18},
        {"id": "lamp-binh-1", **lamp, "on": True, "current_a": 0.0, "fault": True},
        {"id": "bin-an-1", **bin_, "fill_pct": 85.0},
        {"id": "bin-binh-2", **bin_, "fill_pct": 98.0},
    ]
