"""The main loop: one node, one watchdog, fed from exactly one place; and the one guard that
turns an unexpected error into a deliberate pause instead of a crash."""

import gc
import json
import sys

import machine

from clock import Clock
from node import Node, batch_buffer

CRASH_FILE = "crash.json"  # the last unexpected error and how many there were, kept in flash
LAMP_PAUSE_MS = 5000  # a lamp is back on its schedule after this and the wake (about 2 s)


def run(settings: dict, clock: Clock) -> None:
    wdt = machine.WDT(timeout=settings["wdt_timeout_ms"])
    node: Node | None = None
    try:
        batch_buffer(settings)  # the largest block, before anything else fragments the heap
        node = _make_node(settings, clock)
        while True:
            # The only feed. Every step is bounded (a third of the watchdog timeout for all of
            # its network waits, no waiting loops), so a step that hangs anyway resets the node.
            wdt.feed()
            node.updates.check_trial()
            node.session.start_step()
            pause = node.step()
            gc.collect()  # small and often: a fragmented heap is what kills long-running nodes
            if pause:
                clock.sleep_ms(pause)
    except Exception as err:  # the one catch-all: anything the node did not expect
        _pause_after(err, settings, clock, node)


def _make_node(settings: dict, clock: Clock) -> Node:
    # Waking from deep sleep is not a new boot: seq goes on, and the boot counter stays.
    hard_boot = machine.reset_cause() != machine.DEEPSLEEP_RESET
    if settings["role"] == "lamp":
        from lamp import LampNode

        return LampNode(settings, clock, hard_boot)
    from wastebin import BinNode

    return BinNode(settings, clock, hard_boot)


def _pause_after(err: Exception, settings: dict, clock: Clock, node: Node | None) -> None:
    """Record the error, keep the readings' numbering, and deep-sleep: the node wakes as from
    any deep sleep, with a clean heap and fresh drivers, and it is not a new boot. Left to
    itself the error would stop main.py, the watchdog would reset the chip and the reset would
    count a boot (the readings of a boot that restarts its numbering look like duplicates)."""
    print("app: unexpected error, pausing")
    sys.print_exception(err)
    _record(err, clock)
    if node is not None:
        try:
            node.store.save()  # seq goes on after the pause: no (boot, seq) is used twice
            node.session.close()
        except Exception as again:  # the flash or the socket may be what failed
            print("app: could not save before the pause: %r" % again)
    if settings["role"] == "lamp":
        pause = LAMP_PAUSE_MS
    else:
        pause = settings["measure_interval_s"] * 1000  # the next measurement, as usual
    machine.deepsleep(pause)


def _record(err: Exception, clock: Clock) -> None:
    count = 0
    try:
        with open(CRASH_FILE) as f:
            count = int(json.load(f)["count"])
    except Exception:  # absent (no crash yet) or unreadable: count from here
        pass
    try:
        with open(CRASH_FILE, "w") as f:
            json.dump({"count": count + 1, "error": "%s: %s" % (type(err).__name__, err),
                       "rtc": clock.time()}, f)
    except OSError as again:
        print("app: could not record the error: %r" % again)
