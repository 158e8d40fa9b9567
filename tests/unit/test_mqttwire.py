"""The MQTT v5 codec: exact bytes out, the same packets in however the stream is cut.

Properties in the test packets are packed by paho's own encoder, an implementation
independent of ours, so that skipping and reading them is checked against real layouts.
"""

from __future__ import annotations

import itertools
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sangsach.gateway import mqttwire
from sangsach.gateway.mqttwire import (
    ConnAck,
    Decoder,
    Disconnect,
    MalformedPacket,
    Packet,
    PingResp,
    Publish,
    SubAck,
)


def props(packet_type: int, **values: object) -> bytes:
    """Property list (length first) packed by paho."""
    packed = Properties(packet_type)  # type: ignore[no-untyped-call]
    for name, value in values.items():
        setattr(packed, name, value)
    return bytes(packed.pack())  # type: ignore[no-untyped-call]


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + mqttwire.varint(len(body)) + body


def string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def publish(
    topic: str,
    payload: bytes,
    *,
    qos: int = 1,
    mid: int = 1,
    retain: bool = False,
    dup: bool = False,
    properties: bytes = b"\x00",
) -> bytes:
    first = 0x30 | qos << 1 | (8 if dup else 0) | (1 if retain else 0)
    body = string(topic) + (struct.pack(">H", mid) if qos else b"") + properties + payload
    return packet(first, body)


PUBLISH_PROPS = props(
    PacketTypes.PUBLISH,
    MessageExpiryInterval=3600,
    ContentType="application/json",
    CorrelationData=b"\x00\x01corr",
    UserProperty=[("node", "lamp-a-01"), ("fw", "1.2.3")],
    SubscriptionIdentifier=[300],
    PayloadFormatIndicator=1,
)

STREAM: list[tuple[bytes, Packet]] = [
    (
        packet(0x20, b"\x01\x00" + props(PacketTypes.CONNACK, ServerKeepAlive=20)),
        ConnAck(True, mqttwire.reason(0), server_keep_alive=20),
    ),
    (
        packet(0x90, b"\x00\x01" + props(PacketTypes.SUBACK, ReasonString="ok") + b"\x01\x00"),
        SubAck(1, [mqttwire.reason(1), mqttwire.reason(0, mqttwire.SUBACK)], "ok"),
    ),
    (
        publish("sangsach/v1/lamp-a-01/telemetry", b'{"seq": 1}', mid=65535),
        Publish("sangsach/v1/lamp-a-01/telemetry", b'{"seq": 1}', 1, False, False, 65535),
    ),
    (
        publish("sangsach/v1/bin-1/status", b"online", qos=0, retain=True),
        Publish("sangsach/v1/bin-1/status", b"online", 0, True, False, 0),
    ),
    (
        publish("t/ü", b"", mid=7, dup=True, properties=PUBLISH_PROPS),
        Publish("t/ü", b"", 1, False, True, 7),
    ),
    (
        publish("t", b"with properties", mid=8, properties=PUBLISH_PROPS),
        Publish("t", b"with properties", 1, False, False, 8),
    ),
    (
        publish("sangsach/v1/lamp-a-02/telemetry", b"j" * 300, mid=9),  # two length bytes
        Publish("sangsach/v1/lamp-a-02/telemetry", b"j" * 300, 1, False, False, 9),
    ),
    (
        publish("x", b"k" * 20_000, mid=10, properties=PUBLISH_PROPS),  # three length bytes
        Publish("x", b"k" * 20_000, 1, False, False, 10),
    ),
    (b"\xd0\x00", PingResp()),
    (
        packet(0xE0, b"\x8b" + props(PacketTypes.DISCONNECT, ReasonString="bye")),
        Disconnect(mqttwire.reason(0x8B), "bye"),
    ),
    (b"\xe0\x00", Disconnect(mqttwire.reason(0, mqttwire.DISCONNECT))),
]
WIRE = b"".join(data for data, _ in STREAM)
EXPECTED = [expected for _, expected in STREAM]


def feed_in_pieces(data: bytes, cuts: list[int]) -> list[Packet]:
    decoder = Decoder()
    packets: list[Packet] = []
    for start, stop in zip([0, *cuts], [*cuts, len(data)], strict=True):
        packets += decoder.feed(data[start:stop])
    return packets


def test_a_whole_stream_decodes_to_its_packets() -> None:
    assert Decoder().feed(WIRE) == EXPECTED


def test_one_byte_at_a_time_gives_the_same_packets() -> None:
    assert feed_in_pieces(WIRE, list(range(1, len(WIRE)))) == EXPECTED


@pytest.mark.parametrize("seed", range(20))
def test_random_splits_give_the_same_packets(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(WIRE)), rng.randint(1, 30)))
    assert feed_in_pieces(WIRE, cuts) == EXPECTED


def test_a_packet_is_returned_only_once_complete() -> None:
    decoder = Decoder()
    data = publish("a/b", b"xyz", mid=3)
    assert decoder.feed(data[:-1]) == []
    assert decoder.feed(data[-1:] + data[:2]) == [Publish("a/b", b"xyz", 1, False, False, 3)]
    assert decoder.feed(data[2:]) == [Publish("a/b", b"xyz", 1, False, False, 3)]


@pytest.mark.parametrize("chunk", [65_536, 997, 1_048_576 + 100])
def test_megabyte_payloads_arrive_whole(chunk: int) -> None:
    big = bytes(range(256)) * 4096  # 1 MiB
    data = publish("big", big, mid=1) + publish("big", big[::-1], mid=2, properties=PUBLISH_PROPS)
    cuts = list(range(chunk, len(data), chunk))
    packets = feed_in_pieces(data, cuts)
    assert [(p.payload, p.packet_id) for p in packets if isinstance(p, Publish)] == [
        (big, 1),
        (big[::-1], 2),
    ]


@pytest.mark.parametrize(
    "value", [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455]
)
def test_variable_byte_integers_round_trip(value: int) -> None:
    encoded = mqttwire.varint(value)
    assert len(encoded) == 1 + (value > 127) + (value > 16_383) + (value > 2_097_151)
    assert props(PacketTypes.PUBLISH, SubscriptionIdentifier=[max(value, 1)])[2:] == (
        mqttwire.varint(max(value, 1))
    )  # paho writes a Subscription Identifier as a variable byte integer too
    if 6 <= value <= 2_097_152:  # a PUBLISH whose Remaining Length is this very value
        payload = b"p" * (value - 6)
        body = string("t") + b"\x00\x01\x00" + payload
        assert len(body) == value
        decoded = Decoder().feed(b"\x32" + encoded + body)
        assert decoded == [Publish("t", payload, 1, False, False, 1)]


def test_variable_byte_integers_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        mqttwire.varint(268_435_456)
    with pytest.raises(ValueError, match="does not fit"):
        mqttwire.varint(-1)


def test_connect_bytes() -> None:
    data = mqttwire.connect(
        "sangsach-gw-1",
        keepalive=30,
        clean_start=False,
        session_expiry=604_800,
        receive_maximum=1000,
        username="gateway",
        password="s3cret",
    )
    properties = props(PacketTypes.CONNECT, SessionExpiryInterval=604_800, ReceiveMaximum=1000)
    body = (
        string("MQTT")
        + bytes([5, 0b1100_0000])  # v5; user name and password; clean start off
        + struct.pack(">H", 30)
        + properties
        + string("sangsach-gw-1")
        + string("gateway")
        + string("s3cret")
    )
    assert data == b"\x10" + mqttwire.varint(len(body)) + body


def test_connect_without_account_and_with_clean_start() -> None:
    data = mqttwire.connect(
        "c", keepalive=5, clean_start=True, session_expiry=60, receive_maximum=1
    )
    assert data[9] == 0b0000_0010
    assert data.endswith(string("c"))


def test_subscribe_bytes() -> None:
    data = mqttwire.subscribe(1, [("$share/g/sangsach/v1/+/telemetry", 1), ("a/#", 0)])
    body = (
        b"\x00\x01\x00"
        + string("$share/g/sangsach/v1/+/telemetry")
        + b"\x01"
        + string("a/#")
        + b"\x00"
    )
    assert data == b"\x82" + mqttwire.varint(len(body)) + body
    with pytest.raises(ValueError, match="at least one"):
        mqttwire.subscribe(1, [])


def test_pubacks_ping_and_disconnect_bytes() -> None:
    assert mqttwire.puback(0x1234) == b"\x40\x02\x12\x34"
    assert mqttwire.pubacks([1, 0, 65535]) == b"\x40\x02\x00\x01\x40\x02\xff\xff"
    assert mqttwire.pubacks([0]) == b""
    assert mqttwire.PINGREQ_PACKET == b"\xc0\x00"
    assert mqttwire.disconnect() == b"\xe0\x00"
    assert mqttwire.disconnect(0x82) == b"\xe0\x02\x82\x00"


def test_reason_codes_read_as_their_names() -> None:
    refused = packet(0x20, b"\x00\x87" + props(PacketTypes.CONNACK, ReasonString="no"))
    (connack,) = Decoder().feed(refused)
    assert isinstance(connack, ConnAck)
    assert str(connack.reason) == "Not authorized (0x87)"
    assert connack.reason.is_failure and connack.reason_string == "no"
    assert str(mqttwire.reason(0x86)) == "Bad User Name or Password (0x86)"
    assert str(mqttwire.reason(0x9E, mqttwire.SUBACK)) == (
        "Shared Subscriptions not supported (0x9E)"
    )
    assert str(mqttwire.reason(0, mqttwire.SUBACK)) == "Granted QoS 0 (0x00)"
    assert not mqttwire.reason(2, mqttwire.SUBACK).is_failure
    assert str(mqttwire.reason(0x7F)) == "unknown reason code (0x7F)"


def test_an_mqtt_3_broker_refusal_is_named() -> None:
    (connack,) = Decoder().feed(b"\x20\x02\x00\x01")
    assert isinstance(connack, ConnAck)
    assert connack.reason.code == 1 and "MQTT v5" in connack.reason.name


def test_a_qos_2_publish_is_decoded_for_the_client_to_refuse() -> None:
    (received,) = Decoder().feed(publish("t", b"x", qos=2, mid=9))
    assert isinstance(received, Publish) and received.qos == 2 and received.packet_id == 9


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x30\xff\xff\xff\xff\x7f", "past four bytes"),
        (publish("t", b"x", qos=3), "QoS 3"),
        (packet(0x32, b"\x00\x09ab\x00\x01"), "topic runs past"),
        (packet(0x32, b"\x00\x00\x00\x01\x00x"), "without a topic"),
        (packet(0x32, b"\x00\x02\xff\xfe\x00\x01\x00x"), "not UTF-8"),
        (packet(0x32, b"\x00\x01t\x00\x00\x00x"), "packet identifier 0"),
        (packet(0x32, b"\x00\x01t\x00\x01\x09ab"), "properties run past"),
        (packet(0x30, b"\x00"), "too short"),
        (packet(0x50, b"\x00\x01"), "packet type 5"),
        (packet(0x92, b"\x00\x01\x00\x01"), "reserved flags"),
        (packet(0x20, b"\x00\x00\x02\x7e\x00"), "unknown property identifier 0x7e"),
        (packet(0x20, b"\x00\x00\x03\x1f\x00\x09"), "runs past its list"),
        (packet(0x20, b"\x00\x00\x05\x11\x00"), "properties run past"),
        (packet(0x20, b"\x00"), "CONNACK shorter"),
        (packet(0x20, b"\x04\x00\x00"), "CONNACK with reserved flags"),
        (packet(0x90, b"\x00\x01\x00"), "without reason codes"),
        (packet(0xD0, b"\x00"), "PINGRESP with a body"),
    ],
)
def test_malformed_input_is_a_clear_error(data: bytes, error: str) -> None:
    with pytest.raises(MalformedPacket, match=error):
        Decoder().feed(data)


# What a broker, or anything pretending to be one, may send: arbitrary bytes, and packets with a
# plausible header (any type and flags, the right length) around an arbitrary body, so that the
# parsers behind the header are reached too.
FIRST_BYTES = st.sampled_from([0x20, 0x30, 0x31, 0x32, 0x33, 0x3A, 0x3D, 0x90, 0xD0, 0xE0])
FRAMED = st.builds(packet, FIRST_BYTES | st.integers(0, 255), st.binary(max_size=300))
STREAMS = st.one_of(
    st.binary(max_size=600),
    st.lists(FRAMED | st.binary(max_size=8), max_size=8).map(b"".join),
)


def decode_in_chunks(data: bytes, cuts: list[int]) -> tuple[list[Packet], bool]:
    """Every packet the decoder returned, and whether it refused the stream; the decoder may
    do nothing else."""
    decoder = Decoder()
    got: list[Packet] = []
    bounds = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    for start, end in itertools.pairwise(bounds):
        try:
            got += decoder.feed(data[start:end])
        except MalformedPacket:
            return got, True
    return got, False


@settings(max_examples=3000, deadline=None)
@given(STREAMS, st.lists(st.integers(0, 2000), max_size=12))
def test_any_bytes_in_any_chunks_are_packets_or_malformed_nothing_else(
    data: bytes, cuts: list[int]
) -> None:
    packets, refused = decode_in_chunks(data, cuts)
    assert all(isinstance(p, Publish | ConnAck | SubAck | PingResp | Disconnect) for p in packets)
    for p in packets:
        if isinstance(p, Publish):
            assert isinstance(p.topic, str) and isinstance(p.payload, bytes) and p.qos in (0, 1, 2)
    whole, whole_refused = decode_in_chunks(data, [])
    assert whole_refused == refused, "the cut changed whether the stream is refused"
    if not refused:
        assert packets == whole, "the cut changed the packets"


def test_connect_announces_a_maximum_packet_size() -> None:
    data = mqttwire.connect(
        "gateway-gw-1",
        keepalive=30,
        clean_start=False,
        session_expiry=60,
        receive_maximum=10,
        maximum_packet_size=300_000,
    )
    properties = props(
        PacketTypes.CONNECT,
        SessionExpiryInterval=60,
        ReceiveMaximum=10,
        MaximumPacketSize=300_000,
    )
    body = string("MQTT") + bytes([5, 0]) + struct.pack(">H", 30) + properties
    assert data == b"\x10" + mqttwire.varint(len(body + string("gateway-gw-1"))) + body + string(
        "gateway-gw-1"
    )


def test_a_packet_above_the_maximum_is_refused_from_its_header() -> None:
    """Refused once its header says its size: 32 MB are never buffered to learn it."""
    big = publish("sangsach/v1/lamp-a-01/telemetry", b"x" * 2000)
    decoder = Decoder(max_packet=1000)
    with pytest.raises(MalformedPacket, match=r"packet of 20\d\d bytes, above the Maximum"):
        decoder.feed(big[:4])
    fits = publish("sangsach/v1/lamp-a-01/telemetry", b"x" * 900)
    assert [p.payload for p in Decoder(max_packet=len(fits)).feed(fits)] == [b"x" * 900]  # type: ignore[union-attr]
    with pytest.raises(MalformedPacket):
        Decoder(max_packet=len(fits) - 1).feed(fits)
