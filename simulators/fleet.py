"""The MQTT side of the simulator: one paho client per device, all served by one thread.

Thousands of clients cannot each have a network thread, so their sockets share one selector:
paho tells us when a socket opens, closes or has data to write, and we call its
``loop_read``/``loop_write``/``loop_misc``. Each device has a queue of actions (connect,
publish, drop) carried out in order; a publish waits while the device has ``max_inflight``
messages unacknowledged, because paho's message ids are 16-bit and the broker's patience is not
endless. Reconnecting after a lost connection is not attempted: it ends the run with an error.
"""

from __future__ import annotations

import logging
import selectors
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike
    from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

MAX_INFLIGHT: Final = 100
# Connections waiting for their CONNACK at once: a booting fleet does not flood the broker.
MAX_CONNECTING: Final = 50
# After an abrupt drop, the same client id waits this long before connecting again, so that
# the broker has seen the first connection die (and sent its will) before the new one arrives.
RECONNECT_GAP_S: Final = 0.2
MISC_INTERVAL_S: Final = 1.0  # keepalive bookkeeping for every client
_READ: Final = selectors.EVENT_READ
_WRITE: Final = selectors.EVENT_WRITE


def _tls_pending(client: mqtt.Client) -> bool:
    sock = client.socket()
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


class FleetError(Exception):
    """A device could not connect, or lost its connection, or the broker did not acknowledge."""


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Connect:
    will: Will | None


@dataclass(frozen=True, slots=True)
class _Publish:
    topic: str
    payload: bytes
    retain: bool
    on_ack: Callable[[], None]


@dataclass(frozen=True, slots=True)
class _Drop:
    on_done: Callable[[], None]


class _Link:
    """One client id: its queue of actions and, while connected, its paho client."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.actions: deque[_Connect | _Publish | _Drop] = deque()
        self.mqtt: mqtt.Client | None = None
        self.connected = False
        self.closing = False  # we close the connection ourselves: its loss is expected
        self.inflight: dict[int, Callable[[], None]] = {}  # message id -> on_ack
        self.not_before = 0.0


class Fleet:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        keepalive_s: int = 60,
        max_inflight: int = MAX_INFLIGHT,
        username: str | None = None,
        password: str | None = None,
        tls_ca: Path | None = None,
    ) -> None:
        if not 1 <= max_inflight <= MAX_INFLIGHT:
            raise ValueError(f"max_inflight must be 1 to {MAX_INFLIGHT}, got {max_inflight}")
        self._host = host
        self._port = port
        self._keepalive = keepalive_s
        self._max_inflight = max_inflight
        self._auth = (username, password) if username is not None else None
        self._tls_ca = tls_ca  # set: MQTT over TLS, the broker's certificate checked against it
        self._selector = selectors.DefaultSelector()
        self._links: dict[str, _Link] = {}
        self._busy: set[_Link] = set()  # links with actions that may be able to proceed
        self._connecting = 0
        # Links waiting for a place among the connecting, in order (a dict as an ordered set).
        self._parked: dict[_Link, None] = {}
        self._backlog = 0
        self._errors: list[str] = []
        self._misc_at = time.monotonic()

    @property
    def backlog(self) -> int:
        """Messages queued or in flight: published but not yet acknowledged by the broker."""
        return self._backlog

    def knows(self, client_id: str) -> bool:
        return client_id in self._links

    def connect(self, client_id: str, *, will: Will | None) -> None:
        """Queue a new connection (a clean session) for ``client_id``."""
        self._queue(client_id, _Connect(will))

    def publish(
        self,
        client_id: str,
        topic: str,
        payload: bytes,
        *,
        on_ack: Callable[[], None],
        retain: bool = False,
    ) -> None:
        """Queue a QoS 1 message; ``on_ack`` runs when the broker acknowledges it."""
        self._backlog += 1
        self._queue(client_id, _Publish(topic, payload, retain, on_ack))

    def drop(self, client_id: str, *, on_done: Callable[[], None]) -> None:
        """Queue an abrupt end of the connection, without DISCONNECT: the broker sends the will.

        It waits until the messages before it are acknowledged, so that none is lost in flight.
        """
        self._queue(client_id, _Drop(on_done))

    def _queue(self, client_id: str, action: _Connect | _Publish | _Drop) -> None:
        link = self._links.get(client_id)
        if link is None:
            link = self._links[client_id] = _Link(client_id)
        link.actions.append(action)
        if link not in self._parked:  # a parked link is woken by a CONNACK
            self._busy.add(link)

    def poll(self, timeout: float) -> None:
        """Carry out what can be done now, then serve the sockets for up to ``timeout`` s."""
        self._advance_all()
        for key, mask in self._selector.select(timeout):
            self._serve(key.data, mask)
        now = time.monotonic()
        if now - self._misc_at >= MISC_INTERVAL_S:
            self._misc_at = now
            for link in self._links.values():
                if link.mqtt is not None:
                    link.mqtt.loop_misc()
        self._advance_all()
        if self._errors:
            raise FleetError("; ".join(self._errors))

    def drain(self, timeout_s: float = 60.0) -> None:
        """Wait until every queued action is done and every message acknowledged."""
        deadline = time.monotonic() + timeout_s
        while self._busy or self._backlog:
            if time.monotonic() > deadline:
                raise FleetError(
                    f"{self._backlog} messages still unacknowledged after {timeout_s:.0f} s"
                )
            self.poll(0.05)

    def close(self, timeout_s: float = 10.0) -> None:
        """Disconnect every client cleanly: a normal end, so no last wills."""
        for link in self._links.values():
            if link.mqtt is not None:
                link.closing = True
                link.mqtt.disconnect()
        deadline = time.monotonic() + timeout_s
        while self._selector.get_map() and time.monotonic() < deadline:
            for key, mask in self._selector.select(0.05):
                self._serve(key.data, mask)
        if self._selector.get_map():
            log.warning("%d clients did not disconnect in time", len(self._selector.get_map()))
        else:
            self._selector.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _serve(link: _Link, mask: int) -> None:
        client = link.mqtt
        if client is not None and mask & _READ:
            client.loop_read()
            # TLS may hold decrypted bytes the socket no longer signals: read them now.
            while client is link.mqtt and _tls_pending(client):
                client.loop_read()
        # Reading may have closed the connection; then there is nothing left to write.
        if client is not None and client is link.mqtt and mask & _WRITE:
            client.loop_write()

    def _advance_all(self) -> None:
        links, self._busy = self._busy, set()
        for link in links:
            if self._advance(link):
                self._busy.add(link)

    def _advance(self, link: _Link) -> bool:
        """Carry out the link's actions in order, as far as they can go now.

        True if the link must be tried again at the next poll; False if it is done or waits
        for a CONNACK or PUBACK, whose callback puts it back among the busy links.
        """
        while link.actions:
            action = link.actions[0]
            if isinstance(action, _Publish):
                client = link.mqtt
                if client is None:
                    raise FleetError(f"{link.client_id}: publish without a connection")
                if not link.connected or len(link.inflight) >= self._max_inflight:
                    return False
                self._send(client, link, action)
            elif isinstance(action, _Drop):
                if link.inflight:
                    return False
                if link.mqtt is not None and link.mqtt.want_write():
                    return True
                self._cut(link)
                action.on_done()
            else:
                if link.mqtt is not None:
                    raise FleetError(f"{link.client_id}: connect while already connected")
                if time.monotonic() < link.not_before:
                    return True
                if self._connecting >= MAX_CONNECTING:
                    self._parked[link] = None  # until a CONNACK frees a place
                    return False
                self._open(link, action.will)
            link.actions.popleft()
        return False

    def _open(self, link: _Link, will: Will | None) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=link.client_id, userdata=link)
        client.max_inflight_messages_set(self._max_inflight)
        if will is not None:
            client.will_set(will.topic, will.payload, qos=1, retain=True)
        if self._auth is not None:
            client.username_pw_set(*self._auth)
        if self._tls_ca is not None:
            client.tls_set(ca_certs=str(self._tls_ca))
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._parked.pop(link, None)
        link.mqtt = client
        try:
            client.connect(self._host, self._port, keepalive=self._keepalive)
        except OSError as err:
            link.mqtt = None
            raise FleetError(
                f"{link.client_id}: cannot connect to the MQTT broker at "
                f"{self._host}:{self._port}: {err}"
            ) from err
        self._connecting += 1

    def _send(self, client: mqtt.Client, link: _Link, action: _Publish) -> None:
        info = client.publish(action.topic, action.payload, qos=1, retain=action.retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise FleetError(f"{link.client_id}: publish to {action.topic} failed: rc {info.rc}")
        link.inflight[info.mid] = action.on_ack

    def _cut(self, link: _Link) -> None:
        """End the connection the way a node that loses power or network does: no DISCONNECT."""
        client = link.mqtt
        if client is None:
            return
        sock = client.socket()
        if isinstance(sock, socket.socket):
            link.closing = True
            sock.shutdown(socket.SHUT_RDWR)
            # paho reads the end of the stream, closes the socket and reports the disconnect.
            while client.socket() is not None:
                client.loop_read()
        link.mqtt = None
        link.connected = False
        link.closing = False
        link.not_before = time.monotonic() + RECONNECT_GAP_S

    # paho callbacks; ``link`` is the client's userdata.

    def _on_socket_open(self, client: mqtt.Client, link: _Link, sock: SocketLike) -> None:
        self._selector.register(sock, _READ, link)

    def _on_socket_close(self, client: mqtt.Client, link: _Link, sock: SocketLike) -> None:
        self._selector.unregister(sock)

    def _on_socket_register_write(self, client: mqtt.Client, link: _Link, sock: SocketLike) -> None:
        self._selector.modify(sock, _READ | _WRITE, link)

    def _on_socket_unregister_write(
        self, client: mqtt.Client, link: _Link, sock: SocketLike
    ) -> None:
        self._selector.modify(sock, _READ, link)

    def _on_connect(
        self,
        client: mqtt.Client,
        link: _Link,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connecting -= 1
        if self._parked:
            woken = next(iter(self._parked))
            del self._parked[woken]
            self._busy.add(woken)
        if reason.is_failure:
            self._errors.append(f"{link.client_id}: the broker refused the connection: {reason}")
            return
        link.connected = True
        self._busy.add(link)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        link: _Link,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        link.connected = False
        if not link.closing:
            self._errors.append(f"{link.client_id}: lost the connection to the broker: {reason}")

    def _on_publish(
        self,
        client: mqtt.Client,
        link: _Link,
        mid: int,
        reason: ReasonCode,
        properties: Properties,
    ) -> None:
        on_ack = link.inflight.pop(mid)
        self._backlog -= 1
        self._busy.add(link)
        on_ack()
