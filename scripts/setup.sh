#!/usr/bin/env bash
# Idempotent set-up of twinbench on Debian/Ubuntu: system packages, then a .venv with twinbench[dev].
#   bash scripts/setup.sh            (re-running it only installs what is missing)
set -euo pipefail
cd "$(dirname "$0")/.."

# bubblewrap: the sandbox. faketime: frozen clocks. figlet, toilet: the demo's reference and a rival.
# python3-venv: the project's venv. gcc, libc6-dev: the sandbox's static launcher. procps: ps, for tests.
# man-db: renders man pages into task docs. jq: a second reference. build-essential, dpkg-dev: coverage builds
# from Debian sources (apt-get source, make). chromium: the test that opens the HTML report headless.
# strace, gdb: the clean room's toolchain, and the dump attempts its tests make against the reference broker.
PACKAGES="bubblewrap faketime figlet toilet jq python3 python3-venv gcc libc6-dev build-essential dpkg-dev procps man-db chromium strace gdb make"

missing=""
for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "setup: installing$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: twinbench needs Python >= 3.11 ($python is $("$python" --version 2>&1))" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[dev]"
# build the sandbox's launcher now rather than on the first run
.venv/bin/python -c 'from twinbench.sandbox.launcher import ensure_launcher; ensure_launcher()'
echo "setup: done; run .venv/bin/twinbench demo"
