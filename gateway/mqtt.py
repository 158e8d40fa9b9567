"""The gateway's MQTT session: MQTT v5, QoS 1, a persistent session and manual acknowledgements.

Why not paho: in a drain of 100,000 readings queued at the broker (``python -m bench.profile``),
paho took about 48% of the gateway's CPU, some 40 of its 90 ms per 1000 readings. It reads each
packet with about three recv() calls, builds a message object with parsed v5 properties for
each one, and wakes its select loop through a socketpair for every PUBACK queued from another
thread. This client reads the socket in 64 KiB chunks, hands every message of a chunk to the
intake in one call and sends the PUBACKs of one spool commit in one write: its thread takes
about 5 ms per 1000 readings (a fifth of the gateway's 26 ms in the same drain).

The subset of MQTT v5 it speaks (codec in :mod:`.mqttwire`): CONNECT with clean start off, a
Session Expiry Interval, a Receive Maximum, a Maximum Packet Size, user name and password, over
TCP or TLS (the broker's certificate checked against a CA file and the host name); SUBSCRIBE
once per connection; PUBLISH QoS 0 and 1 received, acknowledged with PUBACK; PINGREQ when idle;
and DISCONNECT both ways. No will, no topic aliases, no enhanced authentication, and nothing
published. The Maximum Packet Size (512 KiB) is above the broker's own limit on what it takes
(256 KiB), so that a payload above the contract's 64 KiB still reaches the validator and is kept
as a dead letter; a packet above it drops the connection before its body is read. A QoS 2
PUBLISH, which a QoS 1 subscription never gets, drops the connection rather than being
acknowledged wrongly.

One thread reads and reconnects (1 s, doubling to 30 s); the intake thread sends PUBACKs. Both
write to the socket under one lock, which also keeps an acknowledgement from an earlier
connection off the new one: the broker redelivers those messages instead.

Flow control is ours as well as the broker's: while a Receive Maximum of messages, or the
window's bytes (16 MiB), wait unacknowledged (the spool is slow, or full), the reader stops
reading, so the backlog stays at the broker and in the TCP buffers, and the gateway holds at
most the window plus one 64 KiB read and one packet. Mosquitto 2.0.11 honours the Receive Maximum for the first window only, so without this
a lagging gateway would take in everything the broker has queued.
"""

from __future__ import annotations

import logging
import math
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence

from sangsach.config import GatewaySettings
from sangsach.contract import wildcard

from . import mqttwire
from .mqttwire import ConnAck, Disconnect, MalformedPacket, Packet, Publish, SubAck
from .validate import Incoming

log = logging.getLogger(__name__)

OnMessages = Callable[[list[Incoming], list[int], int], None]
"""Receives the messages of one read, their packet ids (0: nothing to ack) and the generation."""

READ_CHUNK = 65_536
CONNECT_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 10.0  # a write the broker does not take within this is a dead connection
MIN_RETRY_S, MAX_RETRY_S = 1.0, 30.0
SUBSCRIBE_ID = 1  # the only packet id this client assigns; one SUBSCRIBE per connection


class ConnectionLost(Exception):
    """The connection ended; the message says why, for the log."""


class Refused(ConnectionLost):
    """The CONNACK said no; already logged with its reason."""


class GatewayClient:
    """Connect, subscribe on every (re)connect, count connections, ack on request."""

    def __init__(self, settings: GatewaySettings, on_messages: OnMessages) -> None:
        self.settings = settings
        self._on_messages = on_messages
        self.generation = 0  # increments on every connection; acks are only valid within one
        self.connected = False
        self.subscribed = False  # True once the broker granted this connection's subscriptions
        self._sock: socket.socket | None = None  # set, under the lock, while connected
        self._lock = threading.Lock()  # every write to the socket, and every TLS read
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._keepalive = float(settings.mqtt_keepalive_s)
        self._last_sent = 0.0  # monotonic time of the last write to the broker
        self._last_ping = 0.0
        self._window = settings.receive_maximum
        self._window_bytes = settings.window_bytes
        self._unacked = 0  # QoS 1 messages of this connection handed over and not yet acked
        self._unacked_bytes = 0  # and their payloads' bytes
        self._sizes: dict[int, int] = {}  # packet id -> payload bytes, of those messages
        self._acked = threading.Event()  # set by every ack: a paused reader may go on
        self._tls: ssl.SSLContext | None = None
        if settings.mqtt_tls_ca is not None:
            # MQTT over TLS: the broker's certificate must chain to this CA and name the host.
            self._tls = ssl.create_default_context(cafile=str(settings.mqtt_tls_ca))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the reader thread is alive (it ends only when stopped, or by a bug)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """DISCONNECT with reason 0 (the broker keeps the session), then end the thread."""
        self._stopping.set()
        with self._lock:
            sock = self._sock
            if sock is not None:
                try:
                    sock.sendall(mqttwire.disconnect())
                    sock.shutdown(socket.SHUT_WR)  # the broker closes; the reader sees the end
                except OSError:
                    pass
        if self._thread is not None:
            self._thread.join(CONNECT_TIMEOUT_S + 5)

    def ack(self, mids: Sequence[int], generation: int) -> None:
        """Acknowledge messages in one write, unless they came on an earlier connection."""
        data = mqttwire.pubacks(mids)
        if not data:
            return
        with self._lock:
            if generation != self.generation or self._sock is None:
                return  # that connection is gone: the broker sends these messages again
            self._unacked -= len(data) // 4
            sizes = self._sizes
            self._unacked_bytes -= sum([sizes.pop(mid, 0) for mid in mids])
            self._acked.set()
            try:
                self._send(self._sock, data)
            except OSError as err:
                # The reader thread notices the broken connection and reconnects.
                log.warning("cannot send %d acknowledgements: %s", len(data) // 4, err)

    def _send(self, sock: socket.socket, data: bytes) -> None:
        """Write under the lock (the caller holds it)."""
        sock.sendall(data)
        self._last_sent = time.monotonic()

    def _run(self) -> None:
        delay = MIN_RETRY_S
        host, port = self.settings.mqtt_host, self.settings.mqtt_port
        while not self._stopping.is_set():
            try:
                sock = self._open()
            except OSError as err:
                log.warning("cannot reach the broker at %s:%s (%s); retrying", host, port, err)
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_RETRY_S)
                continue
            why: Exception | None = None
            try:
                self._session(sock)
            except (ConnectionLost, MalformedPacket, OSError) as err:
                why = err
            finally:
                was_connected = self._close(sock)
            if self._stopping.is_set():
                break
            if was_connected:
                delay = MIN_RETRY_S  # a drop after a good connection: start the backoff again
                log.warning("disconnected from the broker: %s; reconnecting in %.0f s", why, delay)
            elif not isinstance(why, Refused):
                log.warning("cannot reach the broker at %s:%s (%s); retrying", host, port, why)
            self._stopping.wait(delay)
            if not was_connected:
                delay = min(delay * 2, MAX_RETRY_S)

    def _open(self) -> socket.socket:
        """TCP (and TLS) to the broker, then CONNECT; the CONNACK is read by the session."""
        settings = self.settings
        sock = socket.create_connection(
            (settings.mqtt_host, settings.mqtt_port), timeout=CONNECT_TIMEOUT_S
        )
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=settings.mqtt_host)
            password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            sock.sendall(
                mqttwire.connect(
                    f"sangsach-{settings.gateway_id}",
                    keepalive=settings.mqtt_keepalive_s,
                    clean_start=False,
                    session_expiry=settings.session_expiry_s,
                    # Bounds the unacknowledged messages the broker sends us, so that the broker
                    # queues the backlog (Mosquitto 2.0.11 honours it for the first window only).
                    receive_maximum=settings.receive_maximum,
                    # The broker drops a larger message for us instead of sending it; set above
                    # the broker's own max_packet_size, so that nothing it takes is lost here.
                    maximum_packet_size=settings.mqtt_max_packet_bytes,
                    username=settings.mqtt_username or None,
                    password=password if settings.mqtt_username else None,
                )
            )
            sock.settimeout(SEND_TIMEOUT_S)
        except BaseException:
            sock.close()
            raise
        self._last_sent = self._last_ping = time.monotonic()
        self._keepalive = float(settings.mqtt_keepalive_s)
        return sock

    def _close(self, sock: socket.socket) -> bool:
        """Forget the socket (acks stop at once) and close it; whether it was connected."""
        with self._lock:
            was_connected = self._sock is not None
            self._sock = None
            self.connected = False
            self.subscribed = False
        sock.close()
        return was_connected

    def _session(self, sock: socket.socket) -> None:
        """Read until the connection ends; raises ConnectionLost with the reason."""
        decoder = mqttwire.Decoder(self.settings.mqtt_max_packet_bytes)
        last_received = time.monotonic()
        while True:
            if self._window_full():
                # Not reading: the silence is ours, not the broker's; pings still go out.
                self._acked.wait(min(1.0, self._keepalive / 4))
                data, last_received = None, time.monotonic()
            else:
                data = self._read(sock)
            now = time.monotonic()
            if data:
                last_received = now
                self._handle(sock, decoder.feed(data))
            elif data is not None:
                raise ConnectionLost("the broker closed the connection")
            elif self._stopping.is_set():
                return
            elif now - last_received > 1.5 * self._keepalive:
                raise ConnectionLost(f"nothing from the broker for {now - last_received:.0f} s")
            keepalive = self._keepalive
            # The broker drops us after 1.5 keepalives without a packet; and a broker silent
            # for a keepalive is asked for a PINGRESP, to learn that it is still there.
            if now - self._last_sent >= keepalive or (
                now - last_received >= keepalive and now - self._last_ping >= keepalive / 2
            ):
                self._ping(sock)

    def _window_full(self) -> bool:
        """Whether a Receive Maximum of messages, or the window's bytes, wait for
        acknowledgement (the reader waits)."""
        self._acked.clear()  # before the test: an ack arriving after it wakes the wait at once
        return self._unacked >= self._window or self._unacked_bytes >= self._window_bytes

    def _read(self, sock: socket.socket) -> bytes | None:
        """One chunk; b"" at the end of the stream; None after an idle tick of at most 1 s.

        The wait happens outside the lock so that acknowledgements go out meanwhile. A TLS read
        holds the lock, because a TLS connection must not read and write at the same time, and
        never blocks under it: the socket is readable once part of a TLS record has come, and a
        blocking read would wait for the rest (up to the send timeout) with every
        acknowledgement waiting behind it. A partial record reads as an idle tick instead.
        """
        if not isinstance(sock, ssl.SSLSocket):
            readable, _, _ = select.select([sock], [], [], min(1.0, self._keepalive / 4))
            return sock.recv(READ_CHUNK) if readable else None
        if not sock.pending():
            readable, _, _ = select.select([sock], [], [], min(1.0, self._keepalive / 4))
            if not readable:
                return None
        with self._lock:
            sock.settimeout(0.0)
            try:
                return sock.recv(READ_CHUNK)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return None  # the rest of the record has not come yet
            finally:
                sock.settimeout(SEND_TIMEOUT_S)

    def _ping(self, sock: socket.socket) -> None:
        with self._lock:
            if self._sock is sock:  # before the CONNACK, only the CONNECT may be sent
                self._send(sock, mqttwire.PINGREQ_PACKET)
                self._last_ping = self._last_sent

    def _handle(self, sock: socket.socket, packets: list[Packet]) -> None:
        messages: list[Incoming] = []
        mids: list[int] = []
        received_at = time.time()
        for packet in packets:
            if type(packet) is Publish:
                if packet.qos == 2:
                    self._hand_over(messages, mids)
                    raise ConnectionLost(
                        f"QoS 2 message on {packet.topic} (subscribed with QoS 1); not acked"
                    )
                messages.append(Incoming(packet.topic, packet.payload, received_at, packet.retain))
                mids.append(packet.packet_id)
            else:
                self._control(sock, packet)
        self._hand_over(messages, mids)

    def _hand_over(self, messages: list[Incoming], mids: list[int]) -> None:
        if messages and not self._stopping.is_set():
            with self._lock:  # counted before the intake can acknowledge them
                sizes = self._sizes
                count = total = 0
                for msg, mid in zip(messages, mids, strict=True):
                    if mid:  # QoS 1: acknowledged later; QoS 0 carries no id
                        sizes[mid] = size = len(msg.payload)
                        count += 1
                        total += size
                self._unacked += count
                self._unacked_bytes += total
            self._on_messages(messages, mids, self.generation)

    def _control(self, sock: socket.socket, packet: Packet) -> None:
        if isinstance(packet, ConnAck):
            self._connack(sock, packet)
        elif isinstance(packet, SubAck):
            self._suback(packet)
        elif isinstance(packet, Disconnect):
            detail = f" ({packet.reason_string})" if packet.reason_string else ""
            raise ConnectionLost(f"the broker sent DISCONNECT: {packet.reason}{detail}")

    def _connack(self, sock: socket.socket, connack: ConnAck) -> None:
        if self._sock is not None:
            raise ConnectionLost("a second CONNACK on one connection")
        if connack.reason.code != 0:
            detail = f" ({connack.reason_string})" if connack.reason_string else ""
            log.error("broker refused the connection: %s%s", connack.reason, detail)
            raise Refused(f"refused: {connack.reason}")
        if connack.server_keep_alive is not None:
            # The broker's Server Keep Alive replaces ours; 0 switches keepalive off.
            self._keepalive = float(connack.server_keep_alive or math.inf)
        group = self.settings.share_group
        with self._lock:
            self.generation += 1
            self._unacked = self._unacked_bytes = 0  # the broker sends the unacked ones again
            self._sizes.clear()
            self._sock = sock
            self.connected = True
            self._send(
                sock,
                mqttwire.subscribe(
                    SUBSCRIBE_ID,
                    [(wildcard("telemetry", group), 1), (wildcard("status", group), 1)],
                ),
            )
        log.info(
            "connected to %s:%s (session present: %s)",
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            connack.session_present,
        )

    def _suback(self, suback: SubAck) -> None:
        failed = [str(reason) for reason in suback.reasons if reason.is_failure]
        if failed:
            log.error("broker refused the subscriptions: %s", ", ".join(failed))
            return
        self.subscribed = True
        log.info("subscribed to telemetry and status of every device")
