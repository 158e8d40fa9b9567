"""The simulated world around one node: time, sensors, and what the test observes."""

import gc
import json
import time

# MicroPython has no typing module (nor contextlib), and ignores annotations anyway.
try:  # noqa: SIM105
    from typing import Any
except ImportError:
    pass

DEEPSLEEP_RESET = 4
PWRON_RESET = 1
SOFT_RESET = 5
WDT_RESET = 3


class DeepSleep(BaseException):
    """machine.deepsleep: the ESP32 powers down and later boots from main.py again."""


class Reset(BaseException):
    """machine.reset or the watchdog: the ESP32 restarts."""


class Stop(BaseException):
    """The test asked the simulation to end."""


def emit(event: str, **fields: object) -> None:
    fields["ev"] = event
    fields["t"] = clock.now_ms() if clock else 0
    print("SIM " + json.dumps(fields))


class SimClock:
    """Time that runs ``speed`` times faster than the host's while the node sleeps.

    Simulated time never falls behind the host's (blocking network calls count in full) and
    the simulated wall clock never runs ahead of the host's, since the gateway rejects readings
    from the future. Its RTC counts from power-on until NTP (the fake ntptime) sets it.
    """

    def __init__(self, speed: float, start_ts: float) -> None:
        self.speed = speed
        self.real0 = time.time()
        self.start_ts = start_ts
        self.skipped_ms = 0
        self.rtc_synced = False
        self.rtc_offset = 0  # what NTP set minus the true time: a wrong answer shows

    def now_ms(self) -> int:
        return int((time.time() - self.real0) * 1000) + self.skipped_ms

    def wall(self) -> float:
        return self.start_ts + self.now_ms() / 1000

    def time(self) -> int:
        if self.rtc_synced:
            return int(self.wall()) + self.rtc_offset
        return self.now_ms() // 1000

    def set_rtc(self, unix_s: int) -> None:
        self.rtc_synced = True
        self.rtc_offset = unix_s - int(self.wall())
        emit("rtc", year_offset_s=self.rtc_offset)

    def sleep_ms(self, ms: int) -> None:
        poll()
        self.advance(ms)

    def advance(self, ms: int) -> None:
        ahead_ms = (self.wall() - time.time()) * 1000 + ms
        real_ms = ms / self.speed if ahead_ms <= 0 else ms
        time.sleep(real_ms / 1000)
        self.skipped_ms += int(ms - real_ms)


clock: SimClock | None = None
control_path = ""
world: dict[str, Any] = {}
settings: dict[str, Any] = {}
reset_cause = PWRON_RESET
pins: dict[int, int] = {}
wake_ms = 0
wake_real = 0.0
watchdog = {"timeout": 0, "last": 0, "feeds": 0, "max_gap": 0, "resets": 0}
_next_poll = 0.0
_next_mem = 0
_ntp_failures = 0
echo_script: list[int] = []
held: dict[int, int] = {}  # pins whose pad hold is on, and the level they hold
deep_sleep_hold = [False]  # esp32.gpio_deep_sleep_hold: digital pads keep their hold asleep
rtc_memory = [b""]  # machine.RTC().memory(): kept through deep sleep and resets
radio_ms = [0]  # simulated ms the Wi-Fi radio has been on, over the whole run
_radio_since = [-1]
wake_radio_ms = 0
# ESP32 pads in the RTC domain: their pad hold works in deep sleep without the chip-wide switch.
RTC_PADS = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)


def radio(on: bool) -> None:
    """The fake WLAN switched its radio on or off: count the simulated time it is on."""
    now_ms = now().now_ms()
    if on and _radio_since[0] < 0:
        _radio_since[0] = now_ms
    elif not on and _radio_since[0] >= 0:
        radio_ms[0] += now_ms - _radio_since[0]
        _radio_since[0] = -1


def sleep_levels() -> dict[int, int]:
    """Each pin the firmware drove, as it is during deep sleep: its held level or -1 (floats)."""
    levels = {}
    for pin in pins:
        kept = pin in held and (deep_sleep_hold[0] or pin in RTC_PADS)
        levels[pin] = held[pin] if kept else -1
    return levels


def unix_seconds(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    """The proleptic Gregorian calendar to Unix seconds (the RTC's datetime tuple)."""
    y = year - (1 if month <= 2 else 0)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + hour * 3600 + minute * 60 + second


def setup(path: str, defaults: dict[str, Any]) -> None:
    """Read the control file and the node's settings (the board's wiring) once."""
    global clock, control_path, wake_real
    control_path = path
    load_control()
    settings.update(defaults)
    with open("settings.json") as f:
        settings.update(json.load(f))
    clock = SimClock(world.get("speed", 1), world.get("start_ts", time.time()))
    wake_real = time.time()


def load_control() -> None:
    global _ntp_failures
    with open(control_path) as f:
        new = json.load(f)
    # Scripted sequences start over only when the test writes new ones.
    if new.get("ntp_failures", 0) != world.get("ntp_failures", 0):
        _ntp_failures = new.get("ntp_failures", 0)
    if new.get("echoes_us") != world.get("echoes_us"):
        echo_script[:] = new.get("echoes_us") or []
    world.update(new)
    if clock:
        clock.speed = world.get("speed", clock.speed)


def now() -> SimClock:
    if clock is None:
        raise RuntimeError("sim.setup() first")
    return clock


def poll() -> None:
    """Called at every sleep and watchdog feed: take the test's new control values, stop when
    asked, starve the watchdog when nobody fed it, sample free memory."""
    global _next_poll, _next_mem
    sim = now()
    real = time.time()
    if real >= _next_poll:
        _next_poll = real + 0.02
        load_control()
        if world.get("stop"):
            raise Stop
    check_watchdog()
    every_ms = world.get("mem_every_s", 0) * 1000
    if every_ms and sim.now_ms() >= _next_mem:
        _next_mem = sim.now_ms() + every_ms
        gc.collect()
        # MicroPython's own: CPython's gc module, which the type checker knows, has neither.
        free, alloc = getattr(gc, "mem_free")(), getattr(gc, "mem_alloc")()  # noqa: B009
        emit("mem", free=free, alloc=alloc)


def check_watchdog() -> None:
    global reset_cause
    timeout = watchdog["timeout"]
    if timeout and now().now_ms() - watchdog["last"] > timeout:
        watchdog["resets"] += 1
        watchdog["timeout"] = 0
        reset_cause = WDT_RESET
        emit("wdt_reset", starved_ms=now().now_ms() - watchdog["last"])
        raise Reset


def take_ntp_failure() -> bool:
    global _ntp_failures
    if _ntp_failures > 0:
        _ntp_failures -= 1
        return True
    return False


def woke() -> None:
    """A new run of main.py: after power-on, reset or deep sleep."""
    global wake_ms, wake_real, wake_radio_ms
    wake_ms = now().now_ms()
    wake_real = time.time()
    wake_radio_ms = radio_ms[0]
    watchdog["timeout"] = 0


def crashed() -> None:
    """main.py ended with an exception: the ESP32 sits in the REPL, nobody feeds the watchdog,
    and it resets the chip (a new boot) once its timeout has passed."""
    global reset_cause
    starved = watchdog["timeout"] or 60000
    radio(False)
    now().advance(starved)
    watchdog["resets"] += 1
    watchdog["timeout"] = 0
    reset_cause = WDT_RESET
    emit("wdt_reset", starved_ms=starved, crashed=True)


def summary() -> None:
    radio(False)
    emit(
        "end",
        feeds=watchdog["feeds"],
        max_gap_ms=watchdog["max_gap"],
        wdt_resets=watchdog["resets"],
        radio_ms=radio_ms[0],
    )
