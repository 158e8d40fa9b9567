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

    def now_ms(self) -> int:
        return int((time.time() - self.real0) * 1000) + self.skipped_ms

    def wall(self) -> float:
        return self.start_ts + self.now_ms() / 1000

    def time(self) -> int:
        if self.rtc_synced:
            return int(self.wall())
        return self.now_ms() // 1000

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
    global wake_ms, wake_real
    wake_ms = now().now_ms()
    wake_real = time.time()
    watchdog["timeout"] = 0


def summary() -> None:
    emit(
        "end",
        feeds=watchdog["feeds"],
        max_gap_ms=watchdog["max_gap"],
        wdt_resets=watchdog["resets"],
    )
