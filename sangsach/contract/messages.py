"""Envelopes and control messages of the wire contract."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .limits import MAX_BATCH_READINGS, MAX_COUNTER, MAX_TS
from .readings import DeviceId, Reading

_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Batch(BaseModel):
    """Several readings of one node in one telemetry message, oldest first."""

    model_config = _STRICT

    readings: list[Reading] = Field(min_length=1, max_length=MAX_BATCH_READINGS)
    dropped: int = Field(
        default=0,
        ge=0,
        le=MAX_COUNTER,
        description="readings the node's buffer had to discard since the last batch",
    )


class UpdateOutcome(BaseModel):
    """What became of the last update offered to the node (in its status message)."""

    model_config = _STRICT

    number: int = Field(ge=1, le=MAX_COUNTER, description="the release's number")
    version: str = Field(max_length=32)
    state: Literal["confirmed", "rolled_back", "failed", "refused"] = Field(
        description="confirmed: running it; rolled_back: it did not confirm, the previous one "
        "runs; failed: the download did not check out; refused: the offer's signature or "
        "format was wrong"
    )
    reason: str = Field(default="", max_length=80)


class Status(BaseModel):
    """Retained on ``.../status``: the birth message on connect, the last will when lost."""

    model_config = _STRICT

    id: DeviceId
    state: Literal["online", "offline"]
    kind: Literal["lamp", "bin"] | None = None
    boot: int | None = Field(default=None, ge=0, le=MAX_COUNTER)
    fw: str | None = Field(default=None, max_length=32, description="firmware version")
    ts: int | None = Field(default=None, ge=0, le=MAX_TS, description="Unix seconds, when known")
    update: UpdateOutcome | None = None


class UpdateOffer(BaseModel):
    """Retained on ``.../update``: the release the system wants the node to run
    (docs/firmware.md, "Updates over the air"). An empty retained message withdraws it."""

    model_config = _STRICT

    release: str = Field(
        max_length=8192,
        description="the release as JSON text: number, version, mpy, url, files "
        "[[name, size, sha256], ...]",
    )
    sig: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="HMAC-SHA256 of the release text under the node's own key, hex",
    )


class LightingWindow(BaseModel):
    """A span of local time when the lamp must be lit; ``on`` may be after ``off`` (overnight)."""

    model_config = _STRICT

    on: str = Field(description="local time HH:MM")
    off: str = Field(description="local time HH:MM")

    @field_validator("on", "off")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"expected local time HH:MM, got {value!r}")
        return value


class LampConfig(BaseModel):
    model_config = _STRICT

    windows: list[LightingWindow] = Field(min_length=1, max_length=4)
    utc_offset_min: int = Field(default=420, ge=-720, le=840)
    fallback_lux: float = Field(
        default=20.0, ge=0, le=1000, description="light below this turns the lamp on offline"
    )


class BinConfig(BaseModel):
    model_config = _STRICT

    depth_cm: float = Field(ge=20, le=400, description="sensor to bin floor, in cm")
    full_pct: float = Field(default=80, ge=10, le=100)
    fire_temp_c: float = Field(default=70, ge=40, le=125)
    measure_interval_s: int = Field(default=600, ge=60, le=86_400)
    send_interval_s: int = Field(default=3600, ge=60, le=86_400)


class DeviceConfig(BaseModel):
    """Retained on ``.../config``: applied by the node without a reboot."""

    model_config = _STRICT

    rev: int = Field(ge=0, le=MAX_COUNTER, description="config revision, increasing")
    report_interval_s: int = Field(default=300, ge=10, le=86_400)
    lamp: LampConfig | None = None
    bin: BinConfig | None = None


class LampOverride(BaseModel):
    model_config = _STRICT

    cmd: Literal["lamp"]
    cid: str = Field(max_length=32, description="command id, echoed in the reply")
    on: bool
    for_s: int = Field(ge=1, le=86_400)


class Reboot(BaseModel):
    model_config = _STRICT

    cmd: Literal["reboot"]
    cid: str = Field(max_length=32)


class Ping(BaseModel):
    model_config = _STRICT

    cmd: Literal["ping"]
    cid: str = Field(max_length=32)


Command = Annotated[LampOverride | Reboot | Ping, Field(discriminator="cmd")]
