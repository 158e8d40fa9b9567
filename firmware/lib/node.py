"""What lamp and bin nodes share: identity, stamping, the flash buffer and its replay, the link
(Wi-Fi, NTP, MQTT) and the messages from the system (config and cmd)."""

import json

import machine

import logic
from clock import Clock
from ring import SLOT, RingBuffer
from session import Session
from store import Store
from timesync import TimeSync
from updates import Updates
from wifi import Wifi


_BATCH: list = [None]


def batch_buffer(settings: dict) -> bytearray:
    """The buffer every send writes its message into: the largest block the node needs, so it
    is taken once, first, while the heap is whole (app.run calls this before the role's module
    is imported), and kept for the life of the interpreter."""
    size = settings["batch_max"] * SLOT + 40
    buf = _BATCH[0]
    if buf is None or len(buf) != size:
        _BATCH[0] = None
        buf = _BATCH[0] = bytearray(size)
    return buf


class Node:
    kind = ""

    def __init__(self, settings: dict, clock: Clock, hard_boot: bool) -> None:
        self.settings = settings
        self.clock = clock
        self._batch = batch_buffer(settings)
        self.store = Store()
        if hard_boot:
            self.store.new_boot(clock.time())
        self.ring = RingBuffer("readings", settings["buffer_slots"])
        self.wifi = Wifi(settings, clock)
        self.session = Session(settings, clock)
        self.timesync = TimeSync(settings, clock, self.store)
        self.updates = Updates(settings, clock)
        self.rev = -1
        self.report_interval_s = settings["report_interval_s"]
        config = self.store.config
        if config is not None:
            try:
                self.apply_config(config)
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                # Written by an older firmware that read it differently: wait for the retained one.
                print("config: the saved one does not apply (%s)" % err)

    def step(self) -> int:
        """One bounded piece of work; returns how long to pause (ms) before the next."""
        raise NotImplementedError

    # -- readings ---------------------------------------------------------------------------

    def record(self, fields: dict) -> None:
        """Stamp a reading and put it in flash; it leaves from there (flush) once the link is
        up. Fields outside the contract's limits are left out, never clamped."""
        store = self.store
        now = self.clock.time()
        reading = {
            "id": self.settings["id"],
            "kind": self.kind,
            "boot": store.boot,
            "seq": store.next_seq(),
        }
        if store.synced:
            reading["ts"] = now
        else:
            reading["ts"] = max(0, now - store.boot_rtc)
            reading["synced"] = False
        fields["rssi"] = self.wifi.rssi()
        for name, value in fields.items():
            # A list is sensor_errors: names the node itself chose, nothing to range-check.
            if isinstance(value, (bool, list)) or (name in logic.LIMITS
                                                   and logic.within(name, value)):
                reading[name] = value
        self.ring.append(json.dumps(reading, separators=(",", ":")).encode())

    def flush_once(self) -> bool:
        """Send the oldest buffered readings in one message and forget them once the broker
        has acknowledged it. Returns whether it was acknowledged."""
        count, dropped, end = self.ring.message_into(self._batch, self.settings["batch_max"])
        if not self.session.publish("telemetry", memoryview(self._batch)[:end]):
            return False
        self.ring.pop(count, dropped)
        return True

    # -- link -------------------------------------------------------------------------------

    def link(self) -> bool:
        """Keep Wi-Fi, the clock and the MQTT session up, one bounded step at a time."""
        if not self.wifi.ensure():
            self.session.lost()
            return False
        # At most one blocking exchange per step, so that each step stays well inside the
        # watchdog timeout: an MQTT connect may wait net_timeout_s for each of its 5 packets.
        if self.timesync.due():
            self.timesync.sync()
        elif self.session.due():
            if self.session.connect(self.birth()):
                self.updates.connected()  # a release on trial works: it is confirmed
        self.session.poll()
        if self.session.up:
            self.updates.retry_due()
        if self.updates.changed and self.session.up:
            self.updates.changed = not self.session.status(self.birth())
        return self.session.up

    def birth(self) -> bytes:
        store = self.store
        status = {"id": self.settings["id"], "state": "online", "kind": self.kind,
                  "boot": store.boot, "fw": self.updates.fw}
        update = self.updates.last
        if update:
            status["update"] = update
        if store.synced:
            status["ts"] = self.clock.time()
        return json.dumps(status).encode()

    # -- messages from the system -----------------------------------------------------------

    def handle_inbox(self) -> None:
        inbox = self.session.client.inbox
        while inbox:
            topic, raw = inbox.pop(0)
            try:
                msg = json.loads(raw)
                if not isinstance(msg, dict):
                    raise ValueError("not a JSON object")
                if topic.endswith(b"/config"):
                    self.receive_config(msg)
                elif topic.endswith(b"/cmd"):
                    self.command(msg)
                elif topic.endswith(b"/update"):
                    self.updates.offer(msg)
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                print("refused %s: %r (%s)" % (topic.decode(), raw[:80], err))

    def receive_config(self, config: dict) -> None:
        rev = config["rev"]
        if not isinstance(rev, int) or rev < self.rev:
            print("config: rev %r ignored, %d is applied" % (rev, self.rev))
            return
        changed = config != self.store.config
        self.apply_config(config)  # raises before anything changes when the config is bad
        if changed:
            self.store.config = config
            self.store.save()
            print("config: rev %d applied" % rev)

    def apply_config(self, config: dict) -> None:
        """Subclasses check and take their own section first, then call this."""
        interval = config.get("report_interval_s", self.settings["report_interval_s"])
        if not isinstance(interval, int) or interval < 10:
            raise ValueError("report_interval_s %r" % interval)
        self.rev = config["rev"]
        self.report_interval_s = interval

    def command(self, cmd: dict) -> None:
        name, cid = cmd["cmd"], cmd["cid"]
        print("cmd %s (%s)" % (name, cid))
        if name == "reboot":
            self.session.close()
            machine.reset()
        elif name == "ping":
            self.ping()
        else:
            self.own_command(cmd)

    def ping(self) -> None:
        """The contract has no reply topic: the answer is a fresh reading."""

    def own_command(self, cmd: dict) -> None:
        print("cmd %s is not for a %s node" % (cmd["cmd"], self.kind))
