"""Fake ``esp32``: the chip-wide switch that lets held digital pads keep their level in deep
sleep."""

from . import sim


def gpio_deep_sleep_hold(enable: bool) -> None:
    sim.deep_sleep_hold[0] = bool(enable)
