"""What the node keeps in flash between boots and deep sleeps.

``boot`` counts power-ons and resets (not deep-sleep wakes); ``seq`` numbers readings within a
boot and survives deep sleep, so that (id, boot, seq) never repeats. A counter that went back
would repeat keys the backend already holds, and it would drop the new readings as duplicates.
So the counters are kept in two copies, ``state.0`` and ``state.1``, one line of text each with
a generation number and a CRC32; saves alternate between them, and a new boot writes both:

- one copy unreadable (torn, garbage): the other one is used and a new boot starts from its
  counter plus one, since the lost copy may have held a later ``seq``;
- both unreadable: nothing says how far the counter had gone, so it jumps to a random value
  from 2**30 up, above any count of real restarts (logged);
- no copy at all: a first start, from ``state.json`` if there is one.

``state.json`` is the provisioning file (docs/hardware.md) and the format of firmware 1.0. The
node only reads it, at every start: the boot counter never starts below its ``boot``. A value of
the wrong type in it is named with the file and the key and not used: with no copy yet, a
``boot`` that cannot be read is a lost counter (the jump); other keys take their defaults.

The last accepted config is kept in ``config.json``, written only when it changes: a bin node
that sleeps between measurements must not forget its bin depth. Each copy of the counters is
small enough for LittleFS to keep inside its directory block: a save is a small commit there,
not a block of its own to erase.
"""

import binascii
import json
import os

_COPIES = ("state.0", "state.1")
_PROVISIONED = "state.json"
_CONFIG = "config.json"
_COUNTER_END = 2147483648  # boot and seq wrap here, as the contract allows
_LOST_FLOOR = 1073741824  # a lost counter restarts above this


class Store:
    def __init__(self) -> None:
        self.boot = 0
        self.seq = 0
        self.boot_rtc = 0  # RTC seconds at the start of this boot: unsynced readings count from it
        self.synced = False  # NTP set the RTC during this boot (the RTC keeps it through sleep)
        self.last_sync = 0
        self.wakes = 0  # bin: measurements since the last successful send
        self.last_fill = -1.0  # bin: the previous fill, to see the full threshold being crossed
        self.config: dict | None = None  # the last accepted config message
        self._generation = 0
        self._saved = ""  # the counters as last written: a save that changes nothing is skipped
        self._saved_config = "null"
        self._load()

    def new_boot(self, rtc: int) -> None:
        self.boot = (self.boot + 1) % _COUNTER_END
        self.seq = 0
        self.boot_rtc = rtc
        self.synced = False
        self._save_both()

    def next_seq(self) -> int:
        seq = self.seq
        self.seq = (seq + 1) % _COUNTER_END
        return seq

    def save(self) -> None:
        counters = self._counters()
        if counters != self._saved:
            self._generation += 1
            self._write_copy(self._generation % 2, counters)
        config = json.dumps(self.config)
        if config != self._saved_config:
            tmp = _CONFIG + ".tmp"  # aside and renamed: a power cut leaves the old or the new
            with open(tmp, "w") as f:
                f.write(config)
            os.rename(tmp, _CONFIG)
            self._saved_config = config

    # -- the two copies -------------------------------------------------------------------------

    def _counters(self) -> str:
        return "%d %d %d %d %d %d %r" % (
            self.boot,
            self.seq,
            self.boot_rtc,
            self.synced,
            self.last_sync,
            self.wakes,
            self.last_fill,
        )

    def _write_copy(self, which: int, counters: str) -> None:
        line = "%d %s" % (self._generation, counters)
        with open(_COPIES[which], "w") as f:
            f.write("%s %08x\n" % (line, binascii.crc32(line.encode())))
        self._saved = counters

    def _save_both(self) -> None:
        counters = self._counters()
        for _ in _COPIES:
            self._generation += 1
            self._write_copy(self._generation % 2, counters)

    def _read_copy(self, name: str) -> list | None:
        """The copy's fields, None when it is missing; raises ValueError when unreadable."""
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError:
            return None
        line, _, crc = data.strip().rpartition(b" ")
        try:
            fields = line.decode().split()
            if int(crc, 16) == binascii.crc32(line) and len(fields) == 8:
                return [int(value) for value in fields[:7]] + [float(fields[7])]
        except ValueError:  # UnicodeError is one
            pass
        raise ValueError("not a line of counters with its checksum")

    def _load(self) -> None:
        copies = []
        unreadable = False
        for name in _COPIES:
            try:
                fields = self._read_copy(name)
            except ValueError as err:
                print("store: %s unreadable (%s), not used" % (name, err))
                unreadable = True
                continue
            if fields is not None:
                copies.append(fields)
        provisioned = self._read_provisioned()
        lost = False
        if copies:
            newest = max(copies)  # the highest generation
            self._generation = newest[0]
            self.boot, self.seq, self.boot_rtc, synced, self.last_sync, self.wakes = newest[1:7]
            self.synced = bool(synced)
            self.last_fill = newest[7]
        elif provisioned is not None and "boot" in provisioned:
            self._take(provisioned)
        elif unreadable or self._provisioned_exists:
            # A file held the counter, and no value can be read from it.
            lost = True
            self.boot = _LOST_FLOOR + int.from_bytes(os.urandom(3), "big") * 32
            print("store: no readable boot counter; it jumps to %d" % self.boot)
        floor = provisioned.get("boot") if provisioned is not None else None
        if isinstance(floor, int) and floor > self.boot:
            print("store: %s raises the boot counter to %d" % (_PROVISIONED, floor))
            self.boot = floor
        self.config = self._read_config(provisioned)
        self._saved_config = json.dumps(self.config)
        if unreadable or lost:
            # The lost copy may have been the newer one, with a later seq: start a new boot
            # rather than repeat (boot, seq) keys.
            self.boot = (self.boot + 1) % _COUNTER_END
            self.seq = 0
            self._save_both()
        else:
            self._saved = self._counters()

    # -- the provisioning file and the config ---------------------------------------------------

    def _read_provisioned(self) -> dict | None:
        self._provisioned_exists = False
        try:
            with open(_PROVISIONED) as f:
                self._provisioned_exists = True
                saved = json.load(f)
        except OSError:
            return None
        except ValueError as err:
            print("store: %s is not JSON (%s), not used" % (_PROVISIONED, err))
            return None
        if not isinstance(saved, dict):
            print("store: %s is not a JSON object, not used" % _PROVISIONED)
            return None
        for name in ("boot", "seq", "boot_rtc", "last_sync", "wakes"):
            value = saved.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value:
                print(
                    "store: %s: %s must be a whole number from 0, not %r; not used"
                    % (_PROVISIONED, name, value)
                )
                saved.pop(name)
        for name, kind, what in (
            ("synced", bool, "true or false"),
            ("last_fill", (int, float), "a number"),
            ("config", dict, "a JSON object"),
        ):
            value = saved.get(name)
            if value is not None and (
                not isinstance(value, kind) or (name == "last_fill" and isinstance(value, bool))
            ):
                print(
                    "store: %s: %s must be %s, not %r; not used" % (_PROVISIONED, name, what, value)
                )
                saved.pop(name)
        return saved

    def _take(self, saved: dict) -> None:
        self.boot = saved["boot"]
        self.seq = saved.get("seq", 0)
        self.boot_rtc = saved.get("boot_rtc", 0)
        self.synced = saved.get("synced", False)
        self.last_sync = saved.get("last_sync", 0)
        self.wakes = saved.get("wakes", 0)
        self.last_fill = float(saved.get("last_fill", -1.0))

    def _read_config(self, provisioned: dict | None) -> dict | None:
        try:
            with open(_CONFIG) as f:
                config = json.load(f)
        except OSError:
            return provisioned.get("config") if provisioned is not None else None
        except ValueError as err:
            print("store: %s is not JSON (%s); waiting for the retained config" % (_CONFIG, err))
            return None
        if config is not None and not isinstance(config, dict):
            print("store: %s is not a JSON object; waiting for the retained config" % _CONFIG)
            return None
        return config
