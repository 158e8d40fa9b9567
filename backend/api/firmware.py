"""Updates over the air: releases, rollouts and what each device made of them; and the files
the nodes download (``/ota/<number>/<file>``, open: nodes have no token, and every file is
checked on the node against the signed release)."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from sangsach.config import MqttSettings

from ..firmware import store
from ..firmware.publisher import PublishError, publish_retained
from .deps import ServicesDep, admin, viewer

router = APIRouter(prefix="/api/v1/firmware", tags=["firmware"], dependencies=[Depends(viewer)])
files_router = APIRouter(tags=["firmware"])


class ReleasePublic(BaseModel):
    number: int
    version: str
    mpy: int = Field(description="the .mpy format's major version the files need")
    files: list[tuple[str, int, str]] = Field(description="[name, size, sha256]")
    created_at: float


class RolloutIn(BaseModel):
    number: int = Field(ge=1, le=2**31 - 1, description="the release to offer")
    devices: list[Annotated[str, Field(max_length=48)]] = Field(default=[], max_length=10_000)
    village: str | None = Field(default=None, max_length=32)
    kind: Literal["lamp", "bin"] | None = None
    all: bool = Field(default=False, description="every device of the registry")


class RolloutPublic(BaseModel):
    device_id: str
    kind: str
    village_id: str
    number: int
    version: str
    state: str = Field(description=", ".join(store.STATES))
    reason: str
    offered_at: float
    updated_at: float
    fw: str | None = Field(description="the firmware the device last said it runs")


class RolloutStarted(BaseModel):
    number: int
    devices: list[str]


@router.get("/releases")
def list_releases(services: ServicesDep) -> list[ReleasePublic]:
    """Every release, newest first."""
    return [
        ReleasePublic.model_validate(r, from_attributes=True)
        for r in store.releases(services.engine)
    ]


@router.post("/rollouts", status_code=status.HTTP_202_ACCEPTED, dependencies=[Depends(admin)])
async def start_rollout(body: RolloutIn, services: ServicesDep) -> RolloutStarted:
    """Offer a release to devices: some ids, a village, a kind, or all (combined: all of
    them). Each device gets a signed, retained offer; its status reports what it made of it."""
    found = store.release(services.engine, body.number)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"number: no release {body.number}")
    try:
        chosen = store.select_devices(
            services.engine, body.devices, body.village, body.kind, body.all
        )
    except store.FirmwareError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err)) from err

    def offer() -> None:
        store.start_rollout(
            services.engine, found, chosen,
            services.settings.firmware_key.get_secret_value(), services.settings.firmware_base_url,
            lambda messages: publish_retained(MqttSettings(), messages), services.clock(),
        )  # fmt: skip

    try:
        await anyio.to_thread.run_sync(offer)
    except PublishError as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(err)) from err
    return RolloutStarted(number=found.number, devices=chosen)


@router.get("/rollouts")
def list_rollouts(
    services: ServicesDep, number: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> list[RolloutPublic]:
    """Each device's last offered release and its state."""
    return [
        RolloutPublic.model_validate(r, from_attributes=True)
        for r in store.rollouts(services.engine, number)
    ]


@files_router.get("/ota/{number}/{name}", include_in_schema=False)
def release_file(
    services: ServicesDep,
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
    name: Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9_]+\.mpy$")],
) -> FileResponse:
    found = store.release(services.engine, number)
    path = store.release_file(services.settings.data_dir, found, name) if found else None
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such release file")
    return FileResponse(path, media_type="application/octet-stream")
