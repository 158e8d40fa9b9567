"""Fake ``onewire``: the bus the DS18B20 hangs on."""

from .machine import Pin


class OneWire:
    def __init__(self, pin: Pin) -> None:
        self.pin = pin
