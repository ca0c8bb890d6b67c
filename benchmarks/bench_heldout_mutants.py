"""How well a suite kills mutants it was not trained on: `testgen --mutants` against held-out mutant sets.

    python benchmarks/bench_heldout_mutants.py --program figlet --budget 900 --train 120 --heldout 2,3

`testgen --mutants N` keeps inputs that kill the N mutants of its own seed; a suite is only strong if it
also kills mutants it never saw. For one Debian C program this makes two fresh tasks with the same budget,
one generated with `--mutants 0` (coverage alone) and one with `--mutants N` (seed --seed), then grades
both with `twinbench suite check --mutants 40 --seed H` for each held-out seed H. Mutants sit one per
source line, and a held-out set can share a few lines with the training set: the table gives the kill
rate on all held-out mutants and on those whose line no training mutant had ("unseen lines").
The coverage build is made once under --cache (see bench_testgen.py).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

TWINBENCH = [sys.executable, "-m", "twinbench.cli"]
HELDOUT_MUTANTS = 40


def run(args: list[str], check: bool = True) -> None:
    print("  $ twinbench " + shlex.join(args), flush=True)
    subprocess.run([*TWINBENCH, *args], check=check, stdout=subprocess.DEVNULL)


def kills(mutants: list[dict[str, Any]], skip_lines: Collection[tuple[str, int]] = ()) -> tuple[int, int]:
    """(killed, killed + survived) among the mutants not on `skip_lines`."""
    graded = [m for m in mutants if m["status"] in ("killed", "survived") and (m["file"], m["line"]) not in skip_lines]
    return sum(m["status"] == "killed" for m in graded), len(graded)


def rate(pair: tuple[int, int]) -> str:
    killed, graded = pair
    return f"{killed}/{graded} {100 * killed / graded:.1f}%" if graded else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", default="figlet", help="a Debian package with a C program")
    parser.add_argument("--budget", type=float, default=900, help="--budget-s of both testgen runs")
    parser.add_argument("--train", type=int, default=120, help="--mutants of the trained suite")
    parser.add_argument("--seed", type=int, default=0, help="testgen's seed, and so its training mutants")
    parser.add_argument("--heldout", default="2,3", help="comma-separated seeds of the held-out mutant sets")
    parser.add_argument("--cache", type=Path, default=Path("/var/tmp/twinbench-coverage"))
    parser.add_argument("--keep", type=Path, default=None, help="make the tasks here and keep them (an empty dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    build = args.cache / args.program
    if not build.exists():
        run(["coverage-build", "--debian", args.program, "-o", str(build)])
    guide = ["--coverage-build", str(build)]
    seeds = [int(seed) for seed in args.heldout.split(",") if seed]
    rows = []
    with tempfile.TemporaryDirectory(prefix="twinbench-heldout-") as temporary:
        scratch = args.keep or Path(temporary)
        scratch.mkdir(parents=True, exist_ok=True)
        for trained in (0, args.train):
            task = scratch / f"{args.program}-{int(args.budget)}-m{trained}"
            run(["task", "new", args.program, "--debian", args.program, "-o", str(task)])
            run(["testgen", str(task), "--budget-s", str(args.budget), "--seed", str(args.seed), *guide,
                 "--mutants", str(trained)])  # fmt: skip
            report = json.loads((task / "tests" / "testgen.json").read_text())
            training = (report.get("mutation") or {}).get("mutants", [])
            lines = {(m["file"], m["line"]) for m in training}
            row: dict[str, Any] = {
                "suite": f"--mutants {trained}",
                "tests": report["kept"],
                "coverage": (report.get("coverage") or {}).get("percent"),
                "trained": rate(kills(training)) if training else "-",
                "heldout": {},
            }
            for seed in seeds:
                findings = scratch / f"{task.name}-check-{seed}.json"
                run(["suite", "check", str(task), "--mutants", str(HELDOUT_MUTANTS), "--seed", str(seed), *guide,
                     "--json", str(findings)], check=False)  # fmt: skip
                mutants = json.loads(findings.read_text())["mutation"]["mutants"] if findings.exists() else []
                row["heldout"][seed] = {"all": rate(kills(mutants)), "unseen": rate(kills(mutants, lines))}
            rows.append(row)
    print(f"\n{args.program}, --budget-s {args.budget:g}, training seed {args.seed}")
    print(f"{'suite':<14} {'tests':>6} {'coverage':>9} {'trained':>13}  " + "  ".join(
        f"{'seed ' + str(s) + ' all':>15} {'unseen lines':>15}" for s in seeds))  # fmt: skip
    for row in rows:
        held = "  ".join(f"{row['heldout'][s]['all']:>15} {row['heldout'][s]['unseen']:>15}" for s in seeds)
        print(f"{row['suite']:<14} {row['tests']:>6} {row['coverage'] or 0:>8.1f}% {row['trained']:>13}  {held}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
