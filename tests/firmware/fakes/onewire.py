"""Fake ``onewire``: the bus the DS18B20 hangs on, and the driver's own exception."""

from .machine import Pin


class OneWireError(Exception):
    """As micropython-lib's onewire raises it: no device answered the reset pulse."""


class OneWire:
    def __init__(self, pin: Pin) -> None:
        self.pin = pin
