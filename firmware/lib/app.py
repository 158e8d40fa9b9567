"""The main loop: one node, one watchdog, fed from exactly one place."""

import gc

import machine

from clock import Clock
from node import Node


def run(settings: dict, clock: Clock) -> None:
    wdt = machine.WDT(timeout=settings["wdt_timeout_ms"])
    # Waking from deep sleep is not a new boot: seq goes on, and the boot counter stays.
    hard_boot = machine.reset_cause() != machine.DEEPSLEEP_RESET
    if settings["role"] == "lamp":
        from lamp import LampNode

        node: Node = LampNode(settings, clock, hard_boot)
    else:
        from wastebin import BinNode

        node = BinNode(settings, clock, hard_boot)
    while True:
        # The only feed. Every step is bounded (socket timeouts, no waiting loops), so a step
        # that hangs longer than the watchdog timeout resets the node, as it should.
        wdt.feed()
        pause = node.step()
        gc.collect()  # small and often: a fragmented heap is what kills long-running nodes
        if pause:
            clock.sleep_ms(pause)
