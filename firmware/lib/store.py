"""What the node keeps in flash between boots and deep sleeps, in one small JSON file.

``boot`` counts power-ons and resets (not deep-sleep wakes); ``seq`` numbers readings within a
boot and survives deep sleep, so that (id, boot, seq) never repeats. The last accepted config
is kept too: a bin node that sleeps between measurements must not forget its bin depth.
"""

import json
import os

_FIELDS = ("boot", "seq", "boot_rtc", "synced", "last_sync", "wakes", "last_fill", "config")


class Store:
    def __init__(self, path: str = "state.json") -> None:
        self.path = path
        self.boot = 0
        self.seq = 0
        self.boot_rtc = 0  # RTC seconds at the start of this boot: unsynced readings count from it
        self.synced = False  # NTP set the RTC during this boot (the RTC keeps it through sleep)
        self.last_sync = 0
        self.wakes = 0  # bin: measurements since the last successful send
        self.last_fill = -1.0  # bin: the previous fill, to see the full threshold being crossed
        self.config: dict | None = None  # the last accepted config message
        try:
            with open(path) as f:
                saved = json.load(f)
            for name in _FIELDS:
                if name in saved:
                    setattr(self, name, saved[name])
        except (OSError, ValueError) as err:
            # First boot, or a file torn by a power cut: start over rather than not start.
            print("store: starting fresh (%s)" % err)

    def new_boot(self, rtc: int) -> None:
        self.boot = (self.boot + 1) % 2147483648
        self.seq = 0
        self.boot_rtc = rtc
        self.synced = False
        self.save()

    def next_seq(self) -> int:
        seq = self.seq
        self.seq = (seq + 1) % 2147483648
        return seq

    def save(self) -> None:
        # Write aside and rename: a power cut leaves either the old file or the new one.
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({name: getattr(self, name) for name in _FIELDS}, f)
        os.rename(tmp, self.path)
