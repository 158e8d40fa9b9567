"""Why a device message was rejected: the reason codes kept with every dead letter."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    MALFORMED_JSON = "malformed_json"
    SCHEMA = "schema"
    UNKNOWN_DEVICE = "unknown_device"
    KIND_MISMATCH = "kind_mismatch"
    OVERSIZED = "oversized"
    ID_MISMATCH = "id_mismatch"
    BAD_TOPIC = "bad_topic"
    FUTURE_TS = "future_ts"
    STALE_TS = "stale_ts"
    RATE_LIMITED = "rate_limited"
    UNPROCESSABLE = "unprocessable"
    FLOOD = "flood"


REASON_HELP: dict[Reason, str] = {
    Reason.MALFORMED_JSON: "the payload is not UTF-8 JSON, or not a JSON object",
    Reason.SCHEMA: "a field is missing, unknown, of the wrong type or outside its limits",
    Reason.UNKNOWN_DEVICE: "the id is not in the commune registry",
    Reason.KIND_MISMATCH: "a lamp reports as a bin, or the reverse",
    Reason.OVERSIZED: "the payload is larger than the gateway accepts (64 KiB by default)",
    Reason.ID_MISMATCH: "the id in the payload is not the device id in the topic",
    Reason.BAD_TOPIC: "the topic is not sangsach/v1/<device_id>/telemetry or .../status",
    Reason.FUTURE_TS: "a synced timestamp more than 5 minutes ahead of the gateway clock",
    Reason.STALE_TS: "a timestamp older than 30 days",
    Reason.RATE_LIMITED: (
        "one reading throttled, one dead letter each: from gateways before `flood` letters"
    ),
    Reason.UNPROCESSABLE: (
        "checking the message failed with an unexpected error, or the backend refused for good"
        " what the gateway had spooled; the detail names it, and the next message goes on"
    ),
    Reason.FLOOD: (
        "the device sent more messages in a minute than the gateway allows, valid or not: what"
        " came beyond the limit is one dead letter per device and minute, with the count"
    ),
}
