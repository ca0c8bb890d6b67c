"""Line coverage of generated suites against the CPU time spent, for real Debian programs.

    python benchmarks/bench_testgen.py                          # figlet and bc at 1, 5 and 15 minutes
    python benchmarks/bench_testgen.py --programs figlet --budgets 60 --json /tmp/testgen.json

For each program: `twinbench task new` into a scratch dir, `twinbench coverage-build` from the Debian source
(cached under --cache), then `twinbench testgen --budget-s B --coverage-build ...` with a fresh task per
budget. Reports what tests/testgen.json says: line coverage, CPU seconds, runs, suite size, and how many
cases each hygiene filter dropped.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TWINBENCH = [sys.executable, "-m", "twinbench.cli"]


def run(args: list[str]) -> None:
    """Run one twinbench command, failing loudly."""
    print("  $ twinbench " + shlex.join(args), flush=True)
    subprocess.run([*TWINBENCH, *args], check=True, stdout=subprocess.DEVNULL)


def measure(program: str, budget: float, cache: Path, scratch: Path, seed: int) -> dict[str, Any]:
    """One testgen run on a fresh task; the numbers from its testgen.json."""
    build = cache / program
    if not (build / "coverage-build.json").exists():
        run(["coverage-build", "--debian", program, "-o", str(build)])
    task = scratch / f"{program}-{int(budget)}"
    run(["task", "new", program, "--debian", program, "-o", str(task)])
    started = time.monotonic()
    run(["testgen", str(task), "--budget-s", str(budget), "--coverage-build", str(build), "--seed", str(seed)])
    wall = time.monotonic() - started
    report = json.loads((task / "tests" / "testgen.json").read_text())
    coverage = report["coverage"] or {}
    return {
        "program": program,
        "budget_s": budget,
        "wall_s": round(wall, 1),
        "cpu_s": report["cpu_seconds"],
        "runs": report["executions"],
        "stopped_by": report["stopped_by"],
        "coverage_percent": coverage.get("percent"),
        "lines": f"{coverage.get('lines_covered')}/{coverage.get('lines_total')}",
        "suite": report["kept"],
        "dropped": report["dropped_by_reason"],
        "normalized": len(report["normalized"]),
        "files": {f["file"]: f["percent"] for f in coverage.get("files", [])},
        "core_share": report.get("core_share"),
        "imitations": (report.get("validity") or {}).get("scores", {}),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of the runs."""
    header = f"{'program':<8} {'budget':>7} {'wall s':>7} {'cpu s':>7} {'runs':>7} {'stop':>9} {'line cov':>9} "
    header += f"{'lines':>11} {'suite':>6} {'core':>6} {'errors-only':>11} {'stub':>5} {'const':>5}"
    header += "  dropped (normalized)"
    lines = [header, "-" * len(header)]
    for row in rows:
        dropped = ", ".join(f"{reason} {count}" for reason, count in sorted(row["dropped"].items())) or "none"
        lines.append(
            f"{row['program']:<8} {row['budget_s']:>6.0f}s {row['wall_s']:>7.1f} {row['cpu_s']:>7.1f} {row['runs']:>7} "
            f"{row['stopped_by']:>9} {row['coverage_percent']:>8.1f}% {row['lines']:>11} {row['suite']:>6} "
            f"{_share(row['core_share']):>6} {_score(row['imitations'], 'errors_only'):>11} "
            f"{_score(row['imitations'], 'stub'):>5} {_score(row['imitations'], 'constant'):>5}  "
            f"{dropped} ({row['normalized']})"
        )
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return f"{100 * value:.0f}%" if value is not None else "-"


def _score(scores: dict[str, float], name: str) -> str:
    return f"{scores[name]:.3f}" if name in scores else "-"


def main(argv: list[str] | None = None) -> int:
    """Run the requested programs and budgets and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", default="figlet,bc", help="comma-separated Debian packages")
    parser.add_argument("--budgets", default="60,300,900", help="comma-separated --budget-s values")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("/var/tmp/twinbench-coverage"))
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="twinbench-bench-testgen-") as scratch:
        for program in args.programs.split(","):
            for budget in (float(b) for b in args.budgets.split(",")):
                rows.append(measure(program, budget, args.cache, Path(scratch), args.seed))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print("command: python benchmarks/bench_testgen.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    print(table(rows))
    for row in rows:
        print(f"{row['program']} {row['budget_s']:.0f}s per file: {row['files']}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
