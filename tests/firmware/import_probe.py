"""Import the whole firmware from one folder, with the ESP32 fakes, and print the heap it holds.

    micropython -X heapsize=N import_probe.py REPO LIB_DIR

Prints the bytes the firmware's modules keep allocated once imported; fails (a MemoryError) when
the heap is too small to import them, which is how the test finds the smallest heap that will.
"""

import gc
import os
import sys


def main() -> None:
    repo, lib = sys.argv[1:3]
    sys.path[:0] = [repo, lib, lib + "/.."]  # loader.py sits beside lib/
    from tests.firmware.fakes import ds18x20, esp, esp32, machine, network, ntptime, onewire

    fakes = {"machine": machine, "network": network, "ntptime": ntptime, "onewire": onewire,
             "ds18x20": ds18x20, "esp": esp, "esp32": esp32}  # fmt: skip
    for name, module in fakes.items():
        sys.modules[name] = module
    gc.collect()
    # MicroPython's own: CPython's gc module, which the type checker knows, has no mem_free.
    mem_free = getattr(gc, "mem_free")  # noqa: B009
    before = mem_free()
    for file in sorted(os.listdir(lib)):  # every module, from .py or .mpy alike
        if not file.startswith("ota."):  # imported only while an update downloads
            __import__(file.rsplit(".", 1)[0])
    gc.collect()
    print(before - mem_free())


main()
