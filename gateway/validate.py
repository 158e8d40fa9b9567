"""Check one MQTT message against the wire contract. Pure: no I/O, the clock is an argument.

Every message ends up either as accepted readings and statuses, or as rejections that carry a
reason code and a detail naming the field. Nothing is dropped without a trace.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from sangsach.contract import Reading, Reason, Status, Topic, TopicError
from sangsach.contract.limits import DEVICE_ID_PATTERN, MAX_BATCH_READINGS
from sangsach.contract.topics import CHANNELS, PREFIX

from . import fastreading

_READING: TypeAdapter[Any] = TypeAdapter(Reading)
_STATUS = TypeAdapter(Status)
KEPT_PAYLOAD_CHARS = 4096  # a rejected payload is kept up to this many characters
MAX_DETAIL_CHARS = 1000  # the backend takes up to 2000
_LONG_DIGITS = re.compile(rb"[0-9]{19}")  # an integer orjson might not keep exact (see _parse)
MAX_NESTING = 1024  # orjson's limit; ``json`` raises RecursionError near the recursion limit


class Incoming(NamedTuple):
    """One message as it came from the broker (a tuple: one is made per message)."""

    topic: str
    payload: bytes
    received_at: float
    retained: bool = False


@dataclass(frozen=True, slots=True)
class Rejection:
    """A dead letter: what arrived, where, when, and why it was refused."""

    id: str
    topic: str
    device_id: str | None
    reason: Reason
    detail: str
    payload: str
    payload_bytes: int
    received_at: float
    messages: int = 1  # how many messages it stands for: a flood letter folds many

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Checked:
    readings: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    dropped: int = 0  # readings the node itself reported as discarded from its buffer


@dataclass(frozen=True, slots=True)
class Limits:
    max_payload_bytes: int = 65_536
    max_future_s: int = 300
    max_age_s: int = 30 * 86_400


def letter_id(msg: Incoming, part: str = "") -> str:
    """A dead letter's id: a function of the topic and the bytes alone (and, for one reading of
    a batch, its place in it), whoever refuses the message, the gateway or the backend. A
    redelivery, or a retained status replayed at every subscription, makes no second one."""
    return hashlib.sha256(msg.topic.encode() + b"\0" + msg.payload + part.encode()).hexdigest()[:32]


def kept_payload(msg: Incoming) -> str:
    """What a dead letter keeps of a payload: its first characters, as text (only the bytes
    that can hold them are decoded: four a character, and one more character's worth)."""
    head = msg.payload[: 4 * KEPT_PAYLOAD_CHARS + 4]
    return head.decode("utf-8", errors="replace")[:KEPT_PAYLOAD_CHARS]


def _reject(
    msg: Incoming, device_id: str | None, reason: Reason, detail: str, part: str = ""
) -> Rejection:
    text = kept_payload(msg)
    # A detail may quote the payload's own strings, lone surrogates included ("\ud800" is
    # valid JSON): escaped here, or the backend could not parse the batch carrying it and the
    # forwarder would resend that batch forever.
    detail = detail.encode("utf-8", errors="backslashreplace").decode("utf-8")[:MAX_DETAIL_CHARS]
    return Rejection(
        id=letter_id(msg, part),
        topic=msg.topic,
        device_id=device_id,
        reason=reason,
        detail=detail,
        payload=text,
        payload_bytes=len(msg.payload),
        received_at=msg.received_at,
    )


def describe(err: ValidationError, prefix: str = "") -> str:
    """``readings[2].fill_pct: Input should be less than or equal to 100 (got 150)``."""
    parts = []
    for error in err.errors()[:5]:
        loc = prefix
        for item in error["loc"]:
            if item in ("lamp", "bin"):  # the discriminator's branch name adds nothing
                continue
            loc += f"[{item}]" if isinstance(item, int) else (f".{item}" if loc else str(item))
        got = repr(error.get("input"))
        got = got if len(got) <= 40 else got[:37] + "..."
        where = f"{loc}: " if loc else ""
        parts.append(f"{where}{error['msg']} (got {got})")
    return "; ".join(parts)


def _parse(payload: bytes) -> Any:
    """The payload's JSON, as ``json.loads`` gives it, or its error.

    orjson parses six times faster and gives the same values, except for integers beyond 64
    bits (it makes them floats): a payload with a run of 19 digits therefore goes the standard
    way, as does all orjson refuses (NaN, lone surrogates, and what is not JSON at all), so that
    a dead letter quotes the standard error.
    """
    if _LONG_DIGITS.search(payload) is None:
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            pass
    return json.loads(payload.decode("utf-8"))


# A well-formed topic in one match: the contract's prefix, device id pattern and channels.
_TOPIC = re.compile(
    f"{re.escape(PREFIX)}/({DEVICE_ID_PATTERN.removeprefix('^').removesuffix('$')})"
    f"/({'|'.join(CHANNELS)})"
)


def _topic(topic: str) -> tuple[str, str]:
    """The topic's device id and channel: one regular expression for the common topic
    (``Topic.parse`` builds and checks a dataclass: 1.5 µs a message), ``Topic.parse`` for the
    rest, which decides and raises ``TopicError`` as always. Not a cache: at 100,000 devices
    one held 20 MB of the gateway's memory."""
    match = _TOPIC.fullmatch(topic)
    if match is not None:
        return match[1], match[2]
    parsed = Topic.parse(topic)
    return parsed.device_id, parsed.channel


def unprocessable(msg: Incoming, err: BaseException) -> Rejection:
    """The dead letter of a message whose checking raised: a bug or a shape nobody foresaw.

    It names the error, so that the bug can be found; intake goes on with the next message.
    """
    try:
        device_id: str | None = Topic.parse(msg.topic).device_id
    except TopicError:
        device_id = None
    try:
        said = str(err)
    except Exception:  # noqa: BLE001 - an error that cannot even describe itself
        said = "(no description)"
    detail = f"checking the message failed: {type(err).__name__}: {said}"
    return _reject(msg, device_id, Reason.UNPROCESSABLE, detail)


class Validator:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def check(self, msg: Incoming) -> Checked:
        out = Checked()
        try:
            device_id, channel = _topic(msg.topic)
        except TopicError as err:
            out.rejections.append(_reject(msg, None, Reason.BAD_TOPIC, str(err)))
            return out
        if len(msg.payload) > self.limits.max_payload_bytes:
            detail = f"{len(msg.payload)} bytes, more than {self.limits.max_payload_bytes}"
            out.rejections.append(_reject(msg, device_id, Reason.OVERSIZED, detail))
            return out
        if channel == "telemetry" and self._one_reading(msg, device_id, out):
            return out
        try:
            body = _parse(msg.payload)
        except UnicodeDecodeError as err:
            detail = f"payload is not UTF-8: {err}"
            out.rejections.append(_reject(msg, device_id, Reason.MALFORMED_JSON, detail))
            return out
        except json.JSONDecodeError as err:
            out.rejections.append(_reject(msg, device_id, Reason.MALFORMED_JSON, str(err)))
            return out
        except RecursionError:
            detail = f"JSON nested deeper than the parser allows ({MAX_NESTING} levels)"
            out.rejections.append(_reject(msg, device_id, Reason.MALFORMED_JSON, detail))
            return out
        except ValueError as err:  # an integer of more digits than Python converts (4300)
            detail = f"JSON not readable: {err}"
            out.rejections.append(_reject(msg, device_id, Reason.MALFORMED_JSON, detail))
            return out
        if not isinstance(body, dict):
            detail = f"expected a JSON object, got {type(body).__name__}"
            out.rejections.append(_reject(msg, device_id, Reason.MALFORMED_JSON, detail))
            return out
        if channel == "telemetry":
            self._telemetry(msg, device_id, body, out)
        elif channel == "status":
            self._status(msg, device_id, body, out)
        else:
            detail = f"channel {channel!r} carries messages to nodes, not from them"
            out.rejections.append(_reject(msg, device_id, Reason.BAD_TOPIC, detail))
        return out

    def _telemetry(self, msg: Incoming, device_id: str, body: dict[str, Any], out: Checked) -> None:
        if "readings" not in body:
            self._reading(msg, device_id, body, "", out)
            return
        items, extra = body["readings"], set(body) - {"readings", "dropped"}
        dropped = body.get("dropped", 0)
        problem = ""
        if extra:
            problem = f"unknown batch field(s): {', '.join(sorted(extra))}"
        elif not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH_READINGS:
            problem = f"readings: expected a list of 1 to {MAX_BATCH_READINGS} readings"
        elif type(dropped) is not int or dropped < 0:
            problem = f"dropped: expected a non-negative integer (got {dropped!r})"
        if problem:
            out.rejections.append(_reject(msg, device_id, Reason.SCHEMA, problem))
            return
        out.dropped += dropped
        for index, item in enumerate(items):
            self._reading(msg, device_id, item, f"readings[{index}]", out)

    def _one_reading(self, msg: Incoming, device_id: str, out: Checked) -> bool:
        """The common message in one step: a single reading that ``fastreading.decode``
        takes, then placed as ``_reading`` places it. False for anything else, which goes the
        whole way (the standard parse, the models) and is decided there.

        Without ``_parse``'s search for long integers (a third of the message's checking): of
        an integer beyond 64 bits msgspec declines the reading (no field of the contract takes
        one), and every value it takes is what ``json.loads`` gives
        (tests/unit/test_fastreading.py)."""
        data = fastreading.decode(msg.payload)
        if data is None:
            return False
        self._place(msg, device_id, data, "", out)
        return True

    def _reading(self, msg: Incoming, device_id: str, item: Any, where: str, out: Checked) -> None:
        data = fastreading.accept(item)
        if data is None:  # not the common case: the contract's models decide, and say why
            try:
                reading: BaseModel = _READING.validate_python(item)
            except ValidationError as err:
                out.rejections.append(
                    _reject(msg, device_id, Reason.SCHEMA, describe(err, where), where)
                )
                return
            data = reading.model_dump(exclude_none=True)
        self._place(msg, device_id, data, where, out)

    def common_reading(self, msg: Incoming) -> dict[str, Any] | None:
        """The common message's reading, as ``check`` accepts it: one reading on a well-formed
        telemetry topic, taken by ``fastreading.decode`` and placed. None for anything else,
        accepted or not: ``check`` then goes its way, which decides and names what is wrong.
        Intake asks this first: the common message without ``Checked`` and its three lists."""
        match = _TOPIC.fullmatch(msg.topic)
        if match is None or match[2] != "telemetry":
            return None
        if len(msg.payload) > self.limits.max_payload_bytes:
            return None
        data = fastreading.decode(msg.payload)
        if data is None or self._misplaced(msg, match[1], data, "") is not None:
            return None
        return data

    def _place(
        self, msg: Incoming, device_id: str, data: dict[str, Any], where: str, out: Checked
    ) -> None:
        """A valid reading checked against its topic and the gateway's clock, then kept."""
        rejection = self._misplaced(msg, device_id, data, where)
        if rejection is None:
            out.readings.append(data)
        else:
            out.rejections.append(rejection)

    def _misplaced(
        self, msg: Incoming, device_id: str, data: dict[str, Any], where: str
    ) -> Rejection | None:
        """A valid reading checked against its topic and the gateway's clock: why it cannot be
        kept, or None, and then its time and arrival set."""
        prefix = f"{where}: " if where else ""
        if data["id"] != device_id:
            detail = f"{prefix}id {data['id']!r} is not the topic's device {device_id!r}"
            return _reject(msg, device_id, Reason.ID_MISMATCH, detail, where)
        if not data["synced"]:
            data["ts"] = int(msg.received_at)  # the node's clock is unset: use arrival time
        ahead = data["ts"] - msg.received_at
        if ahead > self.limits.max_future_s:
            detail = f"{prefix}ts {data['ts']} is {ahead:.0f} s ahead of the gateway clock"
            return _reject(msg, device_id, Reason.FUTURE_TS, detail, where)
        if -ahead > self.limits.max_age_s:
            detail = f"{prefix}ts {data['ts']} is {-ahead / 86400:.1f} days old"
            return _reject(msg, device_id, Reason.STALE_TS, detail, where)
        data["received_at"] = msg.received_at
        return None

    def _status(self, msg: Incoming, device_id: str, body: dict[str, Any], out: Checked) -> None:
        try:
            status = _STATUS.validate_python(body)
        except ValidationError as err:
            out.rejections.append(_reject(msg, device_id, Reason.SCHEMA, describe(err)))
            return
        if status.id != device_id:
            detail = f"id {status.id!r} is not the topic's device {device_id!r}"
            out.rejections.append(_reject(msg, device_id, Reason.ID_MISMATCH, detail))
            return
        data = status.model_dump(exclude_none=True)
        data["received_at"] = msg.received_at
        data["retained"] = msg.retained
        out.statuses.append(data)
