"""Pure decisions of the nodes: no hardware, no network, no clock of their own.

The limits mirror sangsach/contract/limits.py (a test compares the two): a value outside them
would make the gateway reject the whole reading, so the node leaves such a field out instead.
"""

LIMITS = {
    "current_a": (0.0, 50.0),
    "voltage_v": (0.0, 300.0),
    "lux": (0.0, 200000.0),
    "fill_pct": (0.0, 100.0),
    "distance_cm": (2.0, 600.0),
    "battery_v": (0.0, 15.0),
    "temp_c": (-40.0, 125.0),
    "tilt_deg": (0.0, 180.0),
    "rssi": (-127.0, 0.0),
}


def within(name: str, value: float | None) -> bool:
    if value is None or value != value:  # NaN is not equal to itself
        return False
    low, high = LIMITS[name]
    return low <= value <= high


def median(values: list) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def echo_cm(echo_us: int, temp_c: float | None) -> float:
    """Distance from an ultrasonic round trip; sound is 331.3 m/s at 0 degC, +0.606 per degC."""
    speed = 331.3 + 0.606 * (20.0 if temp_c is None else temp_c)  # m/s
    return echo_us * speed / 20000.0  # there and back: us * m/s / 1e4 / 2 -> cm


def filtered_distance(echoes_us: list, temp_c: float | None, min_cm: float,
                      depth_cm: float) -> float | None:
    """Median of the plausible echoes, or None when fewer than half of them are.

    time_pulse_us returns a negative number on a timeout. Echoes inside the sensor's blind
    zone or well beyond the bin floor are ghosts (the lid, multipath) and are dropped.
    """
    longest = min(600.0, depth_cm + max(10.0, depth_cm * 0.1))
    good = []
    for us in echoes_us:
        if us > 0:
            cm = echo_cm(us, temp_c)
            if min_cm <= cm <= longest:
                good.append(cm)
    if len(good) * 2 <= len(echoes_us):
        return None
    return median(good)


def fill_pct(distance_cm: float, depth_cm: float) -> float:
    """Share of the bin's depth that is filled. A floor reading a little deeper than configured
    means empty, not a negative fill."""
    pct = (depth_cm - distance_cm) * 100.0 / depth_cm
    return round(max(0.0, min(100.0, pct)), 1)


def hhmm(text: str) -> int:
    """Minutes after midnight of "HH:MM"."""
    hours, minutes = text.split(":")
    value = int(hours) * 60 + int(minutes)
    if not (len(text) == 5 and 0 <= value < 1440 and int(minutes) < 60):
        raise ValueError("expected HH:MM, got %r" % text)
    return value


def parse_windows(windows: list) -> list:
    """[{"on": "17:45", "off": "06:10"}] -> [(1065, 370)], checked."""
    return [(hhmm(w["on"]), hhmm(w["off"])) for w in windows]


def local_minute(unix_s: int, utc_offset_min: int) -> int:
    return (unix_s // 60 + utc_offset_min) % 1440


def in_windows(minute: int, windows: list) -> bool:
    """Whether a minute of the local day is inside one of the windows; a window whose "on" is
    after its "off" spans midnight."""
    for on, off in windows:
        if on <= off:
            if on <= minute < off:
                return True
        elif minute >= on or minute < off:
            return True
    return False


def light_says_on(lux: float | None, was_on: bool, threshold: float) -> bool:
    """The fallback: dark means on. Off again only well above the threshold (hysteresis), so
    dusk or a passing headlight does not make the lamp flicker. With no light reading the lamp
    stays on: a road lit by day costs less than a dark one, and the system sees day-burning."""
    if lux is None:
        return True
    if was_on:
        return lux < threshold * 2
    return lux < threshold
