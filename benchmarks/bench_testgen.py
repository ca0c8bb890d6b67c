"""Line coverage of generated suites against the CPU time spent, for real Debian programs.

    python benchmarks/bench_testgen.py                          # figlet and bc at 1, 5 and 15 minutes
    python benchmarks/bench_testgen.py --programs figlet --budgets 60 --json /tmp/testgen.json

For each program: `twinbench task new` into a scratch dir, `twinbench coverage-build` from the Debian source
(cached under --cache; made only where --cache has no directory for the program yet: one without
coverage-build.json may be another process's build in progress), then `twinbench testgen --budget-s B
--coverage-build ...` with a fresh task per budget. Reports what tests/testgen.json says: line coverage, CPU
seconds, runs, suite size, core share, the share of generated inputs the reference accepted (exit 0), the
imitations' scores and how many cases each hygiene filter dropped; then, for C and C++ programs,
`twinbench suite check --mutants N` on the suite (its time is not part of the budget). A program without a
coverage build is generated for by behavior alone, and its coverage shows as "-".
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


def run(args: list[str], check: bool = True) -> bool:
    """Run one twinbench command, failing loudly unless `check` is off; True when it exited 0."""
    print("  $ twinbench " + shlex.join(args), flush=True)
    return subprocess.run([*TWINBENCH, *args], check=check, stdout=subprocess.DEVNULL).returncode == 0


def measure(program: str, budget: float, cache: Path, scratch: Path, seed: int, mutants: int) -> dict[str, Any]:
    """One testgen run on a fresh task; the numbers from its testgen.json (and its suite's mutation score)."""
    build = cache / program
    # a directory without coverage-build.json may be another process's build in progress: never touch it
    if not build.exists():
        run(["coverage-build", "--debian", program, "-o", str(build)], check=False)
    built = (build / "coverage-build.json").exists()
    task = scratch / f"{program}-{int(budget)}"
    run(["task", "new", program, "--debian", program, "-o", str(task)])
    guide = ["--coverage-build", str(build)] if built else []
    started = time.monotonic()
    run(["testgen", str(task), "--budget-s", str(budget), *guide, "--seed", str(seed)])
    wall = time.monotonic() - started
    report = json.loads((task / "tests" / "testgen.json").read_text())
    coverage = report["coverage"] or {}
    language = json.loads((build / "coverage-build.json").read_text()).get("language") if built else None
    kill_rate = None
    if mutants and language in ("c", "cpp"):
        findings = scratch / f"{program}-{int(budget)}-check.json"
        run(["suite", "check", str(task), "--mutants", str(mutants), *guide, "--json", str(findings)], check=False)
        if findings.exists():
            mutation = json.loads(findings.read_text()).get("mutation") or {}
            kill_rate = {k: mutation.get(k) for k in ("killed", "survived", "equivalent", "build_failed")}
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
        "accepted_share": ((report.get("accepted") or {}).get("all") or {}).get("share"),
        "imitations": (report.get("validity") or {}).get("scores", {}),
        "mutants": kill_rate,
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of the runs."""
    header = f"{'program':<8} {'budget':>7} {'wall s':>7} {'cpu s':>7} {'runs':>7} {'stop':>9} {'line cov':>9} "
    header += f"{'lines':>11} {'suite':>6} {'core':>6} {'accepted':>8} {'errors-only':>11} {'stub':>5} {'const':>5}"
    header += f" {'mutants killed':>16}  dropped (normalized)"
    lines = [header, "-" * len(header)]
    for row in rows:
        dropped = ", ".join(f"{reason} {count}" for reason, count in sorted(row["dropped"].items())) or "none"
        percent = row["coverage_percent"]
        lines.append(
            f"{row['program']:<8} {row['budget_s']:>6.0f}s {row['wall_s']:>7.1f} {row['cpu_s']:>7.1f} {row['runs']:>7} "
            f"{row['stopped_by']:>9} {'-' if percent is None else f'{percent:.1f}%':>9} {row['lines']:>11} "
            f"{row['suite']:>6} {_share(row['core_share']):>6} {_share(row['accepted_share']):>8} "
            f"{_score(row['imitations'], 'errors_only'):>11} "
            f"{_score(row['imitations'], 'stub'):>5} {_score(row['imitations'], 'constant'):>5} "
            f"{_kills(row['mutants']):>16}  {dropped} ({row['normalized']})"
        )
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return f"{100 * value:.0f}%" if value is not None else "-"


def _kills(mutants: dict[str, int] | None) -> str:
    if not mutants:
        return "-"
    graded = mutants["killed"] + mutants["survived"]
    return f"{mutants['killed']}/{graded} {100 * mutants['killed'] / graded:.0f}%" if graded else "n/a"


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
    parser.add_argument("--mutants", type=int, default=40, help="mutants per C/C++ suite (0: none)")
    parser.add_argument("--keep", type=Path, default=None, help="make the tasks here and keep them (an empty dir)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="twinbench-bench-testgen-") as temporary:
        scratch = Path(temporary) if args.keep is None else args.keep
        scratch.mkdir(parents=True, exist_ok=True)
        for program in args.programs.split(","):
            for budget in (float(b) for b in args.budgets.split(",")):
                rows.append(measure(program, budget, args.cache, scratch, args.seed, args.mutants))
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
