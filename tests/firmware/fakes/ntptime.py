"""Fake ``ntptime``: sets the simulated RTC, after as many failures as the test asks for."""

from . import sim

host = "pool.ntp.org"
timeout = 1


def settime() -> None:
    if sim.take_ntp_failure():
        raise OSError(110)  # ETIMEDOUT, as the real one does when no answer comes
    sim.now().rtc_synced = True
