"""A small MQTT 3.1.1 client for the nodes, in the spirit of micropython-lib's umqtt.simple.

Protocol only: one exception class, one client class. What to do when the link breaks (back off,
reconnect, subscribe again) is the caller's business: see session.py.

Why our own and not umqtt.simple: the same file runs on the ESP32 and under the MicroPython Unix
port in the tests, so nothing in the MQTT path is faked; and the node needs QoS 1 publishes that
wait for their PUBACK while config and cmd messages keep arriving. umqtt.simple calls its
callback from inside publish, which would let a command re-enter the node mid-publish; here
incoming messages wait in a small bounded inbox that the node empties between steps.

Every blocking call is bounded twice: each socket operation by ``timeout_s``, and all of them
together by the step budget (``budget_ms`` from ``start_step``), so a broker that answers one
byte a second cannot hold a step past the watchdog. The broker's address is looked up once and
kept: a name lookup cannot be interrupted from MicroPython, so it happens at most once per client
(again only after the TCP connection to the kept address failed).
"""

import select
import socket
import struct
import time

CONNACK_REASONS = (
    "accepted",
    "unacceptable protocol version",
    "client id rejected",
    "server unavailable",
    "bad user name or password",
    "not authorised",
)
_MAX_INCOMING = 4096  # config and cmd are small; anything larger is read, acknowledged, dropped
_IPPROTO_TCP = 6
_TCP_NODELAY = 1
_MAX_INBOX = 8  # messages not yet taken by the node; the oldest goes first when it overflows


class MQTTException(OSError):
    """A refused connection or a protocol violation.

    It is an OSError on purpose: the caller treats it like a broken link (drop the socket,
    back off, reconnect), so one ``except OSError`` covers every way the session can fail.
    """


class MQTTClient:
    def __init__(
        self,
        client_id: str,
        server: str,
        port: int = 1883,
        *,
        user: str = "",
        password: str = "",
        keepalive_s: int = 60,
        timeout_s: int = 10,
        budget_ms: int = 20000,
    ) -> None:
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.password = password
        self.keepalive_s = keepalive_s
        self.timeout_s = timeout_s
        self.budget_ms = budget_ms
        self._deadline = time.ticks_add(time.ticks_ms(), budget_ms)
        self._addr: tuple | None = None  # the broker's address, once looked up
        self.inbox: list[tuple[bytes, bytes]] = []  # (topic, message) from the broker
        self.sock: socket.socket | None = None
        self._poll = select.poll()
        self._pid = 0
        self._will: tuple[bytes, bytes, bool] | None = None
        # Reused for every fixed header and packet id: no allocation per packet.
        self._hdr = bytearray(5)
        self._word = bytearray(2)
        self._last_tx = self._last_rx = time.ticks_ms()

    def set_last_will(self, topic: str, msg: bytes, retain: bool = False) -> None:
        """The will is always QoS 1: losing an "offline" notice is what a will must not do."""
        self._will = (topic.encode(), msg, retain)

    def start_step(self) -> None:
        """Begin a step of the caller's loop: every operation until the next call shares one
        budget of ``budget_ms``, and raises OSError once it is spent."""
        self._deadline = time.ticks_add(time.ticks_ms(), self.budget_ms)

    def _left_ms(self) -> int:
        left = time.ticks_diff(self._deadline, time.ticks_ms())
        if left <= 0:
            raise OSError("the step's budget of %d ms is spent" % self.budget_ms)
        return min(left, self.timeout_s * 1000)

    def connect(self, clean_session: bool = True) -> bool:
        """Open the socket and the MQTT session; returns the broker's session-present flag."""
        self.close()
        if self._addr is None:
            self._left_ms()
            self._addr = socket.getaddrinfo(self.server, self.port)[0][-1]
        sock = socket.socket()
        self.sock = sock
        sock.settimeout(self._left_ms() / 1000)
        # A packet leaves in several writes (header, topic, payload). With Nagle's algorithm on,
        # each later write waits for the broker's delayed ACK of the first, some 40 ms per
        # packet: radio time a battery node pays for (measured: docs/hardware.md). Numeric
        # because the ESP32 port names them socket.IPPROTO_TCP/TCP_NODELAY, the Unix port not.
        sock.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        try:
            sock.connect(self._addr)
        except OSError:
            self._addr = None  # the broker may have moved: look it up again next time
            raise
        self._poll.register(sock, select.POLLIN)
        flags = 0x02 if clean_session else 0
        payload = [self.client_id.encode()]
        if self._will:
            topic, msg, retain = self._will
            flags |= 0x04 | 0x08 | (0x20 if retain else 0)  # will flag, will QoS 1, retain
            payload += [topic, msg]
        if self.user:
            flags |= 0x80
            payload.append(self.user.encode())
            if self.password:
                flags |= 0x40
                payload.append(self.password.encode())
        body = bytearray(b"\x00\x04MQTT\x04")
        body.append(flags)
        body += struct.pack("!H", self.keepalive_s)
        for field in payload:
            body += struct.pack("!H", len(field))
            body += field
        self._send_header(0x10, len(body))
        self._write(body)
        ack = self._read_exact(4)
        if ack[0] != 0x20 or ack[1] != 2:
            raise MQTTException("expected CONNACK, got packet type 0x%02x" % ack[0])
        if ack[3]:
            code = ack[3]
            why = CONNACK_REASONS[code] if code < len(CONNACK_REASONS) else "unknown"
            raise MQTTException("connection refused (%d: %s)" % (code, why))
        self._last_rx = time.ticks_ms()
        return bool(ack[2] & 1)

    def disconnect(self) -> None:
        """A clean goodbye: the broker discards the will. A step of its own."""
        if self.sock:
            self.start_step()
            try:
                self._hdr[0], self._hdr[1] = 0xE0, 0
                self._write(self._hdr, 2)
            except OSError:
                pass  # the link is going away anyway; the broker may send the will
        self.close()

    def close(self) -> None:
        if self.sock:
            try:
                self._poll.unregister(self.sock)
            except (OSError, KeyError):
                pass  # never registered: the connect failed before
            self.sock.close()
            self.sock = None

    def publish(self, topic: str, msg: bytes | bytearray | memoryview, retain: bool = False,
                qos: int = 0) -> None:
        """Send one message; with QoS 1, return only after the broker's PUBACK."""
        tb = topic.encode()
        size = 2 + len(tb) + len(msg) + (2 if qos else 0)
        self._send_header(0x30 | qos << 1 | retain, size)
        self._write_str(tb)
        pid = 0
        if qos:
            pid = self._next_pid()
            struct.pack_into("!H", self._word, 0, pid)
            self._write(self._word)
        self._write(msg)
        if qos:
            self._wait_for(0x40, pid)

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK; a refusal raises MQTTException."""
        tb = topic.encode()
        pid = self._next_pid()
        self._send_header(0x82, 2 + 2 + len(tb) + 1)
        struct.pack_into("!H", self._word, 0, pid)
        self._write(self._word)
        self._write_str(tb)
        self._hdr[0] = qos
        self._write(self._hdr, 1)
        granted = self._wait_for(0x90, pid)
        if granted == 0x80:
            raise MQTTException("subscription to %s refused" % topic)

    def check_msg(self) -> None:
        """Handle whatever the broker sent, without blocking, and keep the session alive."""
        while self._readable(0):
            self._handle_packet()
        self._keepalive()

    def _keepalive(self) -> None:
        now = time.ticks_ms()
        period = self.keepalive_s * 1000
        if time.ticks_diff(now, self._last_rx) > period * 3 // 2:
            raise MQTTException("no answer from the broker for %d s" % (period * 3 // 2000))
        if time.ticks_diff(now, self._last_tx) >= period // 2:
            self._hdr[0], self._hdr[1] = 0xC0, 0
            self._write(self._hdr, 2)

    def _wait_for(self, kind: int, pid: int) -> int:
        """Read packets until the ack ``kind`` for ``pid`` arrives; returns its first byte after
        the packet id (SUBACK's granted QoS). Messages arriving meanwhile go to the inbox."""
        deadline = time.ticks_add(time.ticks_ms(), self.timeout_s * 1000)
        while True:
            left = min(time.ticks_diff(deadline, time.ticks_ms()), self._left_ms())
            if left <= 0 or not self._readable(left):
                raise OSError("no ack 0x%02x for packet %d within %d s" % (kind, pid,
                                                                           self.timeout_s))
            got = self._handle_packet()
            if got and got[0] == kind and got[1] == pid:
                return got[2]

    def _handle_packet(self) -> tuple[int, int, int] | None:
        """Read one packet. Acks are returned as (type, pid, first byte after the pid)."""
        first = self._read_exact(1)[0]
        size = self._read_length()
        self._last_rx = time.ticks_ms()
        kind = first & 0xF0
        if kind == 0x30:
            self._receive_publish(first, size)
            return None
        if kind == 0xD0 and size == 0:  # PINGRESP
            return None
        if kind in (0x40, 0x90) and size >= 2:  # PUBACK, SUBACK
            body = self._read_exact(size)
            return kind, body[0] << 8 | body[1], body[2] if size > 2 else 0
        raise MQTTException("unexpected packet 0x%02x of %d bytes" % (first, size))

    def _receive_publish(self, first: int, size: int) -> None:
        body = self._read_exact(size) if size <= _MAX_INCOMING else None
        if body is None:
            # Too big to hold: drain it so the stream stays in step, and tell the log.
            head = self._read_exact(2)
            tlen = head[0] << 8 | head[1]
            self._skip(tlen)
            pid_bytes = self._read_exact(2) if first & 0x06 else b""
            self._skip(size - 2 - tlen - len(pid_bytes))
            print("mqtt: dropped an incoming message of %d bytes" % size)
        else:
            tlen = body[0] << 8 | body[1]
            at = 2 + tlen
            pid_bytes = body[at:at + 2] if first & 0x06 else b""
            if len(self.inbox) >= _MAX_INBOX:
                print("mqtt: inbox full, dropped the oldest message")
                self.inbox.pop(0)
            self.inbox.append((body[2:at], body[at + len(pid_bytes):]))
        if pid_bytes:  # QoS 1 (QoS 2 is never granted: we subscribe with QoS 1)
            self._hdr[0], self._hdr[1] = 0x40, 2
            self._write(self._hdr, 2)
            self._write(pid_bytes)

    def _next_pid(self) -> int:
        self._pid = self._pid % 65535 + 1
        return self._pid

    def _send_header(self, first: int, size: int) -> None:
        hdr = self._hdr
        hdr[0] = first
        n = 1
        while True:
            byte = size & 0x7F
            size >>= 7
            hdr[n] = byte | (0x80 if size else 0)
            n += 1
            if not size:
                break
        self._write(hdr, n)

    def _write_str(self, data: bytes) -> None:
        struct.pack_into("!H", self._word, 0, len(data))
        self._write(self._word)
        self._write(data)

    def _write(self, data: bytes | bytearray | memoryview, length: int = -1) -> None:
        sock = self._sock()
        view = memoryview(data)
        if length >= 0:
            view = view[:length]
        while view:
            sock.settimeout(self._left_ms() / 1000)
            sent = sock.send(view)  # one call: write() would loop inside, past the budget
            if not sent:
                raise OSError("the broker closed the connection")
            view = view[sent:]
        self._last_tx = time.ticks_ms()

    def _read_exact(self, n: int) -> bytes:
        """recv, not read: read(n) loops inside until it has n bytes, and a broker that sends
        one byte a second would hold it there whatever the socket's timeout."""
        sock = self._sock()
        data = b""
        while len(data) < n:
            sock.settimeout(self._left_ms() / 1000)
            more = sock.recv(n - len(data))
            if not more:
                raise OSError("the broker closed the connection")
            data += more
        return data

    def _skip(self, n: int) -> None:
        while n > 0:
            n -= len(self._read_exact(min(n, 256)))

    def _read_length(self) -> int:
        size = shift = 0
        while True:
            byte = self._read_exact(1)[0]
            size |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return size
            shift += 7
            if shift > 21:
                raise MQTTException("malformed remaining length")

    def _readable(self, timeout_ms: int) -> bool:
        self._sock()
        for _obj, event in self._poll.poll(min(timeout_ms, self._left_ms())):
            if event & (select.POLLHUP | select.POLLERR):
                raise OSError("the connection to the broker broke")
            return True
        return False

    def _sock(self) -> socket.socket:
        if self.sock is None:
            raise OSError("not connected")
        return self.sock
