"""A fast path for the common batch: readings only, from a gateway that makes its own letters.

``decode(body)`` returns an ``IngestBatch`` for such a batch when every reading is valid, and
``None`` for anything else: the caller then parses with the models (``IngestBatch``), which
decide and, when they refuse, name the field. So this path can only ever accept less than the
models do, never more; tests/unit/test_fastbatch.py checks that, and that each reading it makes
has every field of the model's with the same value and type.

Why: pydantic validates a batch at about 4 µs a reading, and making its models without
validation (``model_construct``) costs more still; msgspec decodes into the classes below in
about 1. The readings of the returned batch are these classes, not the models: the ingest reads
their fields only (``backend/ingest.py``), which both have alike. A batch that needs more of a
reading (``letters: backend``: the backend then re-serialises a refused one) takes the models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Final, Literal, cast

import msgspec
from msgspec import Meta

from sangsach.contract.structs import Bin, Lamp, cross_checked

from .schemas import BATCH_KEY_PATTERN, IngestBatch, ReadingIn

_GATEWAY: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_BATCH_KEY: Final = re.compile(BATCH_KEY_PATTERN.strip("^$"))
Received = Annotated[float, Meta(ge=0)]


class LampIn(Lamp, frozen=True, kw_only=True, tag="lamp", gc=False):
    """``LampIn``'s fields: the contract's lamp reading and when the gateway received it."""

    kind: ClassVar[str] = "lamp"
    received_at: Received


class BinIn(Bin, frozen=True, kw_only=True, tag="bin", gc=False):
    """``BinIn``'s fields: the contract's bin reading and when the gateway received it."""

    kind: ClassVar[str] = "bin"
    received_at: Received


class _Batch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    gateway: str
    letters: Literal["gateway"]
    readings: Annotated[list[LampIn | BinIn], Meta(max_length=10_000)] = []
    statuses: Annotated[list[Any], Meta(max_length=0)] = []
    rejections: Annotated[list[Any], Meta(max_length=0)] = []
    key: str | None = None
    after: str | None = None


_DECODER: Final = msgspec.json.Decoder(_Batch)


def decode(body: bytes) -> IngestBatch | None:
    """The batch, if this path takes it; None sends it to the models."""
    try:
        batch = _DECODER.decode(body)
    except (msgspec.DecodeError, RecursionError):  # ValidationError included: the models
        return None  # decide, and say why; so does the models' parse of a body nested too deep
    if not _GATEWAY.fullmatch(batch.gateway):
        return None
    for name in (batch.key, batch.after):
        if name is not None and not _BATCH_KEY.fullmatch(name):
            return None
    for reading in batch.readings:
        if not cross_checked(reading):  # the models' own rules beyond the fields' limits
            return None
    # Not the models' classes, but their fields alike (the module's docstring; the tests
    # compare every field of every reading): what the ingest reads of a reading.
    readings = cast("list[ReadingIn]", batch.readings)
    return IngestBatch.model_construct(
        gateway=batch.gateway, readings=readings, statuses=[], rejections=[], letters="gateway",
        key=batch.key, after=batch.after,
    )  # fmt: skip
