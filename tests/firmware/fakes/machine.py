"""Fake ``machine``: pins, ADCs, the I2C bus with a BH1750 and an MPU-6050, the echo of the
ultrasonic sensor, the watchdog, deep sleep and reset."""

import math
import random
import time

from . import sim

DEEPSLEEP_RESET = sim.DEEPSLEEP_RESET
PWRON_RESET = sim.PWRON_RESET
SOFT_RESET = sim.SOFT_RESET
WDT_RESET = sim.WDT_RESET
_BH1750 = 0x23
_MPU6050 = 0x68


class Pin:
    OUT = 1
    IN = 0

    def __init__(
        self, pin_id: int, mode: int = -1, pull: int = -1, value: int = -1, hold: object = None
    ) -> None:
        self.id = pin_id
        self.init(mode, pull, value, hold)

    def init(self, mode: int = -1, pull: int = -1, value: int = -1, hold: object = None) -> None:
        """As on the ESP32: a held pad keeps its level; the value applies once it is released."""
        if hold is False:
            sim.held.pop(self.id, None)
        if value >= 0:
            self.value(value)
        if hold:
            sim.held[self.id] = int(sim.pins.get(self.id, 0))

    def value(self, new: int = -1) -> int:
        if new < 0:
            return int(sim.pins.get(self.id, 0))
        if self.id in sim.held:
            return int(sim.pins.get(self.id, 0))  # the pad is latched
        if self.id == sim.settings.get("relay_pin") and sim.pins.get(self.id) != new:
            on = bool(new) == sim.settings.get("relay_active_high", True)
            sim.emit("relay", on=on)
        sim.pins[self.id] = new
        return new


def relay_on() -> bool:
    level = sim.pins.get(int(sim.settings["relay_pin"]), 0)
    return bool(level) == bool(sim.settings.get("relay_active_high", True))


class ADC:
    ATTN_11DB = 3

    def __init__(self, pin: Pin, atten: int = 0) -> None:
        self.pin = pin.id
        self.k = 0

    def read_uv(self) -> int:
        settings, world = sim.settings, sim.world
        if self.pin == settings.get("battery_pin", 35):
            return int(world.get("battery_v", 3.9) / settings.get("battery_divider", 2.0) * 1e6)
        # ACS712 through the divider: 2.5 V at rest, mains current as a 50 Hz sine around it.
        divider = settings.get("current_divider", 1.5)
        uv_per_a = settings.get("current_mv_per_a", 185) * 1000 / divider
        amps = world.get("lamp_a", 0.2) if relay_on() and not world.get("lamp_broken") else 0.0
        per_cycle = max(2, settings.get("current_samples", 160) // 2)
        self.k += 1
        wave = math.sin(2 * math.pi * self.k / per_cycle) * amps * math.sqrt(2) * uv_per_a
        noise = random.getrandbits(11) - 1024  # about 1 mV of noise
        return int(2.5e6 / divider + wave + noise)


class I2C:
    def __init__(
        self, bus: int, scl: Pin | None = None, sda: Pin | None = None, freq: int = 400000
    ) -> None:
        self.bus = bus

    def _present(self, addr: int) -> None:
        fitted = {
            _BH1750: sim.world.get("lux") is not None,
            _MPU6050: sim.world.get("tilt_deg") is not None,
        }
        if not fitted.get(addr):
            raise OSError(19)  # ENODEV: nobody answers at that address

    def writeto(self, addr: int, buf: bytes, stop: bool = True) -> int:
        self._present(addr)
        return 1

    def readfrom(self, addr: int, nbytes: int, stop: bool = True) -> bytes:
        self._present(addr)
        raw = min(65535, int(sim.world["lux"] * 1.2))
        return bytes([raw >> 8, raw & 0xFF])

    def writeto_mem(self, addr: int, memaddr: int, buf: bytes) -> None:
        self._present(addr)

    def readfrom_mem(self, addr: int, memaddr: int, nbytes: int) -> bytes:
        self._present(addr)
        tilt = math.radians(sim.world["tilt_deg"])
        out = b""
        for g in (math.sin(tilt), 0.0, math.cos(tilt)):
            word = int(g * 16384) & 0xFFFF
            out += bytes([word >> 8, word & 0xFF])
        return out


def time_pulse_us(pin: Pin, level: int, timeout_us: int = 1000000) -> int:
    """The echo width: scripted glitches first (``echoes_us``), then the true distance."""
    if sim.echo_script:
        return int(sim.echo_script.pop(0))
    speed = 331.3 + 0.606 * sim.world.get("temp_c", 20.0)
    return int(sim.world.get("distance_cm", 50.0) * 20000 / speed)


class WDT:
    def __init__(self, id: int = 0, timeout: int = 5000) -> None:
        sim.watchdog["timeout"] = timeout
        sim.watchdog["last"] = sim.now().now_ms()
        sim.emit("wdt", timeout_ms=timeout)

    def feed(self) -> None:
        dog = sim.watchdog
        sim.check_watchdog()
        now = sim.now().now_ms()
        dog["max_gap"] = max(dog["max_gap"], now - dog["last"])
        dog["last"] = now
        dog["feeds"] += 1
        sim.poll()


class RTC:
    """The RTC's time (set by NTP) and its memory, which survives deep sleep and resets but
    not a power cut."""

    def datetime(self, when: tuple[int, ...]) -> None:
        year, month, day, _weekday, hour, minute, second = when[:7]
        sim.now().set_rtc(sim.unix_seconds(year, month, day, hour, minute, second))

    def memory(self, data: bytes | None = None) -> bytes:
        if data is None:
            return sim.rtc_memory[0]
        sim.rtc_memory[0] = bytes(data)
        return b""


def reset_cause() -> int:
    return sim.reset_cause


def reset() -> None:
    sim.reset_cause = SOFT_RESET
    sim.emit("reset")
    raise sim.Reset


def deepsleep(time_ms: int = 0) -> None:
    clock = sim.now()
    sim.radio(False)  # the chip powers the radio down, whether the firmware did or not
    sim.emit(
        "deepsleep",
        ms=time_ms,
        awake_ms=clock.now_ms() - sim.wake_ms,
        awake_real_ms=int((time.time() - sim.wake_real) * 1000),
        radio_ms=sim.radio_ms[0] - sim.wake_radio_ms,
        # What each pin does while the chip sleeps: held at its level, or floating (-1).
        sleep_pins={str(pin): level for pin, level in sim.sleep_levels().items()},
    )
    sim.poll()
    clock.advance(time_ms)
    sim.reset_cause = DEEPSLEEP_RESET
    raise sim.DeepSleep


def unique_id() -> bytes:
    return b"\x24\x0a\xc4\x00\x00\x01"
