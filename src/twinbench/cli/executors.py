"""CLI parts of the executor seam: the --executor options, and `twinbench eval TASKS_DIR RUN_DIR` (many at once)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from twinbench.cli import progress
from twinbench.cli.errors import BadInput, HarnessFailure, Interrupted
from twinbench.cli.output import out, plural, say
from twinbench.executors import ExecutorKind, ExecutorSettings

ExecutorOption = Annotated[
    str, typer.Option("--executor", help="where units run: local (this machine, default) or ray (a Ray cluster)")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster to join, e.g. 10.0.0.5:6379 or auto (default: RAY_ADDRESS, else a new local one)",
    ),
]
SharedDirOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--shared-dir",
        metavar="DIR",
        help="a directory every Ray node sees at the same path: inputs under it are not copied (repeatable)",
    ),
]
FilterOption = Annotated[
    str | None, typer.Option("--filter", metavar="REGEX", help="grade only tasks whose name matches (re.search)")
]
SliceOption = Annotated[
    str | None, typer.Option("--slice", metavar="A:B", help="grade only this slice of the sorted (filtered) tasks")
]
GradingCpusOption = Annotated[
    int,
    typer.Option(
        "--grading-cpus",
        min=0,
        help="sandboxes per grading, and the CPUs each asks of Ray (0: local, the cores shared; ray, 2)",
    ),
]
MaxAttemptsOption = Annotated[
    int, typer.Option("--max-attempts", min=1, help="attempts per unit when its worker is lost, before giving up")
]

RAY_DEFAULT_GRADING_CPUS = 2


def executor_settings(
    executor: str, ray_address: str | None, shared_dirs: list[Path] | None, local_workers: int, max_attempts: int
) -> ExecutorSettings:
    """Validated executor settings; a bad name or a missing shared dir exits 2 with one line."""
    if executor not in {kind.value for kind in ExecutorKind}:
        raise BadInput(f"unknown executor {executor!r}; choose local or ray")
    kind = ExecutorKind(executor)
    if kind is ExecutorKind.local and (ray_address or shared_dirs):
        raise BadInput("--ray-address and --shared-dir go with --executor ray")
    for shared in shared_dirs or []:
        if not shared.is_dir():
            raise BadInput(f"--shared-dir {shared} is not a directory")
    return ExecutorSettings(
        kind=kind,
        ray_address=ray_address,
        shared_dirs=tuple(shared_dirs or ()),
        local_workers=max(1, local_workers),
        max_attempts=max_attempts,
    )


def eval_many(
    tasks_dir: Path,
    run_dir: Path,
    output: Path | None,
    *,
    settings: ExecutorSettings,
    grading_cpus: int,
    force: bool,
    sandbox: str,
    pattern: str | None,
    window: str | None,
) -> None:
    """`twinbench eval TASKS_DIR RUN_DIR`: grade every submission of a run, then print a table."""
    from rich.table import Table

    from twinbench.grade.many import SUMMARY, GradingBatchInterrupted, GradingEntry, grade_many
    from twinbench.sandbox import BACKENDS

    if sandbox not in BACKENDS:
        raise BadInput(f"unknown sandbox backend {sandbox!r}; choose one of: {', '.join(BACKENDS)}")
    if not grading_cpus:
        local_share = max(1, (os.cpu_count() or 1) // settings.local_workers)
        grading_cpus = local_share if settings.kind is ExecutorKind.local else RAY_DEFAULT_GRADING_CPUS
    target = output or run_dir
    with progress.batch() as display:

        def done(entry: GradingEntry) -> None:
            score = "" if entry.score is None else f" {entry.score:.3f}"
            display.done(entry.task, f"{entry.status}{score}")

        try:
            summary = grade_many(
                tasks_dir,
                run_dir,
                output,
                executor=settings,
                sandbox=sandbox,
                workers_per_grading=grading_cpus,
                pattern=pattern,
                window=window,
                force=force,
                on_start=display.started,
                on_done=done,
                on_interrupt=display.stopping,
            )
        # FormatError (bad input), ExecutorUnavailable and OSError (harness) exit through the CLI's error table
        except GradingBatchInterrupted as exc:
            left = sum(entry.status == "pending" for entry in exc.summary.tasks)
            raise Interrupted(
                f"interrupted; {plural(left, 'grading')} not done (see {target / SUMMARY}); run it again to resume"
            ) from None
        except KeyboardInterrupt:
            raise Interrupted("interrupted before any grading started") from None
    table = Table(title=f"eval: {run_dir}")
    for column in ("task", "status", "build", "passed", "score", "seconds"):
        table.add_column(column, justify="right" if column in ("passed", "score", "seconds") else "left")
    for entry in summary.tasks:
        table.add_row(
            entry.task,
            entry.status,
            "-" if entry.build_ok is None else "ok" if entry.build_ok else "failed",
            "-" if entry.total is None else f"{entry.passed}/{entry.total}",
            "-" if entry.score is None else f"{entry.score:.3f}",
            "-" if entry.seconds is None else f"{entry.seconds:.1f}",
        )
    out.print(table)
    units = summary.units
    mean = "-" if summary.mean_score is None else f"{summary.mean_score:.3f}"
    say(
        f"{summary.graded}/{len(summary.tasks)} graded, mean score {mean}; units on {units.executor}: "
        f"{units.ran} ran, {units.skipped} skipped, {units.retried} retried, {units.failed} failed"
    )
    for entry in summary.tasks:
        if entry.status in ("invalid", "error"):
            say(f"  {entry.task}: {entry.status}: {entry.message}")
    say(f"summary: {target / SUMMARY}")
    if any(entry.status == "error" for entry in summary.tasks):
        raise HarnessFailure("some gradings hit harness errors; run the same command again to retry them")
