#!/usr/bin/env bash
# Benchmarks on real processes and servers (not part of the tests; figures in docs/performance.md).
# Set up as for the tests, then run every part (about 30 minutes on 2 cores, 8 more the first time):
#   scripts/bench.sh                  # drain, latency, alerts, memory, scores, forecasts, worklists
#   scripts/bench.sh --quick          # the same, small sizes (a few minutes)
#   scripts/bench.sh drain memory     # some parts only; --help lists the options
# The report is written to var/bench/results.md and var/bench/results.json.
# The drain's Node-RED reference is installed with npm, at the versions pinned in
# bench/nodered/package.json, into var/bench/nodered (scratch, not committed); without Node.js
# or when npm cannot install it, the report says why and has no Node-RED rows.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
umask 077  # what the benchmarked processes, Mosquitto and influxd write is for this account only
exec .venv/bin/python -m bench.run "$@"
