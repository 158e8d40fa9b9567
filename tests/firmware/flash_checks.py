"""Damaged flash: corrupt readings, lost copies of the boot counter, values of the wrong type.

    micropython flash_checks.py LIB WORKDIR SCENARIO

LIB is the folder ``ring.py``, ``store.py`` and ``settings.py`` are imported from, WORKDIR the
node's flash (a fresh folder per scenario). The damage is done the same way whatever the files'
layout, so that the checks also run against an older firmware to show what it did. Prints the
firmware's own log lines, then one JSON object: the scenario's results, or ``error`` when the
firmware raised.
"""

import json
import os
import sys

# MicroPython has no typing module, and ignores annotations anyway.
try:  # noqa: SIM105
    from typing import Any
except ImportError:
    pass


def files_under(path: str) -> list[Any]:
    """The files of a buffer, whether it is one file or a folder of them."""
    try:
        return [path + "/" + name for name in os.listdir(path)]
    except OSError:
        return [path]


def overwrite(name: str, at: int, garbage: bytes) -> None:
    with open(name, "rb") as f:
        data = bytearray(f.read())
    data[at : at + len(garbage)] = garbage
    with open(name, "wb") as f:
        f.write(data)


def garble_reading(path: str, seq: int) -> None:
    """Garbage over the start of one reading and the bytes just before it (its length, its
    checksum): what a bad write or a worn cell leaves."""
    marker = f'{{"seq":{seq},'.encode()
    for name in files_under(path):
        with open(name, "rb") as f:
            at = f.read().find(marker)
        if at >= 7:
            overwrite(name, at - 7, b"\xaa" * 12)
            return
    raise AssertionError(f"reading {seq} not found")


def reading(seq: int) -> bytes:
    return f'{{"seq":{seq},"kind":"lamp","on":true}}'.encode()


def drain(ring_module: Any, buffer: Any) -> list[Any]:
    """Every message the buffer gives, each acknowledged, as the node sends them."""
    buf = bytearray(20 * ring_module.SLOT + 40)
    messages: list[Any] = []
    while buffer.count and len(messages) < 10:
        count, dropped, end = buffer.message_into(buf, 3)
        messages.append(json.loads(bytes(buf[:end])))
        buffer.pop(count, dropped)
    return messages


def ring_corrupt(out: dict[str, Any]) -> None:
    ring = __import__("ring")
    buffer = ring.RingBuffer("readings", 50)
    for seq in range(7):
        buffer.append(reading(seq))
    garble_reading("readings", 2)
    garble_reading("readings", 5)
    reopened = ring.RingBuffer("readings", 50)  # a reset: the buffer is read from flash
    out["count"] = reopened.count
    out["messages"] = drain(ring, reopened)
    again = ring.RingBuffer("readings", 50)  # the skipped records are not counted twice
    again.append(reading(7))
    out["after"] = drain(ring, again)
    out["corrupt"] = getattr(again, "corrupt", None)


def ring_garbage(out: dict[str, Any]) -> None:
    ring = __import__("ring")
    buffer = ring.RingBuffer("readings", 50)
    for seq in range(5):
        buffer.append(reading(seq))
    for name in files_under("readings"):
        size = os.stat(name)[6]
        overwrite(name, 0, os.urandom(size))
    reopened = ring.RingBuffer("readings", 50)
    reopened.append(reading(9))
    out["messages"] = drain(ring, reopened)


def newest_state_file() -> str:
    """The copy of the counters written last; the only state file of firmware 1.0."""
    copies = []
    for name in ("state.0", "state.1"):
        try:
            with open(name) as f:
                copies.append((int(f.read().split()[0]), name))
        except OSError:
            pass
    return max(copies)[1] if copies else "state.json"


def boots(store_module: Any, times: int) -> Any:
    state = None
    for _ in range(times):
        state = store_module.Store()
        state.new_boot(100)
    return state


def state_one_copy(out: dict[str, Any]) -> None:
    store = __import__("store")
    state = boots(store, 3)
    state.last_sync = 1234
    state.save()
    for _ in range(5):
        state.next_seq()
    state.save()  # seq 5 of boot 3, in the newest copy
    overwrite(newest_state_file(), 0, b"\x00\xff garbage \xff\x00")
    after = store.Store()  # a deep-sleep wake: no new boot
    out["wake"] = [after.boot, after.seq, after.last_sync]
    after.new_boot(200)
    out["next_boot"] = after.boot


def state_both_copies(out: dict[str, Any]) -> None:
    store = __import__("store")
    boots(store, 3)
    for name in ("state.0", "state.1", "state.json"):
        try:  # noqa: SIM105 - MicroPython has no contextlib
            overwrite(name, 0, b"\x00\xff garbage \xff\x00")
        except OSError:
            pass
    after = store.Store()
    after.new_boot(200)
    out["boot"] = after.boot


def provisioned(text: str) -> Any:
    with open("state.json", "w") as f:
        f.write(text)
    state = __import__("store").Store()
    state.new_boot(100)
    return state


def state_boot_as_text(out: dict[str, Any]) -> None:
    out["boot"] = provisioned('{"boot": "42"}').boot


def state_json_unreadable(out: dict[str, Any]) -> None:
    """The only record of the counter is a state.json that does not parse (firmware 1.0's file,
    torn by a power cut)."""
    out["boot"] = provisioned('{"boot": 4\x00\xff').boot


def state_provisioned(out: dict[str, Any]) -> None:
    state = provisioned('{"boot": 42, "wakes": "x", "synced": "yes", "config": [1]}')
    out["fields"] = [state.boot, state.wakes, state.synced, state.config]


def settings_type(out: dict[str, Any]) -> None:
    settings = __import__("settings")
    with open("settings.json", "w") as f:
        f.write(
            json.dumps(
                {
                    "id": "lamp-dong-ha-001",
                    "role": "lamp",
                    "wifi_ssid": "x",
                    "mqtt_host": "127.0.0.1",
                    "buffer_slots": "500",
                }
            )
        )
    try:
        settings.load()
    except settings.SettingsError as err:
        out["refused"] = str(err)


SCENARIOS = {
    "ring_corrupt": ring_corrupt,
    "ring_garbage": ring_garbage,
    "state_one_copy": state_one_copy,
    "state_both_copies": state_both_copies,
    "state_boot_as_text": state_boot_as_text,
    "state_json_unreadable": state_json_unreadable,
    "state_provisioned": state_provisioned,
    "settings_type": settings_type,
}


def main() -> None:
    lib, workdir, scenario = sys.argv[1:4]
    sys.path.insert(0, lib)
    os.chdir(workdir)
    out: dict[str, Any] = {}
    try:
        SCENARIOS[scenario](out)
    except Exception as err:  # noqa: BLE001 - reported to the test, which names it
        out["error"] = f"{type(err).__name__}: {err}"
    print(json.dumps(out))


main()
