"""Publish update offers to the broker: retained, QoS 1, each acknowledged before it counts.

The backend speaks MQTT only here, and only when a rollout starts, with its own broker account
(``backend``: it may write ``.../update``) from the SANGSACH_MQTT_* settings. paho is used: a
rollout publishes a few hundred messages, so the gateway's reasons for its own client (CPU in a
drain of 100,000 readings) do not apply.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from sangsach.config import MqttSettings

TIMEOUT_S = 10.0


class PublishError(RuntimeError):
    """The broker could not be reached, or did not acknowledge an offer."""


def publish_retained(settings: MqttSettings, messages: Mapping[str, bytes]) -> None:
    """Publish ``topic -> payload`` (an empty payload clears a retained message)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    if settings.mqtt_username:
        client.username_pw_set(settings.mqtt_username, password)
    if settings.mqtt_tls_ca is not None:
        client.tls_set_context(ssl.create_default_context(cafile=str(settings.mqtt_tls_ca)))
    where = f"{settings.mqtt_host}:{settings.mqtt_port}"
    answered = threading.Event()
    refused: list[str] = []

    def on_connect(_c: paho.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            refused.append(str(reason))
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=30)
    except OSError as err:
        raise PublishError(f"broker {where}: {err}") from err
    client.loop_start()
    try:
        if not answered.wait(TIMEOUT_S) or refused:
            why = refused[0] if refused else f"no answer in {TIMEOUT_S:.0f} s"
            raise PublishError(f"broker {where} refused the backend's connection: {why}")
        for topic, payload in messages.items():
            info = client.publish(topic, payload, qos=1, retain=True)
            info.wait_for_publish(TIMEOUT_S)
            if not info.is_published():
                raise PublishError(f"broker {where} did not acknowledge {topic} (rc {info.rc})")
    except (RuntimeError, ValueError) as err:
        if isinstance(err, PublishError):
            raise
        raise PublishError(f"broker {where}: {err}") from err
    finally:
        client.disconnect()
        client.loop_stop()
