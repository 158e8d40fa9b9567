"""Why a device message was rejected: the reason codes kept with every dead letter."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    MALFORMED_JSON = "malformed_json"  # not UTF-8 JSON, or not an object
    SCHEMA = "schema"  # a field is missing, of the wrong type, or outside its limits
    UNKNOWN_DEVICE = "unknown_device"  # the id is not in the commune registry
    KIND_MISMATCH = "kind_mismatch"  # a lamp reporting as a bin, or the reverse
    OVERSIZED = "oversized"  # payload larger than the gateway accepts
    ID_MISMATCH = "id_mismatch"  # the id in the payload is not the id in the topic
    BAD_TOPIC = "bad_topic"  # the topic is not sangsach/v1/<device_id>/<channel>
    FUTURE_TS = "future_ts"  # timestamp too far ahead of the gateway clock
    STALE_TS = "stale_ts"  # timestamp older than the gateway keeps
