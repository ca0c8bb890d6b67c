#!/usr/bin/env bash
# Mutation testing of the grader (src/twinbench/grade/ and src/twinbench/formats/result.py) with mutmut,
# against the fast unit tests listed in pyproject.toml [tool.mutmut]. Slow: minutes to an hour, so it is
# kept out of the pytest run. Prints the kill rate over all mutants and per file.
#
#   scripts/mutation.sh            # PYTHON=.venv/bin/python JOBS=2 by default
#   JOBS=8 scripts/mutation.sh     # more parallel mutants on a bigger machine
#
# Needs the dev extras (pip install -e '.[dev]'): mutmut and hypothesis. Runs as the user the tests run as
# (root for the sandbox fixtures; the listed tests need no sandbox).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v .venv/bin/python || command -v python3)}
JOBS=${JOBS:-2}
export TWINBENCH_HYPOTHESIS_EXAMPLES=${TWINBENCH_HYPOTHESIS_EXAMPLES:-20}
export TWINBENCH_MUTATION_RUN=1
# mutmut imports the mutated copy in mutants/; an installed or PYTHONPATH copy of twinbench must not win
unset PYTHONPATH
rm -rf mutants
"$PYTHON" -m mutmut run --max-children "$JOBS" >mutants.log 2>&1 || { tail -30 mutants.log; exit 1; }
"$PYTHON" -m mutmut export-cicd-stats >/dev/null
"$PYTHON" - <<'PY'
import json
from collections import Counter
from pathlib import Path

stats = json.loads(Path("mutants/mutmut-cicd-stats.json").read_text())
print("mutmut:", ", ".join(f"{key} {value}" for key, value in stats.items()))
killed = stats["killed"] + stats.get("timeout", 0)
judged = killed + stats["survived"] + stats.get("no_tests", 0)
print(f"kill rate: {killed}/{judged} = {killed / judged:.1%} (killed and timed-out mutants over all but skipped)")
PY
"$PYTHON" -m mutmut results --all true 2>/dev/null | "$PYTHON" -c '
import collections, re, sys
tally = collections.defaultdict(collections.Counter)
for line in sys.stdin:
    match = re.match(r"\s*(twinbench\.[\w.]+?)\.x[_\u01c1].*: (.+)$", line)
    if match:
        tally[match.group(1)][match.group(2).strip()] += 1
for module, counts in sorted(tally.items()):
    caught, survived, total = counts["killed"] + counts["timeout"], counts["survived"], sum(counts.values())
    print(f"  {module:32} {caught:4}/{total:4} killed or timed out, {survived} survived")
'
