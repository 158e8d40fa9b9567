"""MQTT topics of the wire contract: ``sangsach/v1/{device_id}/{channel}``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

from .limits import DEVICE_ID_PATTERN

PREFIX: Final = "sangsach/v1"
Channel = Literal["telemetry", "status", "config", "cmd", "update"]
CHANNELS: Final[tuple[str, ...]] = get_args(Channel)
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)


class TopicError(ValueError):
    """A topic that is not ``sangsach/v1/{device_id}/{channel}``."""


@dataclass(frozen=True, slots=True)
class Topic:
    device_id: str
    channel: Channel

    def __post_init__(self) -> None:
        if not _DEVICE_ID.match(self.device_id):
            raise TopicError(f"device id {self.device_id!r} does not match {DEVICE_ID_PATTERN}")
        if self.channel not in CHANNELS:
            raise TopicError(f"channel {self.channel!r} is not one of {', '.join(CHANNELS)}")

    def __str__(self) -> str:
        return f"{PREFIX}/{self.device_id}/{self.channel}"

    @classmethod
    def parse(cls, topic: str) -> Topic:
        parts = topic.split("/")
        if len(parts) != 4 or "/".join(parts[:2]) != PREFIX:
            raise TopicError(f"topic {topic!r} is not {PREFIX}/<device_id>/<channel>")
        return cls(parts[2], parts[3])  # type: ignore[arg-type]


def topic(device_id: str, channel: Channel) -> str:
    return str(Topic(device_id, channel))


def wildcard(channel: Channel, share_group: str | None = None) -> str:
    """Subscription filter for one channel of every device, optionally shared by gateways."""
    pattern = f"{PREFIX}/+/{channel}"
    return f"$share/{share_group}/{pattern}" if share_group else pattern
