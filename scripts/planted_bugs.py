"""Plant known grader bugs one at a time and check the fast tests catch each (issue 11, item 10).

Run from a checkout: `python scripts/planted_bugs.py`. Each bug is a one-line source edit, undone after its
run, even on Ctrl-C. Exit status 1 if any bug went unnoticed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JUDGE = "src/twinbench/grade/judge.py"
RESULT = "src/twinbench/formats/result.py"
EVALUATE = "src/twinbench/grade/evaluate.py"
TESTRUN = "src/twinbench/sandbox/testrun.py"
RULES = "tests/grade/test_judge_rules.py"

# (bug, file, original text, planted text, tests that must catch it)
PLANTS = [
    (
        "a signal death can never match",
        JUDGE,
        "observed_exit = result.status",
        "observed_exit = result.exit_code",
        RULES,
    ),
    (
        "file contents not compared",
        JUDGE,
        "and not streams_match(want_file, got_file, compare.files)",
        "and False",
        RULES,
    ),
    ("a missing file passes", JUDGE, 'mismatches.append((f"file {name} is missing", ""))', "pass", RULES),
    (
        "an empty suite resolves",
        RESULT,
        '"resolved": total > 0 and passed == total',
        '"resolved": passed == total',
        RULES,
    ),
    (
        "resume keeps harness errors",
        EVALUATE,
        "if test.status not in (TestStatus.error, TestStatus.not_run):",
        "if test.status not in (TestStatus.not_run,):",
        RULES,
    ),
    (
        "stderr never compared (a silent stub passes)",
        JUDGE,
        '("stderr", expected.stderr, result.stderr, result.stderr_truncated, compare.stderr),',
        "",
        RULES,
    ),
    (
        "the clock always frozen",
        TESTRUN,
        "library = faketime_library() if clock else None\n    if clock is None or library is None:",
        "clock = clock or '2024-01-02 03:04:05'\n    library = faketime_library()\n    if library is None:",
        "tests/grade/test_grading_clock.py",
    ),
    (
        "the clock never frozen",
        TESTRUN,
        "env.update(clock_environment(task.clock))",
        "env.update(clock_environment(None))",
        "tests/grade/test_grading_clock.py",
    ),
    (
        "rstrip mode strips leading space",
        "src/twinbench/grade/compare.py",
        "line.rstrip() for line",
        "line.strip() for line",
        RULES,
    ),
    (
        "a crash recorded as a plain failure",
        JUDGE,
        'return verdict(TestStatus.crashed, f"killed by',
        'return verdict(TestStatus.failed, f"killed by',
        RULES,
    ),
    (
        "near-resolved excludes 0.95",
        RESULT,
        "score >= NEAR_RESOLVED_THRESHOLD",
        "score > NEAR_RESOLVED_THRESHOLD",
        RULES,
    ),
    (
        "junit.xml keeps U+FFFE",
        "src/twinbench/grade/junit.py",
        "\\ufffe\\uffff]",
        "]",
        "tests/grade/test_hostile_text.py",
    ),
    (
        "early stop ignores tests that finished in time",
        EVALUATE,
        "self._only_timeouts = self._only_timeouts and verdict.status == TestStatus.timeout",
        "pass",
        "tests/grade/test_grading_stop.py",
    ),
]


def main() -> int:
    """Plant, test, restore; print CAUGHT or MISSED per bug."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    missed = 0
    for bug, relative, original_text, planted_text, tests in PLANTS:
        path = ROOT / relative
        original = path.read_text(encoding="utf-8")
        if original.count(original_text) != 1:
            print(f"STALE: {bug}: the text to change is no longer in {relative} exactly once")
            missed += 1
            continue
        path.write_text(original.replace(original_text, planted_text), encoding="utf-8")
        try:
            command = [sys.executable, "-m", "pytest", tests, "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider"]
            run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
        finally:
            path.write_text(original, encoding="utf-8")
        summary = (run.stdout.strip().splitlines() or ["no output"])[-1]
        caught = run.returncode == 1  # tests failed; 2+ would be a broken run, not a catch
        missed += not caught
        print(f"{'CAUGHT' if caught else 'MISSED'}: {bug}: {summary}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
