"""Fake ``ds18x20``: one DS18B20 reading the test's ``temp_c`` (absent when it is null).

``ds18b20_fault`` in the control file makes it fail as micropython-lib's driver does:
``"presence"``, a device found by the scan that then misses the reset pulse (a loose wire):
``onewire.OneWireError``; ``"crc"``, a scratchpad garbled on the wire: ``Exception("CRC error")``.
"""

from . import sim
from .onewire import OneWire, OneWireError


class DS18X20:
    def __init__(self, bus: OneWire) -> None:
        self.bus = bus

    def scan(self) -> list[bytearray]:
        if sim.world.get("temp_c") is None:
            return []
        return [bytearray(b"\x28\x00\x00\x00\x00\x00\x00\x01")]

    def convert_temp(self) -> None:
        if sim.world.get("ds18b20_fault") == "presence":
            raise OneWireError

    def read_temp(self, rom: bytearray) -> float:
        if sim.world.get("ds18b20_fault") == "crc":
            raise Exception("CRC error")  # what micropython-lib's driver raises
        return float(sim.world["temp_c"])
