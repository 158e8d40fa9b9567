"""Checks of the firmware's pure logic and its flash ring buffer, run by MicroPython itself.

    micropython core_checks.py REPO WORKDIR

Prints one JSON object of results; tests/firmware/test_core.py judges them under CPython.
"""

import json
import os
import sys

# MicroPython has no typing module (nor contextlib), and ignores annotations anyway.
try:  # noqa: SIM105
    from typing import Any
except ImportError:
    pass


def main() -> None:
    repo, workdir = sys.argv[1:3]
    sys.path[:0] = [repo, repo + "/firmware/lib"]
    os.chdir(workdir)
    # The firmware is on MicroPython's path, not the type checker's: import it by name.
    logic, ring = __import__("logic"), __import__("ring")
    out: dict[str, Any] = {}

    def us(cm: float) -> int:
        return int(cm * 20000 / 343.42)  # at 20 degC

    # MicroPython has no unpacking inside list displays: build the lists step by step.
    echoes = [-2, us(50.0), us(51.0), us(49.0), us(500.0)]
    out["distance"] = logic.filtered_distance(echoes, 20.0, 2.0, 100.0)
    out["too_few"] = logic.filtered_distance([-2, -2, -1, us(50.0), us(51.0)], 20.0, 2.0, 100.0)
    out["blind_zone"] = logic.filtered_distance([us(10.0)] * 5, 20.0, 20.0, 100.0)
    out["median_even"] = logic.median([4.0, 1.0, 3.0, 2.0])
    out["fill"] = [logic.fill_pct(d, 100.0) for d in (0.0, 25.0, 100.0, 104.0)]
    overnight = logic.parse_windows([{"on": "17:45", "off": "06:10"}])
    out["overnight"] = [
        logic.in_windows(logic.hhmm(t), overnight)
        for t in ("17:44", "17:45", "23:59", "00:00", "06:09", "06:10", "12:00")
    ]
    bad = []
    for text in ("24:00", "7:30", "12:60", "noon"):
        try:
            logic.hhmm(text)
        except ValueError:
            bad.append(text)
    out["refused"] = bad
    # 2025-06-01 11:30 UTC is 18:30 in Vietnam (UTC+7).
    out["local_minute"] = logic.local_minute(1748777400, 420)
    out["light"] = [
        logic.light_says_on(lux, was_on, 20.0)
        for lux, was_on in ((10.0, False), (30.0, False), (30.0, True), (50.0, True), (None, False))
    ]
    out["within"] = [
        logic.within("rssi", -200),
        logic.within("temp_c", float("nan")),
        logic.within("fill_pct", 100.0),
    ]
    out["limits"] = logic.LIMITS

    # The ring buffer: 4 slots, 6 readings -> the 2 oldest are dropped and counted.
    buffer = ring.RingBuffer("ring.bin", 4)
    for seq in range(6):
        buffer.append(json.dumps({"seq": seq}).encode())
    buf = bytearray(4 * ring.SLOT + 40)
    count, dropped, end = buffer.message_into(buf, 3)
    out["batch"] = bytes(buf[:end]).decode()
    buffer.pop(count, dropped)
    reopened = ring.RingBuffer("ring.bin", 4)  # after a reset: the state is in flash
    count, dropped, end = reopened.message_into(buf, 3)
    out["after_reset"] = [reopened.count, reopened.dropped, bytes(buf[:end]).decode()]
    print(json.dumps(out))


main()
