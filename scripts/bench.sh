#!/usr/bin/env bash
# Benchmarks on real processes and servers (not part of the tests; figures in docs/performance.md).
# Set up as for the tests, then run:  scripts/bench.sh [extra arguments for the benchmark]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
exec .venv/bin/python -m bench.alert_latency "$@"
