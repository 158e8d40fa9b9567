"""Run the real firmware under the MicroPython Unix port, with host fakes for the ESP32.

    micropython run_node.py REPO FLASH_DIR CONTROL_FILE sim|main|flash

FLASH_DIR plays the node's flash: settings.json is there, and the firmware keeps its state and
readings buffer there. ``sim`` runs app.run on simulated time and starts it again after every
deep sleep or reset, as the ESP32 would; ``main`` runs boot.py and main.py as they are, on the
real clock; ``flash`` runs what is installed in FLASH_DIR (a bundle, as mpremote copies it),
every start afresh. Each ends when the control file says ``"stop": true``.
"""

import gc
import os
import sys


def main() -> None:
    repo, flash, control, mode = sys.argv[1:5]
    if mode == "flash":
        sys.path[:0] = [repo]
    else:
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
    if mode == "flash":
        flash_mode(control)
        return
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


def flash_mode(control: str) -> None:
    """Run what is installed in FLASH_DIR (boot.py, main.py, loader.py, lib/*.mpy and any
    update), as the ESP32 would: every start (power-on, reset, deep sleep) imports it afresh."""
    from tests.firmware.fakes import sim

    base = list(sys.path)
    sys.path[:0] = ["", "lib"]  # the ESP32's '' (the flash's root) and '/lib'
    settings = __import__("settings")
    sim.setup(control, settings.DEFAULTS)
    keep = set(sys.modules) - {"settings"}
    try:
        while True:
            sim.woke()
            try:
                __import__("boot")
                __import__("main")
            except (sim.DeepSleep, sim.Reset):
                pass
            except Exception as err:  # noqa: BLE001 - let through: the WDT resets
                getattr(sys, "print_exception")(err)  # noqa: B009 - MicroPython's own
                sim.crashed()
            for name in list(sys.modules):  # a start imports everything afresh
                if name not in keep:
                    del sys.modules[name]
            sys.path[:] = ["", "lib"] + base
            gc.collect()
    except sim.Stop:
        pass
    sim.summary()


main()
