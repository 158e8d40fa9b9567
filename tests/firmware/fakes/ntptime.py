"""Fake ``ntptime``: the answer of an NTP server, after as many failures as the test asks for.

``ntp_reply`` in the control file scripts the server: absent, the true time; ``"zero"``, an
all-zero packet (what a Kiss-o'-Death or a broken server sends), read as micropython-lib's
ntptime reads it; a number, those Unix seconds. ``settime`` sets the simulated RTC, as the real
one does, whatever the answer was.
"""

from . import sim

host = "pool.ntp.org"
timeout = 1

_NTP_DELTA = 2208988800  # 1900 to 1970: the Unix port counts from 1970
_MIN_NTP_TIMESTAMP = 3913056000  # ntptime's era fix: below 2024, the next era (2036 on)


def time() -> int:
    if sim.take_ntp_failure():
        raise OSError(110)  # ETIMEDOUT, as the real one does when no answer comes
    reply = sim.world.get("ntp_reply")
    if reply is None:
        return int(sim.now().wall())
    if reply == "zero":
        return 0 + 0x100000000 - _NTP_DELTA  # the era fix applied to a zero timestamp
    return int(reply)


def settime() -> None:
    sim.now().set_rtc(time())
