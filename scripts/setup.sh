#!/usr/bin/env bash
# Prepare this checkout on a fresh Debian or Ubuntu machine with Python 3.11:
# Debian packages (only those missing), then a virtual environment in .venv with the project.
#   scripts/setup.sh          what the demo needs: mosquitto, Pango and a font for the PDF report
#   scripts/setup.sh --test   what the tests need too: influxdb, postgresql, linters, type checkers
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(mosquitto mosquitto-clients)
# the report's PDF: WeasyPrint lays it out with Pango, in DejaVu (a font with Vietnamese letters)
packages+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
extras=""
if [[ "${1:-}" == "--test" ]]; then
  # docker-compose: only `docker-compose config`, which checks docker-compose.yml without an engine
  # postgresql: Debian's server (15 on bookworm); the tests run initdb and postgres themselves
  # nginx: the province test's reverse proxy, started in the foreground on its own files
  packages+=(influxdb postgresql nginx chromium docker-compose openssl)
  extras="[dev]"
fi

python_ok() { python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
python_ok || packages+=(python3 python3-venv)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if (( ${#missing[@]} )); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "==> apt-get install ${missing[*]}"
  $sudo apt-get update -q
  # Only the binaries are used: the tests and the demo start their own servers on free ports.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
python_ok || { echo "Python 3.11 or newer is needed" >&2; exit 1; }

if [[ ! -x .venv/bin/python ]]; then
  echo "==> python3 -m venv .venv"
  python3 -m venv .venv
fi
echo "==> pip install -e .${extras}"
mkdir -p var
# pip's and setuptools' chatter goes to a log; it is shown when the install fails.
if ! { .venv/bin/python -m pip install -q --upgrade pip \
       && .venv/bin/python -m pip install -q -c constraints.txt -e ".${extras}"; } > var/setup.log 2>&1; then
  cat var/setup.log >&2
  echo "pip install failed; the log above is in var/setup.log" >&2
  exit 1
fi
