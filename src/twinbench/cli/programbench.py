"""`twinbench programbench import|eval|derive`: ProgramBench's tasks and runs, graded without Docker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinbench.cli.errors import HarnessFailure
from twinbench.cli.output import plural, say, warn
from twinbench.cli.root import group

programbench_app = group(
    "ProgramBench interop: import its tasks, grade its runs without Docker, write its result files.",
    "Example: twinbench programbench import testorg__calculator.abc1234 --blob-dir blobs/ -o tasks/calculator",
)


def _pytest_usable() -> None:
    """Branches run ProgramBench's pytest files: without a usable pytest, nothing can be graded (exit 3)."""
    from twinbench.interop.programbench.branch import pytest_python_problem

    problem = pytest_python_problem()
    if problem is not None:
        raise HarnessFailure(problem)


@programbench_app.command(
    "import", epilog="Example: twinbench programbench import testorg__calculator.abc1234 --blob-dir blobs/"
)
def programbench_import_command(
    iid: Annotated[str, typer.Argument(metavar="IID", help="instance id, e.g. testorg__calculator.abc1234")],
    blob_dir: Annotated[
        Path | None,
        typer.Option(
            "--blob-dir",
            envvar="PROGRAMBENCH_BLOB_DIR",
            metavar="DIR",
            help="blobs: <DIR>/<iid>/tests/<branch>.tar.gz",
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", metavar="DIR", help="tasks laid out like the package's data/tasks/ (default: installed)"
        ),
    ] = None,
    reference: Annotated[Path | None, typer.Option("--reference", metavar="FILE", help="the reference binary")] = None,
    rootfs: Annotated[
        Path | None,
        typer.Option("--rootfs", metavar="DIR", help="unpacked root filesystem of the task's cleanroom image"),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="DIR", help="task directory (default: ./IID)")
    ] = None,
) -> None:
    """Make a twinbench task from a ProgramBench task: its branches, docs and reference."""
    from twinbench.interop.programbench.importer import import_task

    report = import_task(iid, output or Path(iid), blob_dir, data, reference, rootfs)
    say(f"task: {report.task_dir}")
    say(f"branches: {len(report.branches)} imported, {len(report.ignored_branches)} ignored")
    if report.missing_branches:
        warn(
            f"warning: no archive for {plural(len(report.missing_branches), 'active branch', 'active branches')}: "
            f"{', '.join(report.missing_branches[:5])} (their tests will count as not_run)"
        )
    gold = {None: "no eval_clean_hashes to check", True: "matches eval_clean_hashes", False: "not the gold binary"}
    say(f"reference: sha256 {report.reference_sha256[:16]}... ({gold[report.reference_is_gold]})")


@programbench_app.command("eval", epilog="Example: twinbench programbench eval runs/pb --tasks tasks/ -j 2")
def programbench_eval_command(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="run directory: <iid>/submission.tar.gz (or .zip) per task")
    ],
    tasks: Annotated[Path, typer.Option("--tasks", metavar="DIR", help="directory of imported tasks (one per iid)")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="DIR", help="where results go (default: RUN_DIR)")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, metavar="N", help="branches run at once")] = 1,
    total: Annotated[
        int | None,
        typer.Option("--total", min=1, metavar="N", help="tasks in the benchmark for the headline (default: --tasks)"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="grade again tasks already graded")] = False,
) -> None:
    """Grade a ProgramBench run without Docker; writes <iid>/<iid>.eval.json, eval.json and _stats/score.json."""
    from twinbench.interop.programbench.grade import GradeOptions
    from twinbench.interop.programbench.run import InstanceSummary, grade_run
    from twinbench.sandbox import get_sandbox

    _pytest_usable()
    sandbox = get_sandbox("bwrap")
    if not getattr(sandbox, "privileged", False):
        raise HarnessFailure("grading ProgramBench branches needs root (two uids in one sandbox)")

    def show(line: InstanceSummary) -> None:
        note = f" ({line.error_code})" if line.error_code else ""
        note += " (graded before; --force grades again)" if line.resumed else ""
        say(f"{line.iid}: {line.passed}/{line.total} = {line.score:.3f} in {line.seconds:.1f}s{note}")

    summary = grade_run(run_dir, tasks, output or run_dir, sandbox, GradeOptions(workers=workers), total, force, show)
    for iid, why in summary.skipped.items():
        say(f"{iid}: skipped ({why})")
    head = summary.headline
    say(
        f"mean score {head.mean_score:.4f}, resolved {head.resolved_pct}%, near-resolved {head.near_resolved_pct}% "
        f"({head.n_instances_attempted}/{plural(head.n_instances_total, 'task')} graded)"
    )


@programbench_app.command("derive", epilog="Example: twinbench programbench derive tasks/calculator")
def programbench_derive_command(
    task: Annotated[Path, typer.Argument(metavar="TASK", help="an imported task directory")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="suite to write (default: TASK/tests/suite.jsonl)"),
    ] = None,
) -> None:
    """Native JSONL cases from the branches' single-call tests, recorded against the reference."""
    from twinbench.interop.programbench.derive import derive_suite
    from twinbench.interop.programbench.task import load_pb_task

    _pytest_usable()
    loaded = load_pb_task(task)
    report = derive_suite(loaded, output or loaded.task_dir.suite_path)
    say(f"suite: {report.suite} ({plural(report.cases, 'case')} from {plural(report.tests_seen, 'test')})")
    reasons: dict[str, int] = {}
    for why in report.left_out.values():
        reasons[why.split(" (")[0]] = reasons.get(why.split(" (")[0], 0) + 1
    for why, count in sorted(reasons.items(), key=lambda item: -item[1]):
        say(f"left out {count}: {why}")
    for branch, why in report.branch_errors.items():
        say(f"branch {branch}: {why}")
