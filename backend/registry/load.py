"""Replace the SQL registry with the content of the registry file (a commune's, or a province's
communes), in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from sqlalchemy import Engine, delete, insert, text

from sangsach.province_file import Province, single
from sangsach.registry_file import Commune

from .. import db

CHUNK = 5_000
# PostgreSQL's advisory lock around the replacement: several backends may start at once on one
# database (docs/deploy.md, "Several backends"), and two replacing it together would collide.
REGISTRY_LOCK_KEY = 0x5A_5A_DB_02


def load_commune(engine: Engine, commune: Commune) -> None:
    """An installation of one commune."""
    load_province(engine, single(commune))


def load_province(engine: Engine, province: Province) -> None:
    rows: dict[str, list[dict[str, Any]]] = {
        "villages": [],
        "places": [],
        "teams": [],
        "team_members": [],
    }
    for commune_id, commune in province.communes.items():
        _commune_rows(rows, commune_id, commune)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # backends starting together replace it in turn
            conn.execute(text(f"SELECT pg_advisory_xact_lock({REGISTRY_LOCK_KEY})"))
        for table in db.REGISTRY_TABLES:
            conn.execute(delete(table))
        for table in reversed(db.REGISTRY_TABLES):
            if table is db.devices:
                # Devices in chunks: 100,000 rows at once cost about 50 MB more at start-up.
                devices = (row for c in province.communes.values() for row in _device_rows(c))
                while chunk := list(islice(devices, CHUNK)):
                    conn.execute(insert(table), chunk)
            elif rows[table.name]:
                conn.execute(insert(table), rows[table.name])


def _commune_rows(rows: dict[str, list[dict[str, Any]]], commune_id: str, commune: Commune) -> None:
    for village in commune.villages:
        rows["villages"].append(
            {
                "id": village.id,
                "commune_id": commune_id,
                "name": village.name,
                "head_name": village.head.name,
                "head_phone": village.head.phone,
                "households": village.census.households,
                "main_road_households": village.census.main_road_households,
                "main_road_standard_bins": village.census.main_road_standard_bins,
                "lighting": [w.model_dump() for w in village.lighting]
                if village.lighting
                else None,
            }
        )
        for lane in village.lanes:
            rows["places"].append(
                {"id": lane.id, "village_id": village.id, "kind": "lane", "name": lane.name}
            )
        for point in village.points:
            rows["places"].append(
                {
                    "id": point.id, "village_id": village.id, "kind": "point",
                    "name": point.name, "lat": point.lat, "lon": point.lon,
                    "households_served": point.households_served,
                }
            )  # fmt: skip
    for team in commune.teams:
        rows["teams"].append(
            {"id": team.id, "name": team.name, "role": team.role, "villages": team.villages}
        )
        for member in team.members:
            rows["team_members"].append(
                {"team_id": team.id, "name": member.name, "phone": member.phone}
            )


def _device_rows(commune: Commune) -> Iterator[dict[str, Any]]:
    for village in commune.villages:
        for lane in village.lanes:
            for lamp in lane.lamps:
                yield {
                    "id": lamp.id, "kind": "lamp", "village_id": village.id,
                    "place_id": lane.id, "lat": lamp.lat, "lon": lamp.lon,
                    "watts": lamp.watts, "depth_cm": None,
                }  # fmt: skip
        for point in village.points:
            for bin_ in point.bins:
                yield {
                    "id": bin_.id, "kind": "bin", "village_id": village.id,
                    "place_id": point.id, "lat": point.lat, "lon": point.lon,
                    "watts": None, "depth_cm": bin_.depth_cm,
                }  # fmt: skip
