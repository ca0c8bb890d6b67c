#!/usr/bin/env bash
# Regenerate the bundled demo task (src/twinbench/demo/tasks/figlet) from the installed figlet:
#   bash scripts/make_demo_task.sh
# It is what any user does for their own program: task new, a coverage build, then testgen.
set -euo pipefail
cd "$(dirname "$0")/.."
twinbench=${TWINBENCH:-.venv/bin/twinbench}
task=src/twinbench/demo/tasks/figlet
build=${COVERAGE_BUILD_DIR:-/var/tmp/twinbench-coverage/figlet}
rm -rf "$task"
"$twinbench" task new figlet --debian figlet -o "$task"
[ -f "$build/coverage-build.json" ] || "$twinbench" coverage-build --debian figlet -o "$build"
"$twinbench" testgen "$task" --coverage-build "$build" --runs 6000 --seed 0 --max-tests 400
