"""The wire contract between nodes and the system: one source of truth.

The gateway, the backend and the simulators import these models; the committed JSON Schema
(``sangsach-v1.schema.json``) and ``docs/protocol.md`` are derived from them and checked in tests.
"""

from .limits import LIMITS, MAX_BATCH_READINGS, Limit
from .messages import (
    Batch,
    BinConfig,
    Command,
    DeviceConfig,
    LampConfig,
    LampOverride,
    LightingWindow,
    Ping,
    Reboot,
    Status,
    UpdateOffer,
    UpdateOutcome,
)
from .readings import BinReading, LampReading, Reading
from .rejections import Reason
from .topics import PREFIX, Channel, Topic, TopicError, topic, wildcard

__all__ = [
    "LIMITS",
    "MAX_BATCH_READINGS",
    "PREFIX",
    "Batch",
    "BinConfig",
    "BinReading",
    "Channel",
    "Command",
    "DeviceConfig",
    "LampConfig",
    "LampOverride",
    "LampReading",
    "LightingWindow",
    "Limit",
    "Ping",
    "Reading",
    "Reason",
    "Reboot",
    "Status",
    "Topic",
    "TopicError",
    "UpdateOffer",
    "UpdateOutcome",
    "topic",
    "wildcard",
]
