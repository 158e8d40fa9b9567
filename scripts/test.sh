#!/usr/bin/env bash
# Set up and run every check: lint, format, types, and the tests against a real Mosquitto and
# a real InfluxDB (both started by the test fixtures on free loopback ports).
# Extra arguments go to pytest (e.g. -k gateway, -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "==> mypy (strict)"
scripts/typecheck.sh
echo "==> mypy (firmware, against micropython-esp32-stubs)"
scripts/typecheck-firmware.sh

echo "==> pytest"
.venv/bin/sangsach schema --check
.venv/bin/pytest "$@"
