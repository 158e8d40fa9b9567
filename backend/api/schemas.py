"""Request and response bodies of the API; the ingest body extends the wire contract."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from sangsach.contract import BinReading, LampReading, Reason, Status

# Upper bounds of numbers in queries and paths: beyond them SQLite cannot store an integer, and
# no reading or alert of this system can exist.
MAX_TS = 4_102_444_800  # 2100-01-01 in Unix seconds
MAX_ID = 2**62
AlertId = Annotated[int, Path(ge=1, le=MAX_ID)]
DeviceId = Annotated[str, Path(max_length=64, examples=["lamp-dong-ha-001", "bin-dong-ha-01"])]
VillageId = Annotated[str, Path(max_length=32, examples=["dong-ha"])]


class LampIn(LampReading):
    received_at: float = Field(ge=0, description="gateway receive time, Unix seconds")


class BinIn(BinReading):
    received_at: float = Field(ge=0, description="gateway receive time, Unix seconds")


ReadingIn = Annotated[LampIn | BinIn, Field(discriminator="kind")]


class StatusIn(Status):
    received_at: float = Field(ge=0)
    retained: bool = Field(default=False, description="a retained copy replayed on subscribe")


class RejectionIn(BaseModel):
    """A message the gateway refused, with its reason: a dead letter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    topic: str = Field(max_length=1024)
    device_id: str | None = Field(default=None, max_length=64)
    reason: Reason
    detail: str = Field(max_length=2000)
    payload: str = Field(max_length=8192)
    payload_bytes: int = Field(ge=0, le=2**31, description="the whole message's size")
    received_at: float = Field(ge=0)
    messages: int = Field(
        default=1, ge=1, le=2**31, description="messages it stands for (a flood letter: many)"
    )


BATCH_KEY_PATTERN = r"^[0-9a-f]{1,32}$"


class IngestBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    gateway: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    readings: list[ReadingIn] = Field(default_factory=list, max_length=10_000)
    statuses: list[StatusIn] = Field(default_factory=list, max_length=10_000)
    rejections: list[RejectionIn] = Field(default_factory=list, max_length=10_000)
    letters: Literal["backend", "gateway"] = Field(
        default="backend",
        description="who makes the dead letters of readings and statuses refused here (unknown "
        "device, wrong kind): `gateway`, which keeps each message's bytes, from `refused` in "
        "the answer; `backend` (older gateways), from the items themselves",
    )
    key: str | None = Field(
        default=None,
        pattern=BATCH_KEY_PATTERN,
        description="this batch's name, made by the gateway, for the batch sent after it",
    )
    after: str | None = Field(
        default=None,
        pattern=BATCH_KEY_PATTERN,
        description="the `key` of the batch this gateway sent just before this one and had no "
        "answer for: this one is stored only after it, and refused with 409 if that one was "
        "not stored (backend/batchorder.py)",
    )


class Refusal(BaseModel):
    """A reading or status of the batch refused here, by its place in the batch's list."""

    kind: Literal["reading", "status"]
    index: int = Field(ge=0, description="its place in the batch's `readings` or `statuses`")
    reason: Reason
    detail: str


class IngestResult(BaseModel):
    stored: int = Field(description="readings written (a reading sent again counts again)")
    rejected: int = Field(description="readings refused here: unknown device or wrong kind")
    statuses: int
    dead_letters: int = Field(description="rejections kept, from the gateway and from here")
    refused: list[Refusal] = Field(
        default_factory=list,
        description="with `letters: gateway`: the items refused here, whose dead letters the "
        "gateway makes and sends",
    )
    ordered: bool = Field(
        default=True,
        description="this backend stores a gateway's batches in the order `key` and `after` "
        "name, so the gateway may send its next batch before this answer",
    )


class VillagePublic(BaseModel):
    id: str
    name: str
    head_name: str
    households: int
    main_road_households: int
    main_road_standard_bins: int
    lamps: int
    bins: int
    commune_id: str | None = None  # its commune's id in the province file


class DevicePublic(BaseModel):
    id: str
    kind: Literal["lamp", "bin"]
    village_id: str
    place_id: str
    place_name: str
    lat: float
    lon: float
    online: bool | None = Field(
        description="from birth and last will, and false after three silent report intervals; "
        "null: never heard from"
    )
    last_seen: float | None
    ts: int | None = Field(description="time of the latest reading, Unix seconds")
    boot: int | None
    seq: int | None
    values: dict[str, Any] | None = Field(description="fields of the latest reading")


class DeadLetterPublic(BaseModel):
    id: str
    received_at: float
    gateway: str
    topic: str
    device_id: str | None
    reason: Reason
    detail: str
    payload: str
    payload_bytes: int
    messages: int = Field(description="messages it stands for: a `flood` letter folds many")


class ReadingPublic(BaseModel):
    device_id: str
    kind: Literal["lamp", "bin"]
    boot: int
    seq: int
    ts: int
    synced: bool
    values: dict[str, Any]


class Stats(BaseModel):
    readings: dict[str, int] = Field(description="readings stored, per kind")
    dead_letters: dict[str, int] = Field(description="dead letters, per reason")
    devices: dict[str, int] = Field(description="registered devices: online, offline, never")
