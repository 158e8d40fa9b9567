"""Villages and devices of the registry, with each device's latest state."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import Select, func, select

from .. import db
from .deps import ConnDep, ServicesDep, viewer
from .schemas import DeviceId, DevicePublic, VillagePublic

router = APIRouter(prefix="/api/v1", tags=["registry"], dependencies=[Depends(viewer)])


def _devices_query() -> Select[tuple[object, ...]]:
    d, s, p = db.devices, db.device_state, db.places
    return (
        select(
            d.c.id,
            d.c.kind,
            d.c.village_id,
            d.c.place_id,
            p.c.name.label("place_name"),
            d.c.lat,
            d.c.lon,
            s.c.online,
            s.c.last_seen,
            s.c.ts,
            s.c.boot,
            s.c.seq,
            s.c["values"],
        )
        .join(p, p.c.id == d.c.place_id)
        .outerjoin(s, s.c.device_id == d.c.id)
        .order_by(d.c.id)
    )


@router.get("/villages")
def list_villages(conn: ConnDep, services: ServicesDep) -> list[VillagePublic]:
    """The villages of the commune in view (a province's office: the one it picked), with
    their commune's id (``commune_id``) and how many lamps and bins each has."""
    v, d = db.villages, db.devices
    counts = {
        (row.village_id, row.kind): row.n
        for row in conn.execute(
            select(d.c.village_id, d.c.kind, func.count().label("n")).group_by(
                d.c.village_id, d.c.kind
            )
        )
    }
    return [
        VillagePublic(
            **{k: row._mapping[k] for k in VillagePublic.model_fields if k in row._mapping},
            lamps=counts.get((row.id, "lamp"), 0),
            bins=counts.get((row.id, "bin"), 0),
        )
        for row in conn.execute(select(v).where(v.c.id.in_(services.village_ids)).order_by(v.c.id))
    ]


@router.get("/devices")
def list_devices(
    conn: ConnDep,
    village: Annotated[str | None, Query(description="only this village id")] = None,
    kind: Annotated[Literal["lamp", "bin"] | None, Query()] = None,
    online: Annotated[bool | None, Query(description="true/false from birth and will")] = None,
) -> list[DevicePublic]:
    """Devices with their latest state."""
    query = _devices_query()
    if village:
        query = query.where(db.devices.c.village_id == village)
    if kind:
        query = query.where(db.devices.c.kind == kind)
    if online is not None:
        query = query.where(db.device_state.c.online.is_(online))
    return [DevicePublic.model_validate(row._mapping) for row in conn.execute(query)]


@router.get("/devices/{device_id}")
def get_device(device_id: DeviceId, conn: ConnDep) -> DevicePublic:
    row = conn.execute(_devices_query().where(db.devices.c.id == device_id)).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no device {device_id!r}")
    return DevicePublic.model_validate(row._mapping)
