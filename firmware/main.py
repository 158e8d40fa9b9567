"""Start the node that settings.json describes (role "lamp" or "bin"), from the application
folder loader.py chooses: the factory lib/, or an update (on trial, or confirmed)."""

import sys

import loader
import machine

folder = loader.choose()
if folder:
    sys.path.insert(0, folder)
try:
    import app
    import settings
    from clock import Clock

    loaded = settings.load()
except Exception as err:  # noqa: BLE001 - MicroPython has no finer net here
    if not folder or folder == (loader.read().get("active") or {}).get("dir"):
        raise  # the factory or confirmed application: stop at the console, as always
    # An update on trial that cannot even start: the next start counts one more try, and
    # loader.py rolls it back after the last.
    sys.print_exception(err)
    machine.reset()
app.run(loaded, Clock())
