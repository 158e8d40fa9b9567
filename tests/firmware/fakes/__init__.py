"""Host fakes for the ESP32 modules the firmware imports, for the MicroPython Unix port.

The runner (tests/firmware/run_node.py) registers them in sys.modules under their device names
(machine, network, ntptime, onewire, ds18x20, esp). They are written in the subset of Python
that both MicroPython and CPython's type checker understand. ``sim`` holds the simulated world:
the clock, the sensor values the test scripts through a control file, and what the test may
inspect (relay, watchdog feeds, deep sleeps, free memory) as ``SIM {json}`` lines on stdout.
"""
