"""Flash wear of the readings buffer and the node's state, on MicroPython's own LittleFS.

    micropython -X heapsize=6M flash_wear.py REPO LIB lamp|bin READINGS [WARMUP]

LIB is the folder ``ring.py`` and ``store.py`` are imported from (``firmware/lib``, or a copy of
an older version to compare). A counting block device with the geometry of an ESP32's ``vfs``
partition (4096-byte blocks, 2 MiB in the 4 MiB ESP32_GENERIC layout) is formatted with
``vfs.VfsLfs2`` as the ESP32 port formats it, the firmware files are copied in, then the node's
flash traffic is replayed:

- lamp: every reading is buffered, sent alone and acknowledged; the state is saved at every NTP
  sync (hourly: one save every 12 of the ~300 readings a day);
- bin: every wake starts afresh (deep sleep), buffers one reading and saves the state; every
  sixth wake sends the hour's batch and saves the NTP sync; the state is saved before sleeping.

The first WARMUP readings (default 500, a full buffer's worth) bring the files to their steady
size and are not counted.

Prints one JSON object: erases and bytes programmed, in total, per reading and per block.
"""

import json
import os
import sys

# MicroPython has no typing module, and ignores annotations anyway.
try:  # noqa: SIM105
    from typing import Any
except ImportError:
    pass

import vfs  # type: ignore[import-not-found]

BLOCK = 4096
BLOCKS = 512
ERASE_BYTE = b"\xff"


class CountingFlash:
    """The block-device protocol of MicroPython's VFS (extended form: offsets, explicit erase),
    counting every erase and every byte programmed, block by block."""

    def __init__(self) -> None:
        self.data = bytearray(ERASE_BYTE * (BLOCK * BLOCKS))
        self.erases = [0] * BLOCKS
        self.programmed = 0

    def readblocks(self, block: int, buf: bytearray, offset: int = 0) -> None:
        start = block * BLOCK + offset
        buf[:] = self.data[start : start + len(buf)]

    def writeblocks(self, block: int, buf: bytearray, offset: int | None = None) -> None:
        if offset is None:  # the simple form: whole blocks, erased first
            for i in range(len(buf) // BLOCK):
                self.ioctl(6, block + i)
            offset = 0
        start = block * BLOCK + offset
        self.data[start : start + len(buf)] = buf
        self.programmed += len(buf)

    def ioctl(self, op: int, arg: int) -> int | None:
        if op == 4:  # block count
            return BLOCKS
        if op == 5:  # block size
            return BLOCK
        if op == 6:  # erase
            self.erases[arg] += 1
            start = arg * BLOCK
            self.data[start : start + BLOCK] = ERASE_BYTE * BLOCK
            return 0
        return 0  # init, deinit, sync


def copy_in(source: str, target: str) -> None:
    with open(source, "rb") as f:
        data = f.read()
    with open(target, "wb") as f:
        f.write(data)


def lamp_reading(seq: int) -> bytes:
    return json.dumps(
        {
            "id": "lamp-dong-ha-001",
            "kind": "lamp",
            "boot": 12,
            "seq": seq,
            "ts": 1795970000 + seq * 288,
            "on": True,
            "fault": False,
            "current_a": 0.18,
            "lux": 3.0,
            "rssi": -71,
        }
    ).encode()


def bin_reading(seq: int) -> bytes:
    return json.dumps(
        {
            "id": "bin-dong-ha-01",
            "kind": "bin",
            "boot": 12,
            "seq": seq,
            "ts": 1795970000 + seq * 600,
            "fill_pct": 61.0,
            "distance_cm": 43.0,
            "battery_v": 3.91,
            "temp_c": 29.5,
            "tilt_deg": 2.0,
            "rssi": -71,
        }
    ).encode()


def send_all(ring_buffer: Any, buf: bytearray) -> None:
    while ring_buffer.count:
        count, dropped, _ = ring_buffer.message_into(buf, 20)
        ring_buffer.pop(count, dropped)


def main() -> None:
    here = os.getcwd()  # the paths given are read after the flash becomes the working folder
    repo, lib = [p if p.startswith("/") else here + "/" + p for p in sys.argv[1:3]]
    role, readings = sys.argv[3], int(sys.argv[4])
    warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 500
    flash = CountingFlash()
    vfs.VfsLfs2.mkfs(flash)
    vfs.mount(vfs.VfsLfs2(flash), "/flash")
    os.chdir("/flash")
    os.mkdir("lib")
    for name in os.listdir(repo + "/firmware/lib"):
        copy_in(repo + "/firmware/lib/" + name, "lib/" + name)
    for name in ("boot.py", "main.py", "settings.template.json"):
        copy_in(repo + "/firmware/" + name, name)
    sys.path.insert(0, lib)
    ring, store = __import__("ring"), __import__("store")
    buf = bytearray(20 * ring.SLOT + 40)
    config = {
        "rev": 3,
        "report_interval_s": 300,
        "utc_offset_min": 420,
        "lamp": {"windows": [{"on": "17:45", "off": "06:10"}]},
        "bin": {"depth_cm": 100.0, "full_pct": 80, "fire_temp_c": 70},
    }
    state = store.Store()
    state.new_boot(0)
    state.config = config
    state.save()
    used = BLOCKS - os.statvfs("/flash")[3]
    start: list[Any] = []

    def count_from_here() -> None:
        start[:] = [flash.programmed, list(flash.erases)]

    if role == "lamp":
        buffer = ring.RingBuffer("readings", 500)
        for reading in range(warmup + readings):
            if reading == warmup:
                count_from_here()
            buffer.append(lamp_reading(state.next_seq()))
            send_all(buffer, buf)
            if state.seq % 12 == 0:  # the hourly NTP sync
                state.synced, state.last_sync = True, 1795970000 + state.seq * 288
                state.save()
    else:
        for wake in range(warmup + readings):
            if wake == warmup:
                count_from_here()
            state = store.Store()  # every wake from deep sleep reads the flash again
            buffer = ring.RingBuffer("readings", 500)
            buffer.append(bin_reading(state.next_seq()))
            state.wakes += 1
            state.last_fill = 61.0
            state.save()
            if wake % 6 == 0:  # the hourly send, with its NTP sync
                state.synced, state.last_sync = True, 1795970000 + wake * 600
                state.save()
                send_all(buffer, buf)
                state.wakes = 0
            state.save()  # before deep sleep
    programmed_before, erases_before = start
    wear = [flash.erases[i] - erases_before[i] for i in range(BLOCKS)]
    print(
        json.dumps(
            {
                "role": role,
                "readings": readings,
                "blocks": BLOCKS,
                "block_size": BLOCK,
                "blocks_used_by_files": used,
                "erases": sum(wear),
                "programmed": flash.programmed - programmed_before,
                "most_erased_block": max(wear),
                "blocks_erased": len([n for n in wear if n]),
            }
        )
    )


main()
