"""Fake ``network``: a station that associates at once unless the test says Wi-Fi is down, and
that counts the (simulated) time its radio is on."""

from . import sim

STA_IF = 0


class WLAN:
    def __init__(self, interface: int = STA_IF) -> None:
        self.wanted = False
        self.enabled = False

    def active(self, on: bool | None = None) -> bool:
        if on is None:
            return self.enabled
        self.enabled = on
        sim.radio(on)  # the test counts the seconds the radio is on
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
        if sim.world.get("wlan_bug"):
            # Not an OSError: the kind of surprise only the main loop's guard can catch.
            raise RuntimeError("a bug in the Wi-Fi driver, scripted by the test")
        return int(sim.world.get("rssi", -67))
