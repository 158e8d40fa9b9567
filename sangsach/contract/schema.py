"""Export the contract as one JSON Schema document (committed as sangsach-v1.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from .messages import Batch, Command, DeviceConfig, Status, UpdateOffer
from .readings import Reading

SCHEMA_PATH = Path(__file__).with_name("sangsach-v1.schema.json")

# Message name -> the type a message of that name must validate against.
MESSAGES: dict[str, Any] = {
    "reading": Reading,
    "batch": Batch,
    "status": Status,
    "config": DeviceConfig,
    "cmd": Command,
    "update": UpdateOffer,
}


def build_schema() -> dict[str, Any]:
    """One document whose ``$defs`` hold every model and whose top-level keys name messages."""
    defs: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name, type_ in MESSAGES.items():
        schema = TypeAdapter(type_).json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        messages[name] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "sangsach-v1.schema.json",
        "title": "sangsach wire contract v1",
        "description": "Messages between nodes and the system. Topics: "
        "sangsach/v1/{device_id}/telemetry (reading or batch), .../status, .../config, .../cmd, .../update.",
        "messages": messages,
        "$defs": dict(sorted(defs.items())),
    }


def render() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write(path: Path = SCHEMA_PATH) -> None:
    path.write_text(render(), encoding="utf-8")
