"""The node's hardware, one small class per part. Pin numbers come from the settings.

Every reading method is the boundary where a part's failure becomes "no value" (None): the real
drivers raise more than OSError (``onewire.OneWireError``, ``Exception("CRC error")`` from
``ds18x20``, ValueError from a short I2C read), and a sensor that fails must cost one field of
one reading, never the wake (a crash would reset the node and count a new boot). Each failure is
logged and counted in ``FAULTS``, by part, since the node started.
"""

import math
import time

import machine
from machine import ADC, I2C, Pin

from clock import Clock

FAULTS: dict = {}  # part name -> failures since start; the log line shows the count


def _failed(part: str, err: Exception) -> None:
    count = FAULTS.get(part, 0) + 1
    FAULTS[part] = count
    print("%s: %s: %r (failure %d since start)" % (part, type(err).__name__, err, count))


class Relay:
    """The lamp's relay (or SSR) on a GPIO; the coil driver may be active-low."""

    def __init__(self, pin: int, active_high: bool) -> None:
        self.active_high = active_high
        self.pin = Pin(pin, Pin.OUT, value=0 if active_high else 1)

    def set(self, on: bool) -> None:
        self.pin.value(1 if on == self.active_high else 0)

    def on(self) -> bool:
        return bool(self.pin.value()) == self.active_high


class CurrentSensor:
    """ACS712-05B (185 mV/A) on an ADC pin through a divider (its output swings around 2.5 V
    from a 5 V supply; the ESP32 ADC reads up to about 3.1 V at 11 dB).

    The mains current is AC: sample two 50 Hz cycles and take the RMS of the deviation from the
    mean, which also removes the sensor's zero offset, so no calibration is needed."""

    def __init__(self, pin: int, mv_per_a: float, divider: float, samples: int,
                 window_ms: int) -> None:
        self.adc = ADC(Pin(pin), atten=ADC.ATTN_11DB)
        self.uv_per_a = mv_per_a * 1000.0 / divider  # at the ADC pin
        self.samples = samples
        self.spacing_us = window_ms * 1000 // samples

    def rms_a(self) -> float | None:
        total = total_sq = 0.0
        try:
            for _ in range(self.samples):
                uv = self.adc.read_uv()
                total += uv
                total_sq += uv * uv
                time.sleep_us(self.spacing_us)
        except Exception as err:  # the driver boundary: any failure is "no value"
            _failed("acs712", err)
            return None
        mean = total / self.samples
        variance = max(0.0, total_sq / self.samples - mean * mean)
        return math.sqrt(variance) / self.uv_per_a


class LightSensor:
    """BH1750 ambient light sensor on I2C (address 0x23), continuous high-resolution mode."""

    ADDRESS = 0x23

    def __init__(self, i2c: I2C) -> None:
        self.i2c = i2c
        self.ready = False

    def lux(self) -> float | None:
        try:
            if not self.ready:
                self.i2c.writeto(self.ADDRESS, b"\x01")  # power on
                self.i2c.writeto(self.ADDRESS, b"\x10")  # continuous, 1 lx, 120 ms
                self.ready = True
            raw = self.i2c.readfrom(self.ADDRESS, 2)
            value = (raw[0] << 8 | raw[1]) / 1.2
        except Exception as err:  # not fitted, a disturbed bus, a short read
            _failed("bh1750", err)
            self.ready = False
            return None
        return value


class Ultrasonic:
    """JSN-SR04T (waterproof) or HC-SR04: a 10 us trigger pulse, then the echo's width."""

    def __init__(self, trig: int, echo: int, power: int) -> None:
        self.trig = Pin(trig, Pin.OUT, value=0)
        self.echo = Pin(echo, Pin.IN)
        # The power pin may still be held low from the last deep sleep: release it to drive it.
        self.power = Pin(power, Pin.OUT, value=0, hold=False)  # type: ignore[call-arg]

    def pings(self, n: int, clock: Clock) -> list:
        """Round-trip times in us; negative where no echo came back in time (an empty list
        when the driver failed)."""
        echoes = []
        self.power.value(1)
        try:
            clock.sleep_ms(100)  # the module starts up
            for _ in range(n):
                self.trig.value(1)
                time.sleep_us(10)
                self.trig.value(0)
                echoes.append(machine.time_pulse_us(self.echo, 1, 40000))  # 40 ms: beyond 6 m
                clock.sleep_ms(60)  # let the last echo die out (JSN-SR04T datasheet)
        except Exception as err:  # the driver boundary
            _failed("jsn-sr04t", err)
            echoes = []
        finally:
            self.power.value(0)  # whatever happened: powered, it draws 8 mA
        return echoes

    def hold_off(self) -> None:
        """Keep the sensor's power switch off through deep sleep. An ESP32 pin that is not
        held floats while the chip sleeps, and the gate driver may then switch the sensor on
        for the whole night. GPIO19 is a digital pad: it needs the pad hold and the chip-wide
        deep-sleep hold. Both are in MicroPython's ESP32 port (quickref) but missing from the
        1.29 stubs, hence the ignores."""
        import esp32

        self.power.init(Pin.OUT, value=0, hold=True)  # type: ignore[call-arg]
        esp32.gpio_deep_sleep_hold(True)  # type: ignore[attr-defined]


class Battery:
    """Cell voltage through a 470k/470k divider (with 100 nF at the pin) on an ADC pin."""

    def __init__(self, pin: int, divider: float) -> None:
        self.adc = ADC(Pin(pin), atten=ADC.ATTN_11DB)
        self.divider = divider

    def volts(self) -> float | None:
        total = 0
        try:
            for _ in range(8):
                total += self.adc.read_uv()
        except Exception as err:  # the driver boundary
            _failed("battery", err)
            return None
        return total / 8 / 1e6 * self.divider


class Thermometer:
    """DS18B20 on 1-Wire, inside the bin."""

    def __init__(self, pin: int) -> None:
        # Imported here: only a bin node has the sensor, and a lamp node's heap is spared.
        import ds18x20
        import onewire

        self.sensor = ds18x20.DS18X20(onewire.OneWire(Pin(pin)))

    def celsius(self, clock: Clock) -> float | None:
        try:
            roms = self.sensor.scan()
            if not roms:
                return None
            for _ in range(2):
                self.sensor.convert_temp()
                clock.sleep_ms(750)  # 12-bit conversion
                value = self.sensor.read_temp(roms[0])
                # 85.0 is the power-on value, not a measurement: it would look like a fire.
                if value != 85.0:
                    return value
        except Exception as err:  # OneWireError (no presence pulse), "CRC error", OSError
            _failed("ds18b20", err)
        return None


class TiltSensor:
    """MPU-6050 accelerometer on I2C (0x68): the angle between the bin's axis and gravity."""

    ADDRESS = 0x68

    def __init__(self, i2c: I2C) -> None:
        self.i2c = i2c

    def degrees(self) -> float | None:
        try:
            self.i2c.writeto_mem(self.ADDRESS, 0x6B, b"\x00")  # wake up
            raw = self.i2c.readfrom_mem(self.ADDRESS, 0x3B, 6)
            self.i2c.writeto_mem(self.ADDRESS, 0x6B, b"\x40")  # back to sleep: battery
            ax, ay, az = (_signed(raw[i] << 8 | raw[i + 1]) for i in (0, 2, 4))
        except Exception as err:  # not fitted, a disturbed bus, a short read
            _failed("mpu6050", err)
            return None
        norm = math.sqrt(ax * ax + ay * ay + az * az)
        if not norm:
            return None
        return math.degrees(math.acos(max(-1.0, min(1.0, az / norm))))


def _signed(word: int) -> int:
    return word - 65536 if word & 0x8000 else word


def i2c_bus(settings: dict) -> I2C:
    return I2C(0, scl=Pin(settings["i2c_scl"]), sda=Pin(settings["i2c_sda"]), freq=100000)
