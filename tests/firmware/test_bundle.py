"""The compiled bundle (``sangsach firmware build``): what ``mpremote`` and updates install.

It is built into a temporary folder and run as the node runs it: the MicroPython Unix port
imports ``lib/*.mpy`` (there is no ``.py`` beside them), against the test broker. The free heap
is measured for the sources and for the bundle in the same lamp scenario, printed (``-s``) and
compared.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sangsach.firmware_build import MANIFEST, build
from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import HEAP, MICROPYTHON, ROOT, Device, Watcher, node_settings

PROBE = Path(__file__).with_name("import_probe.py")

SOURCES_LAMP = "lamp-dong-ha-005"  # two ids: each run waits for readings of its own
BUNDLE_LAMP = "lamp-dong-ha-006"


class BundleDevice(Device):
    """A node whose firmware is a bundle folder. ``run_node.py`` puts ``REPO/firmware/lib`` and
    ``REPO/firmware`` on the path, so the bundle runs from a folder that holds it as
    ``firmware`` and the tests' fakes as ``tests``, and nothing else."""

    def __init__(self, root: Path, settings: dict[str, Any], bundle: Path, **control: Any):
        super().__init__(root, settings, **control)
        self.repo = root / "repo"
        self.repo.mkdir()
        (self.repo / "firmware").symlink_to(bundle, target_is_directory=True)
        (self.repo / "tests").symlink_to(ROOT / "tests", target_is_directory=True)


def interpreter_mpy() -> str:
    """The .mpy format the Unix port loads: ``sys.implementation._mpy``, "major.sub"."""
    answer = subprocess.run(
        [str(MICROPYTHON), "-c", "import sys; print(sys.implementation._mpy)"],
        capture_output=True, text=True, check=True, timeout=10,
    )  # fmt: skip
    flags = int(answer.stdout)
    return f"{flags & 0xFF}.{flags >> 8 & 3}"


def imported(lib: Path, heap_k: int) -> int | None:
    """Bytes the firmware's modules hold once imported from ``lib`` in a heap of ``heap_k`` KB;
    None when that heap is too small to import them."""
    answer = subprocess.run(
        [str(MICROPYTHON), "-X", f"heapsize={heap_k}K", str(PROBE), str(ROOT), str(lib)],
        capture_output=True, text=True, check=False, timeout=10,
    )  # fmt: skip
    if answer.returncode != 0:
        assert "MemoryError" in answer.stdout + answer.stderr, answer.stdout + answer.stderr
        return None
    return int(answer.stdout)


def smallest_heap_k(lib: Path) -> int:
    """The smallest heap, in KB, in which the firmware imports from ``lib`` (bisection)."""
    fits, fails = 256, 8
    assert imported(lib, fits) is not None and imported(lib, fails) is None
    while fits - fails > 1:
        middle = (fits + fails) // 2
        if imported(lib, middle) is None:
            fails = middle
        else:
            fits = middle
    return fits


def lamp_in_the_dark(node: Device, watcher: Watcher, device_id: str) -> dict[str, int]:
    """Start the lamp, see it switch on and its first reading arrive; free heap when it has
    started (imports done, node built: the first watchdog feed) and after its first step."""
    node.start()
    node.wait_relay(True, 0, "the lamp switched on in the dark")
    readings = watcher.wait_readings(device_id, bool, f"the first reading of {device_id}")
    assert (readings[0]["boot"], readings[0]["seq"], readings[0]["on"]) == (1, 0, True)
    mem = node.wait_event("mem", "free-heap samples", count=2)
    node.stop()
    return {"started": mem[0]["free"], "after_step": mem[1]["free"]}


def test_bundle_is_built_and_the_node_runs_from_it_in_less_heap(
    tmp_path: Path, broker: LocalBroker, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    bundle = tmp_path / "bundle"
    manifest = build(ROOT / "firmware", bundle)

    sources = sorted(p.stem for p in (ROOT / "firmware" / "lib").glob("*.py"))
    shipped = {file["path"]: file for file in manifest["files"]}  # type: ignore[attr-defined]
    assert sorted(shipped) == sorted(
        ["boot.py", "loader.py", "main.py", *(f"lib/{name}.mpy" for name in sources)]
    )
    assert not list((bundle / "lib").glob("*.py"))  # MicroPython would import a .py first
    for path, file in shipped.items():
        data = (bundle / path).read_bytes()
        assert (file["size"], file["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert json.loads((bundle / MANIFEST).read_text(encoding="utf-8")) == manifest
    assert manifest["mpy"] == interpreter_mpy()

    # Importing: source is parsed and compiled in the heap, bytecode is only loaded.
    held = {"py": imported(ROOT / "firmware" / "lib", 192), "mpy": imported(bundle / "lib", 192)}
    smallest = {"py": smallest_heap_k(ROOT / "firmware" / "lib"),
                "mpy": smallest_heap_k(bundle / "lib")}  # fmt: skip
    print(f"\nimported, bytes held: {held}; smallest heap that imports, KB: {smallest}")
    assert held["mpy"] is not None and held["py"] is not None
    # What stays held is about the same (the bytecode and its strings either way; MicroPython
    # grows its string pools in blocks of kilobytes, so either may come out a block ahead):
    # the bundle's gain is the compiler's peak, which it never needs.
    assert abs(held["mpy"] - held["py"]) <= 8192, held
    assert smallest["mpy"] < smallest["py"], smallest

    # Every 1 ms of simulated time: a sample at the first feed and at the sleep after step 1.
    world = {"lux": 3.0, "mem_every_s": 0.001}
    node = devices(node_settings(SOURCES_LAMP, "lamp", broker.port), **world)
    from_sources = lamp_in_the_dark(node, watcher, SOURCES_LAMP)
    settings = node_settings(BUNDLE_LAMP, "lamp", broker.port)
    compiled = BundleDevice(tmp_path / "compiled", settings, bundle, **world)
    try:
        from_bundle = lamp_in_the_dark(compiled, watcher, BUNDLE_LAMP)
    finally:
        compiled.kill()
    print(f"free heap of {HEAP}, bytes: .py {from_sources}, .mpy {from_bundle}")

    for moment, free in from_bundle.items():
        assert free >= from_sources[moment], (moment, from_sources, from_bundle)
    assert not watcher.errors
