"""The waste-bin node, on a battery: wake, measure, send when due, deep-sleep.

Each wake is one pass through the phases measure -> send (only when due) -> sleep, one bounded
step per call so that the main loop feeds the watchdog in between. Readings wait in flash and
are batched (every ``send_interval_s``), except that crossing the full threshold or a fire
temperature sends at once. The node never sleeps with a send in flight: a reading leaves the
flash buffer only after its PUBACK, and what could not be sent goes with the next send.

A send that fails costs radio time, the dearest thing on a battery. So after a failed send the
node backs off: the next sends that fall due are skipped for 1, 2, 4, 8, then at most 12 wakes,
while it goes on measuring into flash; full and fire are sent at once all the same. The count
lives in the RTC's memory, which survives deep sleep and costs no flash write.
"""

import json

import machine

import logic
from clock import Clock
from drivers import Battery, Thermometer, TiltSensor, Ultrasonic, i2c_bus
from node import Node


SKIP_CAP_WAKES = 12  # at most this many due sends skipped in a row: 2 h at the 10-min cadence
CONNECT_TRIES = 3  # broker connections tried in one wake before the send counts as failed
ASSOCIATE_MS = 15000  # no access point within this: the send fails (association takes 1-3 s)


class SendBackoff:
    """Consecutive failed sends and the due sends still to skip, kept in RTC memory. A power-on
    clears that memory, and the first wake of a boot sends anyway."""

    def __init__(self) -> None:
        self.rtc = machine.RTC()
        self.failures = self.skip = 0
        try:
            saved = json.loads(self.rtc.memory())
            self.failures, self.skip = int(saved["failures"]), int(saved["skip"])
        except (ValueError, KeyError, TypeError):  # empty after a power-on, or not ours
            pass

    def hold_back(self) -> bool:
        """A send is due and not urgent: True when this wake skips it."""
        if self.skip <= 0:
            return False
        self.skip -= 1
        self._save()
        return True

    def failed(self) -> None:
        self.failures += 1
        self.skip = min(SKIP_CAP_WAKES, 1 << min(self.failures - 1, 8))
        self._save()

    def succeeded(self) -> None:
        if self.failures or self.skip:
            self.failures = self.skip = 0
            self._save()

    def _save(self) -> None:
        self.rtc.memory(json.dumps({"failures": self.failures, "skip": self.skip}).encode())


class BinNode(Node):
    kind = "bin"

    def __init__(self, settings: dict, clock: Clock, hard_boot: bool) -> None:
        self.woke = clock.now_ms()
        self.depth_cm = settings["depth_cm"]
        self.full_pct = settings["full_pct"]
        self.fire_temp_c = settings["fire_temp_c"]
        self.measure_interval_s = settings["measure_interval_s"]
        self.send_interval_s = settings["send_interval_s"]
        super().__init__(settings, clock, hard_boot)
        self.ultrasonic = Ultrasonic(settings["trig_pin"], settings["echo_pin"],
                                     settings["sensor_power_pin"])
        self.battery = Battery(settings["battery_pin"], settings["battery_divider"])
        self.thermometer = Thermometer(settings["onewire_pin"])
        self.tilt = TiltSensor(i2c_bus(settings)) if settings["tilt_sensor"] else None
        self.backoff = SendBackoff()
        self.timesync.each_wake = True  # the RC clock drifts in deep sleep: resync every send
        self.phase = "measure"
        self.sending_since = 0

    def step(self) -> int:
        if self.phase == "measure":
            urgent = self.measure()
            self.phase = "send" if self.send_due(urgent) else "sleep"
            self.sending_since = self.clock.now_ms()
            return 0
        if self.phase == "send":
            return self.send_step()
        self.sleep()
        return 0

    def measure(self) -> bool:
        """Take one reading into flash; True when it must leave at once (full or fire).

        A sensor that failed costs its fields and is named in ``sensor_errors``; a tilt sensor
        that is not fitted is not an error. Without a plausible echo the reading has no fill
        level ("ultrasonic"), but the rest is recorded, and a fire still leaves at once."""
        clock, settings, store = self.clock, self.settings, self.store
        temp = self.thermometer.celsius(clock)
        echoes = self.ultrasonic.pings(settings["pings"], clock)
        distance = logic.filtered_distance(echoes, temp, settings["echo_min_cm"], self.depth_cm)
        fire = temp is not None and temp >= self.fire_temp_c
        fields: dict = {}
        errors = []
        crossed = False
        fill = None
        if distance is None:
            print("bin: no plausible echo in %r" % echoes)
            errors.append("ultrasonic")
        else:
            fill = logic.fill_pct(distance, self.depth_cm)
            fields["fill_pct"] = fill
            fields["distance_cm"] = round(distance, 1)
            crossed = store.last_fill < self.full_pct <= fill
            store.last_fill = fill
        volts = self.battery.volts()
        if volts is None:
            errors.append("battery")
        else:
            fields["battery_v"] = round(volts, 2)
        if temp is None:
            errors.append("thermometer")
        else:
            fields["temp_c"] = round(temp, 1)
        if self.tilt is not None:
            tilt = self.tilt.degrees()
            if tilt is None:
                errors.append("tilt")
            else:
                fields["tilt_deg"] = round(tilt, 1)
        if errors:
            fields["sensor_errors"] = errors
        self.record(fields)
        store.wakes += 1
        store.save()
        print("bin: fill %s %%, %s%s" % ("?" if fill is None else "%.1f" % fill,
                                         "full!" if crossed else "fire!" if fire else "ok",
                                         ", failed: " + " ".join(errors) if errors else ""))
        return crossed or fire

    def send_due(self, urgent: bool) -> bool:
        if urgent:
            return True  # full or fire: whatever the backoff says
        store = self.store
        every = max(1, self.send_interval_s // self.measure_interval_s)
        first_of_boot = store.seq <= 1  # fetch the config and the time straight away
        nearly_full = self.ring.count * 4 >= self.ring.slots * 3
        due = first_of_boot or nearly_full or store.wakes >= every or store.config is None
        if due and self.backoff.hold_back():
            print("bin: send due, backing off after %d failed sends (%d more wakes)"
                  % (self.backoff.failures, self.backoff.skip))
            return False
        return due

    def send_step(self) -> int:
        awake = self.clock.now_ms() - self.woke
        if awake > self.settings["awake_budget_s"] * 1000:
            if self.updates.busy() and not self.ring.count:
                self.updates.abandon()  # the readings are out; the retained offer comes back
                self.phase = "sleep"
                return 0
            return self.send_failed("no link within %d s" % (awake // 1000))
        if self.session.backoff.failures >= CONNECT_TRIES:
            return self.send_failed("the broker failed %d times" % CONNECT_TRIES)
        if not self.wifi.up() and self.clock.now_ms() - self.sending_since > ASSOCIATE_MS:
            return self.send_failed("no access point within %d s" % (ASSOCIATE_MS // 1000))
        if not self.link():
            return 100
        self.handle_inbox()
        if self.ring.count:
            self.flush_once()
            return 0
        if self.updates.busy():
            self.updates.step()  # an update offered at this send: fetched before sleeping
            return 0
        self.store.wakes = 0
        self.backoff.succeeded()
        self.phase = "sleep"
        return 0

    def send_failed(self, why: str) -> int:
        self.backoff.failed()
        print("bin: %s; the readings wait in flash, next try in %d due wakes"
              % (why, self.backoff.skip))
        self.phase = "sleep"
        return 0

    def sleep(self) -> None:
        if self.session.up:
            self.handle_inbox()
            self.session.close()
        self.wifi.off()
        self.store.save()
        self.ultrasonic.hold_off()
        awake = self.clock.now_ms() - self.woke
        left = max(1000, self.measure_interval_s * 1000 - awake)
        print("bin: awake %d ms, sleeping %d s" % (awake, left // 1000))
        machine.deepsleep(left)

    def apply_config(self, config: dict) -> None:
        section = config.get("bin")
        if section is None:
            super().apply_config(config)
            return
        depth = section["depth_cm"]
        full = section.get("full_pct", 80)
        fire = section.get("fire_temp_c", 70)
        measure = section.get("measure_interval_s", 600)
        send = section.get("send_interval_s", 3600)
        for value in (depth, full, fire):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError("bin thresholds must be positive numbers")
        if not isinstance(measure, int) or not isinstance(send, int) or measure < 60:
            raise ValueError("bin intervals must be whole seconds, at least 60")
        super().apply_config(config)
        self.depth_cm, self.full_pct, self.fire_temp_c = depth, full, fire
        self.measure_interval_s, self.send_interval_s = measure, send
