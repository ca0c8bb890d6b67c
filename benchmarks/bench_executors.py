"""What the Ray executor costs against the local one: per grading unit, and per no-op unit dispatched.

    python benchmarks/bench_executors.py [--tasks 6] [--cases 20] [--noop 400] [--repeats 3] [--json out.json]

One run starts a one-node Ray cluster on this machine (as many CPUs as `--cpus`, the sandbox marker), then,
interleaved in each repeat:
* the same batch of gradings (`--tasks` copies of the demo figlet task cut to `--cases` cases, each with
  the partial rebuild as its submission) through `grade_many` with `--executor local` and with Ray, the same
  number of gradings at once (`--cpus`, one sandbox each); the results must be the same;
* `--noop` units that do nothing and write nothing, through `drive` on each executor: dispatch throughput.

It prints the medians, the Ray executor's overhead per grading unit ((ray wall - local wall) / units) and
the ratios. Cluster start-up is reported apart and not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from twinbench.demo import DEMO_SUBMISSIONS, DEMO_TASK
from twinbench.executors import (
    SANDBOX_RESOURCE,
    ExecutorKind,
    ExecutorSettings,
    Unit,
    UnitResources,
    UnitWorkspace,
    drive,
    open_executor,
)
from twinbench.formats import Suite, dump_suite, load_suite
from twinbench.grade.many import grade_many


def noop_unit(payload: int, workspace: UnitWorkspace) -> int:
    """Does nothing: what is left is the executor's own cost of shipping a unit out and its result back."""
    return payload


def make_batch(root: Path, tasks: int, cases: int) -> tuple[Path, Path]:
    """TASKS_DIR with `tasks` copies of the demo task (first `cases` cases) and RUN_DIR with the partial rebuild."""
    suite = load_suite(DEMO_TASK / "tests" / "suite.jsonl")
    for index in range(tasks):
        name = f"figlet-{index:02d}"
        task = root / "tasks" / name
        shutil.copytree(DEMO_TASK, task)
        dump_suite(Suite(cases=suite.cases[:cases]), task / "tests" / "suite.jsonl")
        spec = yaml.safe_load((task / "task.yaml").read_text())
        spec["id"] = name
        (task / "task.yaml").write_text(yaml.safe_dump(spec))
        (root / "run" / name).mkdir(parents=True)
        with tarfile.open(root / "run" / name / "submission.tar.gz", "w:gz") as tar:
            for path in sorted(DEMO_SUBMISSIONS["partial"].iterdir()):
                tar.add(path, arcname=path.name)
    return root / "tasks", root / "run"


def time_gradings(settings: ExecutorSettings, tasks: Path, run: Path, out: Path) -> tuple[float, list[Any]]:
    """Wall seconds of one grade_many over the batch, and (task, passed, total) per task."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    summary = grade_many(tasks, run, out, executor=settings, workers_per_grading=1)
    wall = time.perf_counter() - started
    if summary.units.failed or summary.graded != len(summary.tasks):
        raise SystemExit(f"the {settings.kind.value} batch did not grade every task: {summary.units}")
    return wall, [(entry.task, entry.passed, entry.total) for entry in summary.tasks]


def time_noops(settings: ExecutorSettings, count: int) -> float:
    """No-op units dispatched per second through drive()."""
    units = [
        Unit(key=str(index), function=noop_unit, payload=index, resources=UnitResources(cpus=1, sandbox=False))
        for index in range(count)
    ]
    executor = open_executor(settings)
    started = time.perf_counter()
    tally = drive(
        executor, units, is_finished=lambda _unit: False, on_result=lambda _u, _o: None, on_failure=lambda _u, _o: None
    )
    wall = time.perf_counter() - started
    executor.close()
    if tally.ran != count:
        raise SystemExit(f"{tally.ran} of {count} no-op units ran on {settings.kind.value}")
    return count / wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--noop", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2, help="gradings at once, and the Ray node's CPUs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import ray

    root = Path(tempfile.mkdtemp(prefix="tb-bench-exec-"))
    try:
        tasks, run = make_batch(root, args.tasks, args.cases)
        started = time.perf_counter()
        ray.init(
            num_cpus=args.cpus,
            resources={SANDBOX_RESOURCE: 1.0},
            include_dashboard=False,
            log_to_driver=False,
            _temp_dir=str(root / "ray"),
        )
        startup = time.perf_counter() - started
        local = ExecutorSettings(kind=ExecutorKind.local, local_workers=args.cpus)
        on_ray = ExecutorSettings(kind=ExecutorKind.ray)
        # warm-up, untimed: Ray's worker processes start, the sandbox launcher is built, caches fill
        time_gradings(on_ray, tasks, run, root / "warm")
        time_noops(on_ray, 20)
        walls: dict[str, list[float]] = {"local": [], "ray": []}
        rates: dict[str, list[float]] = {"local": [], "ray": []}
        results: dict[str, list[Any]] = {}
        for repeat in range(args.repeats):
            for name, settings in (("local", local), ("ray", on_ray)):
                wall, graded = time_gradings(settings, tasks, run, root / f"{name}-{repeat}")
                walls[name].append(wall)
                if results.setdefault(name, graded) != graded:
                    raise SystemExit(f"{name} graded differently from one repeat to the next")
                rates[name].append(time_noops(settings, args.noop))
        if results["local"] != results["ray"]:
            raise SystemExit("local and Ray graded the batch differently")
    finally:
        ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    units = args.tasks
    wall = {name: statistics.median(values) for name, values in walls.items()}
    rate = {name: statistics.median(values) for name, values in rates.items()}
    overhead_ms = (wall["ray"] - wall["local"]) / units * 1000
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; Ray {ray.__version__}; "
        f"Python {sys.version.split()[0]}"
    )
    print(f"ray start-up (one node, not counted below): {startup:.1f} s")
    print(f"gradings: {units} units of {args.cases} tests, {args.cpus} at once, median of {args.repeats}")
    for name in ("local", "ray"):
        print(f"  {name:5s}  wall {wall[name]:6.2f} s  {wall[name] / units * 1000:7.0f} ms/unit")
    print(f"  ray overhead per unit: {overhead_ms:+.0f} ms; ray/local wall ratio {wall['ray'] / wall['local']:.2f}")
    print(f"no-op units dispatched per second ({args.noop} units, median of {args.repeats}):")
    for name in ("local", "ray"):
        print(f"  {name:5s}  {rate[name]:8.0f} units/s  ({1000 / rate[name]:.2f} ms/unit)")
    print(f"  local/ray ratio {rate['local'] / rate['ray']:.0f}x")
    if args.json:
        report = {
            "args": {key: str(value) for key, value in vars(args).items()},
            "ray_startup_s": startup,
            "gradings_wall_s": walls,
            "noop_units_per_s": rates,
            "ray_overhead_ms_per_unit": overhead_ms,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
