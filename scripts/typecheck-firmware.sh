#!/usr/bin/env bash
# Type-check the firmware as MicroPython on an ESP32 sees it: against micropython-esp32-stubs.
#
# mypy lets only a typeshed replace stdlib modules such as time, socket, select and json, whose
# MicroPython versions differ (time.ticks_ms, select.poll on sockets...). So this lays out one
# typeshed in build/typecheck-firmware: the reduced stdlib of micropython-stdlib-stubs with the
# ESP32 port's stubs on top, each of them listed in its VERSIONS file. Config: firmware/mypy.ini.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck-firmware
rm -rf "$tree"
.venv/bin/python - "$tree" <<'PY'
import sys
from importlib.metadata import files
from pathlib import Path

import mypy

stdlib = Path(sys.argv[1]) / "stdlib"
stdlib.mkdir(parents=True)
versions = []
for dist in ("micropython-stdlib-stubs", "micropython-esp32-stubs"):
    for file in files(dist) or []:
        parts = file.parts
        if parts[0] == "stdlib":  # micropython-stdlib-stubs: a reduced typeshed stdlib
            parts = parts[1:]
        elif file.suffix != ".pyi":
            continue  # not a stub: the dist-info, README, LICENSE
        name, target = parts[0], stdlib / parts[0]
        source = Path(file.locate())
        if len(parts) > 1:
            source = source.parents[len(parts) - 2]  # the package's folder
        if name == "VERSIONS":
            versions.append(source.read_text())
            continue
        if dist == "micropython-esp32-stubs" and target.is_symlink():
            target.unlink()  # the port's own stub wins over the generic one
        if not target.is_symlink():
            target.symlink_to(source)
            versions.append(f"{name.removesuffix('.pyi')}: 3.0-\n")
(stdlib / "VERSIONS").write_text("".join(versions))
# mypy itself needs mypy_extensions from its typeshed's stubs/ folder.
stubs = Path(sys.argv[1]) / "stubs"
stubs.mkdir()
(stubs / "mypy-extensions").symlink_to(
    Path(mypy.__file__).parent / "typeshed" / "stubs" / "mypy-extensions")
PY
exec .venv/bin/mypy --config-file firmware/mypy.ini
