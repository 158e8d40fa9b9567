"""NTP: at boot, then every ``ntp_interval_s``. Until the first success of a boot, readings say
``synced: false`` and count seconds from the boot."""

import ntptime

from backoff import Backoff
from clock import Clock
from store import Store


class TimeSync:
    def __init__(self, settings: dict, clock: Clock, store: Store) -> None:
        self.host = settings["ntp_host"]
        self.interval_s = settings["ntp_interval_s"]
        self.clock = clock
        self.store = store
        self.backoff = Backoff(clock, 30000, 600000)

    def due(self) -> bool:
        store = self.store
        stale = self.clock.time() - store.last_sync >= self.interval_s
        return (not store.synced or stale) and self.backoff.ready()

    def sync(self) -> bool:
        ntptime.host = self.host
        ntptime.timeout = 2
        try:
            ntptime.settime()
        except OSError as err:
            print("ntp: %s; next attempt in %d ms" % (err, self.backoff.failed()))
            return False
        self.backoff.succeeded()
        store = self.store
        store.synced = True
        store.last_sync = self.clock.time()
        self.store.save()
        return True
