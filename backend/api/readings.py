"""Readings of one device from the time-series store, and overall counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import func, select

from .. import db
from .deps import ConnDep, ServicesDep, viewer
from .schemas import MAX_TS, DeviceId, ReadingPublic, Stats

router = APIRouter(prefix="/api/v1", tags=["readings"], dependencies=[Depends(viewer)])


@router.get("/devices/{device_id}/readings")
def device_readings(
    device_id: DeviceId,
    services: ServicesDep,
    conn: ConnDep,
    start: Annotated[
        int | None, Query(ge=0, le=MAX_TS, description="Unix seconds, inclusive")
    ] = None,
    end: Annotated[
        int | None, Query(ge=0, le=MAX_TS, description="Unix seconds, exclusive")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[ReadingPublic]:
    known = conn.execute(select(db.devices.c.id).where(db.devices.c.id == device_id)).first()
    if known is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no device {device_id!r}")
    if start is not None and end is not None and end <= start:
        raise HTTPException(422, detail="end must be after start")
    rows = services.store.readings(device_id, start=start, end=end, limit=limit)
    return [
        ReadingPublic(
            device_id=r.device_id, kind=r.kind, boot=r.boot, seq=r.seq, ts=r.ts,
            synced=r.synced, values=r.values,
        )
        for r in rows
    ]  # fmt: skip


@router.get("/stats")
def stats(services: ServicesDep, conn: ConnDep) -> Stats:
    """Readings stored per kind, dead letters per reason, devices online, offline or never seen."""
    dl = db.dead_letters
    dead: dict[str, int] = {
        row.reason: row.n
        for row in conn.execute(select(dl.c.reason, func.count().label("n")).group_by(dl.c.reason))
    }
    d, s = db.devices, db.device_state
    states = conn.execute(
        select(s.c.online, func.count()).select_from(d.outerjoin(s, s.c.device_id == d.c.id))
        .group_by(s.c.online)
    ).all()  # fmt: skip
    names = {True: "online", False: "offline", None: "never"}
    devices = {"online": 0, "offline": 0, "never": 0}
    for online, count in states:
        devices[names[online]] += count
    return Stats(
        readings={kind: services.store.count(kind=kind) for kind in ("lamp", "bin")},
        dead_letters=dead,
        devices=devices,
    )
