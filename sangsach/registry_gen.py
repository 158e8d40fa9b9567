"""Synthetic commune registries of any size, for load tests and large simulations.

``generate`` writes the format of the sample commune (``data/chi-lang-bac.yaml``): villages
"Thôn 1", "Thôn 2"... with lanes of lamps, gathering points with bins and a census, and
collection and lighting teams. People and phone numbers are made up; the same arguments give
the same text, which the backend and the simulator both load.
"""

from __future__ import annotations

import math
from random import Random
from typing import Any, Final

import yaml

LATITUDE: Final = 20.72
LONGITUDE: Final = 106.23
COMMUNE: Final = {
    "name": "Xã Giả Lập",
    "district": "Thanh Miện",
    "province": "Hải Dương",
    "latitude": LATITUDE,
    "longitude": LONGITUDE,
    "timezone": "Asia/Ho_Chi_Minh",
}
LAMPS_PER_LANE: Final = 8
BINS_PER_POINT: Final = 2
VILLAGES_PER_TEAM: Final = 5
VILLAGE_SPACING_DEG: Final = 0.012  # about 1.3 km between village centres
LAMP_SPACING_DEG: Final = 0.00022  # about 25 m between lamps along a lane
# Every fourth village runs a part-night programme, like Nghĩa Xá in the sample.
PART_NIGHT: Final = [{"on": "17:30", "off": "23:00"}, {"on": "04:00", "off": "06:30"}]

_FAMILY: Final = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đỗ", "Bùi", "Đặng", "Ngô")
_GIVEN: Final = {
    "Văn": ("Hùng", "Tâm", "Bình", "Nam", "Khánh", "Quyết", "Dũng", "Long"),
    "Thị": ("Hoa", "Nga", "Lan", "Thảo", "Hương", "Mai", "Hạnh", "Yến"),
}
_LANES: Final = ("Ngõ Chùa", "Ngõ Giếng", "Ngõ Đình", "Xóm Trại", "Ngõ Cây Đa", "Xóm Đồng")
_DEPTHS_CM: Final = (95, 110, 120)


def _person(rng: Random) -> dict[str, str]:
    middle = rng.choice(tuple(_GIVEN))
    name = f"{rng.choice(_FAMILY)} {middle} {rng.choice(_GIVEN[middle])}"
    return {"name": name, "phone": f"09{rng.randrange(10**8):08d}"}


def _lanes(rng: Random, village_id: str, lamps: int, lat: float, lon: float) -> list[Any]:
    lanes = []
    for number in range(1, math.ceil(lamps / LAMPS_PER_LANE) + 1):
        first = (number - 1) * LAMPS_PER_LANE + 1
        last = min(lamps, number * LAMPS_PER_LANE)
        start_lat = lat + rng.uniform(-0.004, 0.004)
        start_lon = lon + rng.uniform(-0.004, 0.004)
        heading = rng.uniform(0, 2 * math.pi)
        step_lat = LAMP_SPACING_DEG * math.cos(heading)
        step_lon = LAMP_SPACING_DEG * math.sin(heading)
        name = _LANES[(number - 1) % len(_LANES)]
        lanes.append(
            {
                "id": f"{village_id}-l{number}",
                "name": name if number <= len(_LANES) else f"{name} {number}",
                "lamps": [
                    {
                        "id": f"lamp-{village_id}-{k:03d}",
                        "lat": round(start_lat + (k - first) * step_lat, 5),
                        "lon": round(start_lon + (k - first) * step_lon, 5),
                    }
                    for k in range(first, last + 1)
                ],
            }
        )
    return lanes


def _points(rng: Random, village_id: str, bins: int, lat: float, lon: float) -> list[Any]:
    points = []
    for number in range(1, math.ceil(bins / BINS_PER_POINT) + 1):
        first = (number - 1) * BINS_PER_POINT + 1
        last = min(bins, number * BINS_PER_POINT)
        points.append(
            {
                "id": f"{village_id}-p{number}",
                "name": f"Điểm tập kết số {number}",
                "lat": round(lat + rng.uniform(-0.004, 0.004), 5),
                "lon": round(lon + rng.uniform(-0.004, 0.004), 5),
                "households_served": rng.randint(30, 140),
                "bins": [
                    {"id": f"bin-{village_id}-{k:02d}", "depth_cm": rng.choice(_DEPTHS_CM)}
                    for k in range(first, last + 1)
                ],
            }
        )
    return points


def _village(
    rng: Random, prefix: str, number: int, lamps: int, bins: int, lat: float, lon: float
) -> Any:
    village_id = f"{prefix}thon-{number}"
    households = rng.randint(200, 600)
    main_road = int(households * rng.uniform(0.3, 0.5))
    village: dict[str, Any] = {
        "id": village_id,
        "name": f"Thôn {number}",
        "head": _person(rng),
        "census": {
            "households": households,
            "main_road_households": main_road,
            "main_road_standard_bins": int(main_road * rng.uniform(0.75, 1.0)),
        },
    }
    if number % 4 == 0:
        village["lighting"] = PART_NIGHT
    village["lanes"] = _lanes(rng, village_id, lamps, lat, lon)
    village["points"] = _points(rng, village_id, bins, lat, lon)
    return village


def _teams(rng: Random, prefix: str, village_ids: list[str]) -> list[Any]:
    teams = []
    for number, first in enumerate(range(0, len(village_ids), VILLAGES_PER_TEAM), start=1):
        served = village_ids[first : first + VILLAGES_PER_TEAM]
        teams.append(
            {
                "id": f"{prefix}thu-gom-{number}",
                "name": f"Tổ thu gom rác số {number}",
                "role": "collection",
                "villages": served,
                "members": [_person(rng), _person(rng)],
            }
        )
        teams.append(
            {
                "id": f"{prefix}dien-{number}",
                "name": f"Tổ điện chiếu sáng số {number}",
                "role": "lighting",
                "villages": served,
                "members": [_person(rng)],
            }
        )
    return teams


def generate(
    villages: int,
    lamps_per_village: int,
    bins_per_village: int,
    seed: int,
    *,
    prefix: str = "",
    name: str = str(COMMUNE["name"]),
) -> str:
    """Registry YAML for a commune of ``villages`` villages laid out on a grid around its centre.

    ``prefix`` starts every village and team id (so every lane, point and device id): the
    communes of one province each need their own (``sangsach.province_file``)."""
    if villages < 1:
        raise ValueError(f"a commune needs at least one village, got {villages}")
    if lamps_per_village < 0 or bins_per_village < 0:
        raise ValueError("lamps_per_village and bins_per_village cannot be negative")
    rng = Random(seed)
    columns = math.ceil(math.sqrt(villages))
    village_list = []
    for number in range(1, villages + 1):
        row, column = divmod(number - 1, columns)
        lat = LATITUDE + (row - columns / 2) * VILLAGE_SPACING_DEG
        lon = LONGITUDE + (column - columns / 2) * VILLAGE_SPACING_DEG
        village_list.append(
            _village(rng, prefix, number, lamps_per_village, bins_per_village, lat, lon)
        )
    data = {
        "commune": {**COMMUNE, "name": name},
        "villages": village_list,
        "teams": _teams(rng, prefix, [v["id"] for v in village_list]),
    }
    header = (
        f"# Sổ đăng ký giả lập: {villages} villages, {lamps_per_village} lamps and "
        f"{bins_per_village} bins each (sangsach.registry_gen, seed {seed}).\n"
        "# People and phone numbers are made up.\n"
    )
    # libyaml's emitter, when present, is much faster for registries of thousands of devices.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump(
        data,
        Dumper=dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=None,
        width=100,
    )
    return header + body
