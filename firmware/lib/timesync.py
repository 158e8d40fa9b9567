"""NTP: at boot, then every ``ntp_interval_s`` (a lamp, hourly); a bin node at every send. Until
the first success of a boot, readings say ``synced: false`` and count seconds from the boot.

An answer is believed only when it is plausible: not before this firmware was built, and not
years after it. A zeroed reply (a Kiss-o'-Death, or a broken server) reads as 2036 through
ntptime's era fix; set into the RTC it would stamp every reading in the future, and the gateway
would reject them all until the next sync. A refused answer counts as a failed sync.
"""

import time

import machine
import ntptime

from backoff import Backoff
from clock import EPOCH_OFFSET, Clock
from store import Store

# 2026-11-01 00:00 UTC, the first of the month this firmware was built in (raise it at each
# release): no true time is earlier. (The tests' simulated clocks start days in the past.)
BUILD_TS = 1793491200
MAX_AGE_S = 8 * 365 * 86400  # a node runs firmware this old at most; later answers are wrong
# ntptime's reading of an all-zero reply: no server sends this second in earnest.
ZERO_REPLY_TS = 0x100000000 - 2208988800


def plausible(unix_s: int) -> bool:
    return BUILD_TS <= unix_s <= BUILD_TS + MAX_AGE_S and unix_s != ZERO_REPLY_TS


class TimeSync:
    def __init__(self, settings: dict, clock: Clock, store: Store) -> None:
        self.host = settings["ntp_host"]
        self.interval_s = settings["ntp_interval_s"]
        self.clock = clock
        self.store = store
        self.backoff = Backoff(clock, 30000, 600000)
        self.each_wake = False  # a bin node: sync once in every wake that sends
        self.synced_now = False  # NTP answered since this object was made (this wake)

    def due(self) -> bool:
        store = self.store
        stale = self.clock.time() - store.last_sync >= self.interval_s
        wanted = not store.synced or stale or (self.each_wake and not self.synced_now)
        return wanted and self.backoff.ready()

    def sync(self) -> bool:
        ntptime.host = self.host
        ntptime.timeout = 2
        try:
            unix_s = ntptime.time() + EPOCH_OFFSET
            if not plausible(unix_s):
                raise ValueError("implausible answer %d, not before %d nor after %d"
                                 % (unix_s, BUILD_TS, BUILD_TS + MAX_AGE_S))
            tm = time.gmtime(unix_s - EPOCH_OFFSET)
            machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))
        except (OSError, ValueError) as err:  # no answer, or not one to believe
            print("ntp: %s; next attempt in %d ms" % (err, self.backoff.failed()))
            return False
        self.backoff.succeeded()
        self.synced_now = True
        store = self.store
        store.synced = True
        store.last_sync = self.clock.time()
        self.store.save()
        return True
