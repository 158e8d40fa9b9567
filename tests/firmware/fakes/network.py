"""Fake ``network``: a station that associates at once unless the test says Wi-Fi is down."""

from . import sim

STA_IF = 0


class WLAN:
    def __init__(self, interface: int = STA_IF) -> None:
        self.wanted = False
        self.enabled = False

    def active(self, on: bool = True) -> bool:
        self.enabled = on
        if not on:
            self.wanted = False
        return on

    def connect(self, ssid: str, key: str) -> None:
        if not self.enabled:
            raise OSError("Wifi Not Started")
        self.wanted = True

    def disconnect(self) -> None:
        self.wanted = False

    def isconnected(self) -> bool:
        return self.wanted and bool(sim.world.get("wifi", True))

    def status(self, param: str = "") -> int:
        return int(sim.world.get("rssi", -67))
