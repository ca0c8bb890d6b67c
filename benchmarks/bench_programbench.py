"""ProgramBench branches: twinbench's sandboxed run of a branch against a bare `pytest` of the same branch.

    python benchmarks/bench_programbench.py                 # fixture branch + 20 branches x 50 tests, 3 repeats
    python benchmarks/bench_programbench.py --branches 4 --tests-per-branch 25 --repeats 1

Both methods run each branch's own eval/run.sh against the same built tree, one branch at a time:
- bare: `bash eval/run.sh` as root in a scratch copy of tree + branch, no sandbox, with ProgramBench's
  PYTEST_ADDOPTS (reruns, the timeout plugin) and the same venv; the candidate runs as a plain child;
- twinbench: `run_branch`, i.e. bwrap, pytest as one uid, ./executable a shim that has the broker start the
  candidate as another uid through the launcher with limits, results.xml copied out by root.
Every run's passed count must equal the others' (the benchmark fails otherwise). Reported: median seconds
per branch set, per test, and the ratio twinbench / bare.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from twinbench.interop.programbench.branch import (
    BASE_ADDOPTS,
    PYTEST_PYTHON_DIR,
    RERUN_ADDOPTS,
    TIMEOUT_PLUGIN,
    BranchLimits,
    run_branch,
    timeout_plugin_source,
)
from twinbench.interop.programbench.task import packaged_tasks_dir
from twinbench.sandbox import candidate_uid

IID = "testorg__calculator.abc1234"
CALCULATOR = "#!/bin/bash\necho $(($1 $2 $3))\n"
RUN_SH = (
    '#!/bin/bash\nset -e\ncd "$(dirname "$0")/.."\n'
    "python3 -m pytest eval/tests/ --junitxml=eval/results.xml -q || true\n"
)


def synthetic_branch(path: Path, index: int, tests: int) -> None:
    """A branch shaped like the fixture's: each test runs ./executable through subprocess twice."""
    lines = ["import subprocess\n\n", "def _run(a, op, b):\n"]
    lines.append(
        "    r = subprocess.run(['./executable', str(a), op, str(b)], capture_output=True, text=True, timeout=10)\n"
    )
    lines.append("    return r.stdout.strip()\n\n")
    for number in range(tests):
        a, b = index * 1000 + number, number % 7 + 1
        lines.append(f"def test_case_{number}():\n")
        lines.append(f"    assert _run({a}, '+', {b}) == '{a + b}'\n")
        lines.append(f"    assert _run({a}, '*', {b}) == '{a * b}'\n\n")
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (("eval/run.sh", RUN_SH), (f"eval/tests/test_synthetic_{index}.py", "".join(lines))):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))


def fixture_branch(path: Path) -> None:
    """The fixture task's branch, as a tar.gz."""
    tasks = packaged_tasks_dir()
    if tasks is None:
        raise SystemExit("the programbench package is not installed")
    source = tasks / IID / "tests" / "33128f6b8600"
    with tarfile.open(path, "w:gz") as tar:
        for item in sorted(source.rglob("*")):
            if "__pycache__" not in item.parts:
                tar.add(item, arcname=item.relative_to(source).as_posix(), recursive=False)


def passed_in(xml: str | None) -> int:
    """Test cases without a result child in a JUnit XML."""
    if not xml:
        return 0
    root = ET.fromstring(xml)
    return sum(1 for case in root.iter("testcase") if not any(c.tag in ("failure", "error", "skipped") for c in case))


def bare_branch(tree: Path, archive: Path, plugins: Path) -> int:
    """The branch's run.sh with ProgramBench's pytest options, no sandbox; the passed count."""
    with tempfile.TemporaryDirectory(prefix="bench-pb-bare-") as scratch:
        workspace = Path(scratch) / "workspace"
        shutil.copytree(tree, workspace, symlinks=True)
        with tarfile.open(archive) as tar:
            tar.extractall(workspace, filter="data")
        env = {
            "PATH": f"{PYTEST_PYTHON_DIR}/bin:/usr/bin:/bin",
            "HOME": scratch,
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(plugins),
            "PIP_NO_INDEX": "1",
            "PYTEST_ADDOPTS": f"{BASE_ADDOPTS} {RERUN_ADDOPTS}",
        }
        subprocess.run(["bash", "eval/run.sh"], cwd=workspace, env=env, capture_output=True, check=False)
        results = workspace / "eval" / "results.xml"
        return passed_in(results.read_text() if results.exists() else None)


def main() -> None:
    """Time both methods, interleaved per repeat, and print a table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, default=20)
    parser.add_argument("--tests-per-branch", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: branches run pytest and the candidate as two uids")
    plugin = timeout_plugin_source()
    if plugin is None or not (PYTEST_PYTHON_DIR / "bin" / "python3").exists():
        raise SystemExit("needs the programbench package and the venv of scripts/setup.sh")
    with tempfile.TemporaryDirectory(prefix="bench-pb-") as scratch:
        root = Path(scratch)
        tree = root / "tree"
        tree.mkdir()
        (tree / "executable").write_text(CALCULATOR)
        (tree / "executable").chmod(0o755)
        plugins = root / "plugins"
        plugins.mkdir()
        (plugins / f"{TIMEOUT_PLUGIN}.py").write_text(plugin)
        fixture = root / "fixture.tar.gz"
        fixture_branch(fixture)
        synthetic = [root / f"synthetic-{i}.tar.gz" for i in range(args.branches)]
        for index, path in enumerate(synthetic):
            synthetic_branch(path, index, args.tests_per_branch)
        sets = {
            "fixture (1 branch, 3 tests)": [fixture],
            f"synthetic ({args.branches} branches, {args.branches * args.tests_per_branch} tests)": synthetic,
        }
        rows = []
        for label, archives in sets.items():
            tests = 3 if archives == [fixture] else args.branches * args.tests_per_branch
            times: dict[str, list[float]] = {"bare pytest": [], "twinbench": []}
            passed: dict[str, set[int]] = {"bare pytest": set(), "twinbench": set()}
            for _repeat in range(args.repeats):
                started = time.monotonic()
                passed["bare pytest"].add(sum(bare_branch(tree, archive, plugins) for archive in archives))
                times["bare pytest"].append(time.monotonic() - started)
                started = time.monotonic()
                count = 0
                for number, archive in enumerate(archives):
                    outcome = run_branch(tree, f"b{number}", archive, BranchLimits(), candidate_uid())
                    count += passed_in(outcome.results_xml)
                passed["twinbench"].add(count)
                times["twinbench"].append(time.monotonic() - started)
            if len(passed["bare pytest"] | passed["twinbench"]) != 1:
                raise SystemExit(f"{label}: the methods disagree on passed tests: {passed}")
            bare = statistics.median(times["bare pytest"])
            ours = statistics.median(times["twinbench"])
            rows.append(
                {
                    "set": label,
                    "tests": tests,
                    "passed": passed["twinbench"].pop(),
                    "bare_s": round(bare, 3),
                    "twinbench_s": round(ours, 3),
                    "bare_ms_per_test": round(1000 * bare / tests, 2),
                    "twinbench_ms_per_test": round(1000 * ours / tests, 2),
                    "ratio": round(ours / bare, 2),
                }
            )
    header = f"{'set':<40} {'tests':>6} {'passed':>6} {'bare s':>8} {'twinbench s':>12} {'ms/test':>16} {'ratio':>6}"
    print(f"median of {args.repeats} repeat(s), one branch at a time")
    print(header)
    for row in rows:
        per_test = f"{row['bare_ms_per_test']}/{row['twinbench_ms_per_test']}"
        print(
            f"{row['set']:<40} {row['tests']:>6} {row['passed']:>6} {row['bare_s']:>8} {row['twinbench_s']:>12} "
            f"{per_test:>16} {row['ratio']:>6}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
