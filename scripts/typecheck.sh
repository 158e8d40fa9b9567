#!/usr/bin/env bash
# Type-check the project strictly. The packages live in top-level folders (gateway/, backend/,
# simulators/) that install as sangsach.gateway, sangsach.backend, ...; mypy cannot follow that
# mapping, so it checks a tree of symbolic links laid out the way Python imports the code.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck
rm -rf "$tree"
mkdir -p "$tree/sangsach"
for entry in sangsach/*; do
  ln -s "../../../$entry" "$tree/sangsach/"
done
ln -s ../../../gateway "$tree/sangsach/gateway"
ln -s ../../../backend "$tree/sangsach/backend"
ln -s ../../../simulators "$tree/sangsach/simulators"
ln -s ../../tests "$tree/tests"
ln -s ../../bench "$tree/bench"
cd "$tree"
exec ../../.venv/bin/mypy --config-file ../../pyproject.toml -p sangsach -p tests -p bench
