"""Run the real firmware under the MicroPython Unix port, with host fakes for the ESP32.

    micropython run_node.py REPO FLASH_DIR CONTROL_FILE sim|main

FLASH_DIR plays the node's flash: settings.json is there, and the firmware keeps its state and
readings buffer there. ``sim`` runs app.run on simulated time and starts it again after every
deep sleep or reset, as the ESP32 would; ``main`` runs boot.py and main.py as they are, on the
real clock. Either ends when the control file says ``"stop": true``.
"""

import gc
import os
import sys


def main() -> None:
    repo, flash, control, mode = sys.argv[1:5]
    sys.path[:0] = [repo, repo + "/firmware/lib", repo + "/firmware"]
    from tests.firmware.fakes import (
        ds18x20,
        esp,
        esp32,
        machine,
        network,
        ntptime,
        onewire,
        sim,
    )

    fakes = {
        "machine": machine,
        "network": network,
        "ntptime": ntptime,
        "onewire": onewire,
        "ds18x20": ds18x20,
        "esp": esp,
        "esp32": esp32,
    }
    for name, module in fakes.items():
        sys.modules[name] = module
    os.chdir(flash)
    # The firmware is on MicroPython's path, not the type checker's: import it by name.
    settings = __import__("settings")
    sim.setup(control, settings.DEFAULTS)
    try:
        if mode == "main":
            sim.woke()
            __import__("boot")
            __import__("main")
        else:
            app = __import__("app")
            while True:
                sim.woke()
                try:
                    app.run(settings.load(), sim.clock)
                except (sim.DeepSleep, sim.Reset):
                    gc.collect()
                except Exception as err:  # noqa: BLE001 - let through: the WDT resets
                    getattr(sys, "print_exception")(err)  # noqa: B009 - MicroPython's own
                    sim.crashed()
    except sim.Stop:
        pass
    sim.summary()


main()
