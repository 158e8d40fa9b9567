"""The gateway's MQTT session: MQTT v5, QoS 1, a persistent session and manual acknowledgements.

paho runs the network loop in its own thread and reconnects with a capped backoff; messages are
handed over to the intake through ``on_message``. They are acknowledged only when the intake
says so, after they are durably spooled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sangsach.config import GatewaySettings
from sangsach.contract import wildcard

log = logging.getLogger(__name__)

OnMessage = Callable[[paho.MQTTMessage, int], None]


class GatewayClient:
    """Wraps paho: connect, subscribe on every (re)connect, count connections, ack on request."""

    def __init__(self, settings: GatewaySettings, on_message: OnMessage) -> None:
        self.settings = settings
        self._on_message = on_message
        self.generation = 0  # increments on every connection; acks are only valid within one
        self.connected = False
        self.subscribed = False  # True once the broker granted this connection's subscriptions
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sangsach-{settings.gateway_id}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.manual_ack_set(True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        if settings.mqtt_username:
            password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            client.username_pw_set(settings.mqtt_username, password)
        if settings.mqtt_tls_ca is not None:
            # MQTT over TLS: the broker's certificate must chain to this CA and name the host.
            client.tls_set(ca_certs=str(settings.mqtt_tls_ca))
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        client.on_subscribe = self._subscribed
        client.on_connect_fail = self._connect_failed
        self._client = client

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.session_expiry_s
        # Bounds the unacknowledged messages the broker sends us: a lagging gateway holds at
        # most this many in memory, and the broker queues the rest (back-pressure).
        props.ReceiveMaximum = self.settings.receive_maximum
        self._client.connect_async(
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            keepalive=self.settings.mqtt_keepalive_s,
            clean_start=False,
            properties=props,
        )
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def ack(self, mid: int, generation: int) -> None:
        """Acknowledge a message, unless it came on an earlier connection (it will come again)."""
        if generation == self.generation and self.connected:
            self._client.ack(mid, 1)

    def _connected(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        self.generation += 1
        self.connected = True
        group = self.settings.share_group
        client.subscribe(
            [(wildcard("telemetry", group), 1), (wildcard("status", group), 1)],
        )
        log.info(
            "connected to %s:%s (session present: %s)",
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            flags.session_present,
        )

    def _connect_failed(self, client: paho.Client, userdata: object) -> None:
        log.warning(
            "cannot reach the broker at %s:%s; retrying",
            self.settings.mqtt_host,
            self.settings.mqtt_port,
        )

    def _disconnected(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        self.connected = False
        self.subscribed = False
        log.warning("disconnected from the broker: %s; paho reconnects", reason)

    def _subscribed(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        props: Properties | None,
    ) -> None:
        failed = [str(reason) for reason in reasons if reason.is_failure]
        if failed:
            log.error("broker refused the subscriptions: %s", ", ".join(failed))
            return
        self.subscribed = True
        log.info("subscribed to telemetry and status of every device")

    def _message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self._on_message(msg, self.generation)
