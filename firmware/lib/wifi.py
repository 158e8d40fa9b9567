"""Wi-Fi station with backoff between association attempts."""

import network

from backoff import Backoff
from clock import Clock


class Wifi:
    def __init__(self, settings: dict, clock: Clock) -> None:
        self.ssid = settings["wifi_ssid"]
        self.password = settings["wifi_password"]
        self.wlan = network.WLAN(network.STA_IF)
        # The radio starts with the first attempt, not here: a bin wake that only measures
        # keeps it off (100 mA and more while it is on).
        self.started = False
        # Association takes seconds: the first retry comes no sooner than 4 s.
        self.backoff = Backoff(clock, 4000, 120000)

    def up(self) -> bool:
        return self.wlan.isconnected()

    def ensure(self) -> bool:
        """Connected now? If not, start (or restart) an attempt when the backoff allows; the
        ESP32 associates in the background, so this never blocks."""
        if self.wlan.isconnected():
            if self.backoff.failures:
                self.backoff.succeeded()
            return True
        if self.backoff.ready():
            try:
                if not self.started:
                    self.wlan.active(True)
                    self.started = True
                self.wlan.disconnect()  # abandon a half-finished attempt
                self.wlan.connect(self.ssid, self.password)
            except OSError as err:
                print("wifi: %s" % err)
            self.backoff.failed()
        return False

    def rssi(self) -> int | None:
        if not self.started or not self.wlan.isconnected():
            return None
        try:
            return self.wlan.status("rssi")
        except OSError:
            return None

    def off(self) -> None:
        self.wlan.active(False)
        self.started = False
