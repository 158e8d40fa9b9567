"""The node's MQTT session: the reconnect policy around the protocol client.

Birth and last will on the status topic (retained, QoS 1), subscriptions to config, cmd and
update restored after every reconnect (clean session: a command queued for hours while the node
was away would arrive stale; config and update are retained), keepalive, and capped exponential backoff with jitter. Only OSError is
caught: the client raises nothing else for a broken link or a refusing broker.
"""

import json

from backoff import Backoff
from clock import Clock
from mqtt import MQTTClient

PREFIX = "sangsach/v1/"


class Session:
    def __init__(self, settings: dict, clock: Clock) -> None:
        node_id = settings["id"]
        self.topics = {c: PREFIX + node_id + "/" + c for c in ("telemetry", "status",
                                                              "config", "cmd", "update")}
        self.client = MQTTClient(
            node_id, settings["mqtt_host"], settings["mqtt_port"],
            user=settings["mqtt_user"], password=settings["mqtt_password"],
            keepalive_s=settings["keepalive_s"], timeout_s=settings["net_timeout_s"],
            # A third of the watchdog for all of a step's network waits: the rest of the step
            # (an NTP query, the sensors) fits in what is left, with room to spare.
            budget_ms=settings["wdt_timeout_ms"] // 3)
        offline = json.dumps({"id": node_id, "state": "offline"}).encode()
        self.client.set_last_will(self.topics["status"], offline, retain=True)
        self.backoff = Backoff(clock, settings["backoff_base_ms"], settings["backoff_cap_ms"])
        self.up = False

    def start_step(self) -> None:
        """The main loop starts a step: the step's network budget starts now."""
        self.client.start_step()

    def due(self) -> bool:
        """Down, and the backoff allows another attempt now."""
        return not self.up and self.backoff.ready()

    def connect(self, birth: bytes) -> bool:
        try:
            self.client.connect(clean_session=True)
            self.client.subscribe(self.topics["config"], 1)
            self.client.subscribe(self.topics["cmd"], 1)
            self.client.subscribe(self.topics["update"], 1)
            self.client.publish(self.topics["status"], birth, retain=True, qos=1)
        except OSError as err:
            self._broken(err)
            return False
        self.up = True
        self.backoff.succeeded()
        print("mqtt: connected")
        return True

    def publish(self, channel: str, msg: bytes | memoryview) -> bool:
        """QoS 1; True only once the broker has acknowledged the message."""
        if not self.up:
            return False
        try:
            self.client.publish(self.topics[channel], msg, qos=1)
        except OSError as err:
            self._broken(err)
            return False
        return True

    def status(self, msg: bytes) -> bool:
        """Publish the status again (retained), when what it says changed while connected."""
        if not self.up:
            return False
        try:
            self.client.publish(self.topics["status"], msg, retain=True, qos=1)
        except OSError as err:
            self._broken(err)
            return False
        return True

    def poll(self) -> None:
        """Take what the broker sent (into client.inbox) and keep the session alive."""
        if self.up:
            try:
                self.client.check_msg()
            except OSError as err:
                self._broken(err)

    def close(self) -> None:
        """A clean goodbye (no last will): before deep sleep or a commanded reboot."""
        self.client.disconnect()
        self.up = False

    def lost(self) -> None:
        """The network under the session went away."""
        if self.up:
            self._broken(OSError("Wi-Fi down"))

    def _broken(self, err: OSError) -> None:
        self.client.close()
        self.up = False
        delay = self.backoff.failed()
        print("mqtt: %s; next attempt in %d ms" % (err, delay))
