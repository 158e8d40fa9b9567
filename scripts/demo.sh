#!/usr/bin/env bash
# Set up and run the demo: broker, backend on SQLite, gateway and the simulated commune.
# Extra arguments go to `sangsach demo` (e.g. --minutes 5, --speed 120, --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
umask 077  # the demo's databases, spool and logs are for this account only (sangsach sets it too)
exec .venv/bin/sangsach demo "$@"
