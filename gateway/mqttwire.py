"""MQTT v5 on the wire, for a subscriber: the packets the gateway sends, and a stream decoder.

Pure: bytes in, bytes or packet records out, no sockets and no clock. The decoder takes the
stream in chunks of any size and returns every packet that is complete; a packet split across
chunks waits for its rest. It reads what a broker sends a subscribing client (CONNACK, PUBLISH,
SUBACK, PINGRESP, DISCONNECT) and refuses anything else with :class:`MalformedPacket`.

PUBLISH is the hot path: its properties are skipped by their length, never parsed, and topic
and payload are sliced straight out of the received bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

MAX_REMAINING = 268_435_455  # the largest Remaining Length four bytes can carry

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14

PINGREQ_PACKET = b"\xc0\x00"
_PUBACK = struct.Struct(">BBH")

# Property identifiers the gateway reads or writes (MQTT v5, section 2.2.2.2).
SESSION_EXPIRY_INTERVAL = 0x11
SERVER_KEEP_ALIVE = 0x13
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
MAXIMUM_PACKET_SIZE = 0x27

# How each property's value is laid out, to walk a property list (section 2.2.2.2).
_BYTE, _TWO, _FOUR, _VARINT, _STRING, _BINARY, _PAIR = range(7)
_PROPERTY_FORMS = {
    0x01: _BYTE, 0x02: _FOUR, 0x03: _STRING, 0x08: _STRING, 0x09: _BINARY, 0x0B: _VARINT,
    0x11: _FOUR, 0x12: _STRING, 0x13: _TWO, 0x15: _STRING, 0x16: _BINARY, 0x17: _BYTE,
    0x18: _FOUR, 0x19: _BYTE, 0x1A: _STRING, 0x1C: _STRING, 0x1F: _STRING, 0x21: _TWO,
    0x22: _TWO, 0x23: _TWO, 0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _FOUR, 0x28: _BYTE,
    0x29: _BYTE, 0x2A: _BYTE,
}  # fmt: skip

REASONS = {
    0x00: "Success",
    0x01: "Granted QoS 1",
    0x02: "Granted QoS 2",
    0x04: "Disconnect with Will Message",
    0x10: "No matching subscribers",
    0x11: "No subscription existed",
    0x18: "Continue authentication",
    0x19: "Re-authenticate",
    0x80: "Unspecified error",
    0x81: "Malformed Packet",
    0x82: "Protocol Error",
    0x83: "Implementation specific error",
    0x84: "Unsupported Protocol Version",
    0x85: "Client Identifier not valid",
    0x86: "Bad User Name or Password",
    0x87: "Not authorized",
    0x88: "Server unavailable",
    0x89: "Server busy",
    0x8A: "Banned",
    0x8B: "Server shutting down",
    0x8C: "Bad authentication method",
    0x8D: "Keep Alive timeout",
    0x8E: "Session taken over",
    0x8F: "Topic Filter invalid",
    0x90: "Topic Name invalid",
    0x91: "Packet Identifier in use",
    0x92: "Packet Identifier not found",
    0x93: "Receive Maximum exceeded",
    0x94: "Topic Alias invalid",
    0x95: "Packet too large",
    0x96: "Message rate too high",
    0x97: "Quota exceeded",
    0x98: "Administrative action",
    0x99: "Payload format invalid",
    0x9A: "Retain not supported",
    0x9B: "QoS not supported",
    0x9C: "Use another server",
    0x9D: "Server moved",
    0x9E: "Shared Subscriptions not supported",
    0x9F: "Connection rate exceeded",
    0xA0: "Maximum connect time",
    0xA1: "Subscription Identifiers not supported",
    0xA2: "Wildcard Subscriptions not supported",
}
# An MQTT 3.1.1 broker answers a v5 CONNECT with its own return codes (1 to 5).
_V311_CONNACK = {
    1: "unacceptable protocol version (the broker does not speak MQTT v5)",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class MalformedPacket(ValueError):
    """The byte stream breaks MQTT v5; the connection cannot be trusted any further."""


@dataclass(frozen=True, slots=True)
class Reason:
    """A reason code with its name from the specification, printed as ``Name (0x87)``."""

    code: int
    name: str

    @property
    def is_failure(self) -> bool:
        return self.code >= 0x80

    def __str__(self) -> str:
        return f"{self.name} (0x{self.code:02X})"


def reason(code: int, packet: int = CONNACK) -> Reason:
    """Name a reason code; 0x00 reads differently in a SUBACK and a DISCONNECT."""
    if code == 0 and packet == SUBACK:
        return Reason(0, "Granted QoS 0")
    if code == 0 and packet == DISCONNECT:
        return Reason(0, "Normal disconnection")
    return Reason(code, REASONS.get(code, "unknown reason code"))


class Publish(NamedTuple):
    """A named tuple rather than a dataclass: one is made per message, and tuples are cheap."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int  # 0 for QoS 0, which carries none and is not acknowledged


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    reason: Reason
    server_keep_alive: int | None = None  # seconds; replaces the client's keepalive when set
    reason_string: str = ""


@dataclass(frozen=True, slots=True)
class SubAck:
    packet_id: int
    reasons: list[Reason] = field(default_factory=list)
    reason_string: str = ""


@dataclass(frozen=True, slots=True)
class PingResp:
    pass


@dataclass(frozen=True, slots=True)
class Disconnect:
    reason: Reason
    reason_string: str = ""


Packet = Publish | ConnAck | SubAck | PingResp | Disconnect


# Encoding: what the gateway sends.


def varint(value: int) -> bytes:
    """Variable Byte Integer: 7 bits per byte, low bits first, high bit set while more follow."""
    if not 0 <= value <= MAX_REMAINING:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        value, digit = value >> 7, value & 0x7F
        out.append(digit | 0x80 if value else digit)
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 0xFFFF:
        raise ValueError("an MQTT string holds at most 65535 bytes")
    return struct.pack(">H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def connect(
    client_id: str,
    *,
    keepalive: int,
    clean_start: bool,
    session_expiry: int,
    receive_maximum: int,
    maximum_packet_size: int = 0,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """CONNECT for MQTT v5, without a will. A Maximum Packet Size (0: none) tells the broker
    not to send larger packets: it drops such a message for this client rather than send it."""
    flags = 0x02 if clean_start else 0
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    properties = struct.pack(
        ">BIBH", SESSION_EXPIRY_INTERVAL, session_expiry, RECEIVE_MAXIMUM, receive_maximum
    )
    if maximum_packet_size:
        properties += struct.pack(">BI", MAXIMUM_PACKET_SIZE, maximum_packet_size)
    body = b"".join(
        [
            _string("MQTT"),
            struct.pack(">BBH", 5, flags, keepalive),
            varint(len(properties)),
            properties,
            _string(client_id),
            _string(username) if username is not None else b"",
            _string(password) if password is not None else b"",
        ]
    )
    return _packet(CONNECT << 4, body)


def subscribe(packet_id: int, filters: Iterable[tuple[str, int]]) -> bytes:
    """SUBSCRIBE to each (filter, maximum QoS); no subscription options beyond the QoS."""
    entries = b"".join(_string(topic) + bytes([qos]) for topic, qos in filters)
    if not entries:
        raise ValueError("SUBSCRIBE needs at least one topic filter")
    return _packet(SUBSCRIBE << 4 | 0x02, struct.pack(">HB", packet_id, 0) + entries)


def puback(packet_id: int) -> bytes:
    """PUBACK with success: reason code and properties left out, four bytes in all."""
    return _PUBACK.pack(PUBACK << 4, 2, packet_id)


def pubacks(packet_ids: Iterable[int]) -> bytes:
    """The PUBACKs of many messages, to send in one write; QoS 0 messages (id 0) need none."""
    pack = _PUBACK.pack
    return b"".join([pack(0x40, 2, mid) for mid in packet_ids if mid])


def disconnect(code: int = 0) -> bytes:
    """DISCONNECT; reason 0 keeps the session for its Session Expiry Interval."""
    if code == 0:
        return bytes([DISCONNECT << 4, 0])
    return bytes([DISCONNECT << 4, 2, code, 0])


# Decoding: what the broker sends.


def _read_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """Value and the position after it; (-1, -1) when the bytes end before the integer does."""
    value = 0
    for shift in (0, 7, 14, 21):
        if pos >= end:
            return -1, -1
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
    raise MalformedPacket("a variable byte integer runs past four bytes")


class Decoder:
    """Feed it the byte stream in chunks; each ``feed`` returns the packets it completed.

    With ``max_packet`` (the Maximum Packet Size the client announced), a packet announcing a
    larger size is refused as soon as its header is read, before its body is buffered.
    """

    def __init__(self, max_packet: int = 0) -> None:
        self._rest = bytearray()  # the start of a packet that has not fully arrived
        self._need = 0  # bytes the rest must reach before parsing is worth trying again
        self._max = max_packet or MAX_REMAINING + 5  # a whole packet, header included

    def feed(self, data: bytes) -> list[Packet]:
        if self._rest:
            self._rest += data
            if len(self._rest) < self._need:
                return []  # a large packet still arriving: do not rescan it
            data = bytes(self._rest)
            self._rest.clear()
        packets: list[Packet] = []
        pos, end = 0, len(data)
        while end - pos >= 2:
            first = data[pos]
            length = data[pos + 1]
            if length < 0x80:
                start = pos + 2
            elif end - pos > 2 and data[pos + 2] < 0x80:  # the usual telemetry: two bytes
                length = (length & 0x7F) | data[pos + 2] << 7
                start = pos + 3
            else:
                length, start = _read_varint(data, pos + 1, end)
                if start < 0:
                    self._need = end - pos + 1
                    break
            stop = start + length
            if stop - pos > self._max:
                raise MalformedPacket(
                    f"a packet of {stop - pos} bytes, above the Maximum Packet Size {self._max}"
                )
            if stop > end:
                self._need = stop - pos
                break
            if first >> 4 == PUBLISH:
                packets.append(_publish(first, data, start, stop))
            else:
                packets.append(_control(first, data[start:stop]))
            pos = stop
        else:
            self._need = 2
        if pos < end:
            self._rest += data[pos:]
        return packets


def _publish(first: int, data: bytes, pos: int, stop: int) -> Publish:
    qos = (first >> 1) & 3
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    if stop - pos < 2:
        raise MalformedPacket("PUBLISH too short for its topic")
    topic_end = pos + 2 + (data[pos] << 8 | data[pos + 1])
    if topic_end > stop:
        raise MalformedPacket("PUBLISH topic runs past the packet")
    if topic_end == pos + 2:
        raise MalformedPacket("PUBLISH without a topic (no topic aliases were agreed)")
    try:
        topic = data[pos + 2 : topic_end].decode()
    except UnicodeDecodeError as err:
        raise MalformedPacket(f"PUBLISH topic is not UTF-8: {err}") from None
    pos = topic_end
    packet_id = 0
    if qos:
        if stop - pos < 2:
            raise MalformedPacket("PUBLISH too short for its packet identifier")
        packet_id = data[pos] << 8 | data[pos + 1]
        if packet_id == 0:
            raise MalformedPacket("PUBLISH with QoS > 0 and packet identifier 0")
        pos += 2
    length, pos = _read_varint(data, pos, stop)
    if pos < 0 or pos + length > stop:
        raise MalformedPacket("PUBLISH properties run past the packet")
    return Publish(
        topic, data[pos + length : stop], qos, bool(first & 1), bool(first & 8), packet_id
    )


def _control(first: int, body: bytes) -> Packet:
    kind, flags = first >> 4, first & 0x0F
    if flags:
        raise MalformedPacket(f"packet type {kind} with reserved flags {flags:#x}")
    if kind == CONNACK:
        if len(body) < 2:
            raise MalformedPacket("CONNACK shorter than two bytes")
        if body[0] & 0xFE:
            raise MalformedPacket(f"CONNACK with reserved flags {body[0]:#x}")
        if len(body) == 2 and 0 < body[1] < 0x80:
            return ConnAck(False, Reason(body[1], _V311_CONNACK.get(body[1], "refused")))
        props = _properties(body, 2)
        keep_alive = props.get(SERVER_KEEP_ALIVE)
        return ConnAck(
            bool(body[0] & 1),
            reason(body[1], CONNACK),
            keep_alive if isinstance(keep_alive, int) else None,
            str(props.get(REASON_STRING, "")),
        )
    if kind == SUBACK:
        if len(body) < 3:
            raise MalformedPacket("SUBACK shorter than three bytes")
        pos, props = _properties_at(body, 2)
        if pos >= len(body):
            raise MalformedPacket("SUBACK without reason codes")
        return SubAck(
            body[0] << 8 | body[1],
            [reason(code, SUBACK) for code in body[pos:]],
            str(props.get(REASON_STRING, "")),
        )
    if kind == PINGRESP:
        if body:
            raise MalformedPacket("PINGRESP with a body")
        return PingResp()
    if kind == DISCONNECT:
        if not body:
            return Disconnect(reason(0, DISCONNECT))
        props = _properties(body, 1) if len(body) > 1 else {}
        return Disconnect(reason(body[0], DISCONNECT), str(props.get(REASON_STRING, "")))
    raise MalformedPacket(f"packet type {kind} is not one a broker sends to a subscriber")


def _properties(body: bytes, pos: int) -> dict[int, int | str | bytes]:
    return _properties_at(body, pos)[1]


def _properties_at(body: bytes, pos: int) -> tuple[int, dict[int, int | str | bytes]]:
    """Walk a property list (the last value of a repeated one wins); return the end and values."""
    length, pos = _read_varint(body, pos, len(body))
    if pos < 0 or pos + length > len(body):
        raise MalformedPacket("properties run past the packet")
    end = pos + length
    values: dict[int, int | str | bytes] = {}
    while pos < end:
        ident = body[pos]
        form = _PROPERTY_FORMS.get(ident)
        if form is None:
            raise MalformedPacket(f"unknown property identifier {ident:#x}")
        pos += 1
        value: int | str | bytes
        if form == _VARINT:
            value, pos = _read_varint(body, pos, end)
            if pos < 0:
                raise MalformedPacket("a property runs past its list")
        elif form in (_BYTE, _TWO, _FOUR):
            size = {_BYTE: 1, _TWO: 2, _FOUR: 4}[form]
            value, pos = int.from_bytes(body[pos : pos + size]), pos + size
        else:
            value, pos = _binary(body, pos, end)
            if form == _PAIR:
                _, pos = _binary(body, pos, end)  # a user property's value; not used here
            elif form == _STRING:
                value = value.decode(errors="replace")
        if pos > end:
            raise MalformedPacket(f"property {ident:#x} runs past its list")
        values[ident] = value
    return end, values


def _binary(body: bytes, pos: int, end: int) -> tuple[bytes, int]:
    if pos + 2 > end:
        raise MalformedPacket("a length-prefixed property runs past its list")
    stop = pos + 2 + (body[pos] << 8 | body[pos + 1])
    if stop > end:
        raise MalformedPacket("a length-prefixed property runs past its list")
    return body[pos + 2 : stop], stop
