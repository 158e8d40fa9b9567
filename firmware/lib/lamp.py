"""The streetlight node: a relay that follows the schedule of the retained config, a current
sensor that says whether the lamp really lights, and a light sensor for when it must decide
alone."""

import logic
from clock import Clock
from drivers import CurrentSensor, LightSensor, Relay, i2c_bus
from node import Node


class LampNode(Node):
    kind = "lamp"

    def __init__(self, settings: dict, clock: Clock, hard_boot: bool) -> None:
        self.windows: list | None = None  # None until a config with a schedule arrives
        self.utc_offset_min = settings["utc_offset_min"]
        self.fallback_lux = settings["fallback_lux"]
        super().__init__(settings, clock, hard_boot)
        self.relay = Relay(settings["relay_pin"], settings["relay_active_high"])
        self.current = CurrentSensor(settings["current_pin"], settings["current_mv_per_a"],
                                     settings["current_divider"], settings["current_samples"],
                                     settings["current_window_ms"])
        self.light = LightSensor(i2c_bus(settings))
        now = clock.now_ms()
        self.switched_at: int | None = None  # None: not switched since boot
        self.override_until: int | None = None
        self.override_on = False
        self.current_a: float | None = None
        self.lux: float | None = None
        self.fault = False
        self.next_sense = now
        self.next_report = now  # the first reading right after boot

    def step(self) -> int:
        clock = self.clock
        self.link()
        self.handle_inbox()
        now = clock.now_ms()
        if now >= self.next_sense:
            self.sense()
        report = self.control()
        report = self.check_fault() or report
        if report or now >= self.next_report:
            self.report()
        if self.ring.count and self.session.up:
            self.flush_once()
        if self.updates.busy() and self.session.up:
            self.updates.step()  # an update downloads between ticks, one chunk a step
            return 20
        return self.settings["tick_ms"]

    def sense(self) -> None:
        self.current_a = self.current.rms_a()
        self.lux = self.light.lux()
        self.next_sense = self.clock.now_ms() + self.settings["sense_interval_s"] * 1000

    def desired(self) -> bool:
        """Override first; then the schedule, while the link is up and the clock is true;
        otherwise the light sensor."""
        clock = self.clock
        if self.override_until is not None:
            if clock.now_ms() < self.override_until:
                return self.override_on
            self.override_until = None
            print("lamp: override over")
        if self.windows is not None and self.session.up and self.store.synced:
            minute = logic.local_minute(clock.time(), self.utc_offset_min)
            return logic.in_windows(minute, self.windows)
        on = self.relay.on()
        wanted = logic.light_says_on(self.lux, on, self.fallback_lux)
        if wanted != on and self.switched_at is not None:
            held = clock.now_ms() - self.switched_at
            if held < self.settings["fallback_hold_s"] * 1000:
                return on  # the light sensor may not switch more often than this
        return wanted

    def control(self) -> bool:
        """Switch the relay when needed; True when it switched."""
        on = self.desired()
        if on == self.relay.on():
            return False
        self.relay.set(on)
        self.switched_at = self.clock.now_ms()
        print("lamp: relay %s" % ("on" if on else "off"))
        self.sense()
        return True

    def check_fault(self) -> bool:
        """Fault: the relay has been on long enough and no current flows. True on a change.
        An unread current (the sensor failed) decides nothing: the flag stays as it was."""
        if self.current_a is None:
            return False
        lit = self.current_a is not None and self.current_a >= self.settings["lit_min_a"]
        fault = False
        if self.relay.on() and not lit and self.switched_at is not None:
            on_for = self.clock.now_ms() - self.switched_at
            fault = on_for >= self.settings["fault_after_s"] * 1000
        if fault == self.fault:
            return False
        self.fault = fault
        print("lamp: fault %s" % ("detected" if fault else "cleared"))
        return True

    def report(self) -> None:
        fields: dict = {"on": self.relay.on(), "fault": self.fault}
        errors = []  # the sensors whose driver failed at the last sense: both are fitted
        if self.current_a is None:
            errors.append("current")
        else:
            fields["current_a"] = round(self.current_a, 2)
        if self.lux is None:
            errors.append("lux")
        else:
            fields["lux"] = round(self.lux, 1)
        if errors:
            fields["sensor_errors"] = errors
        self.record(fields)
        self.next_report = self.clock.now_ms() + self.report_interval_s * 1000

    def ping(self) -> None:
        self.next_report = self.clock.now_ms()

    def own_command(self, cmd: dict) -> None:
        if cmd["cmd"] != "lamp":
            super().own_command(cmd)
            return
        on, for_s = cmd["on"], cmd["for_s"]
        if not isinstance(on, bool) or not isinstance(for_s, int) or not 0 < for_s <= 86400:
            raise ValueError("lamp command needs on (bool) and for_s (1..86400)")
        self.override_on = on
        self.override_until = self.clock.now_ms() + for_s * 1000

    def apply_config(self, config: dict) -> None:
        section = config.get("lamp")
        if section is not None:
            windows = logic.parse_windows(section["windows"])
            offset = section.get("utc_offset_min", 420)
            lux = section.get("fallback_lux", self.settings["fallback_lux"])
            if not isinstance(offset, int) or not isinstance(lux, (int, float)):
                raise ValueError("utc_offset_min or fallback_lux")
            super().apply_config(config)
            self.windows, self.utc_offset_min, self.fallback_lux = windows, offset, lux
        else:
            super().apply_config(config)
