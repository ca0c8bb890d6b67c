"""`twinbench collection ...`: build, check, describe and install a collection of tasks from its manifest."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from twinbench.cli.errors import BadInput, ExitCode, HarnessFailure
from twinbench.cli.executors import (
    ExecutorOption,
    MaxAttemptsOption,
    RayAddressOption,
    SharedDirOption,
    executor_settings,
)
from twinbench.cli.output import console, out, say
from twinbench.cli.root import group
from twinbench.executors import ExecutorKind
from twinbench.formats import FormatError

collection_app = group(
    "Collections of tasks: build them from a manifest, check, describe, install their references.",
    "Example: twinbench collection build collections/debian12 -j 2 && twinbench collection check collections/debian12",
)

OnlyOption = Annotated[
    list[str] | None, typer.Option("--only", help="task ids, comma-separated or repeated (default: all)")
]
SandboxOption = Annotated[str, typer.Option("--sandbox", help="bwrap, bwrap-userns or unsafe-local")]


def _ids(only: list[str] | None) -> list[str] | None:
    """--only a,b --only c -> [a, b, c]."""
    if not only:
        return None
    return [part.strip() for value in only for part in value.split(",") if part.strip()]


def _cores() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _size_cell(size_class: str | None, method: str | None) -> str:
    """A task's size class and how it was measured: `small (coverage build)`, `large (source package)`."""
    if size_class is None:
        return "-"
    return f"{size_class} ({method.replace('-', ' ')})" if method else size_class


@collection_app.command(
    "build", epilog="Example: twinbench collection build collections/debian12 --only figlet,bc -j 2"
)
def build_command(
    manifest: Annotated[Path, typer.Argument(help="collection.yaml (or the directory holding it)")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="collection directory (default: the manifest's)")
    ] = None,
    only: OnlyOption = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=64, help="tasks built at a time")] = 1,
    coverage_cache: Annotated[
        Path | None, typer.Option("--coverage-cache", help="coverage builds, one dir per package")
    ] = None,
    sandbox: SandboxOption = "bwrap",
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    shared_dirs: SharedDirOption = None,
    max_attempts: MaxAttemptsOption = 3,
    force: Annotated[
        bool, typer.Option("--force", help="rebuild finished tasks too (kept unless the rebuild passes)")
    ] = False,
) -> None:
    """Build every task of a manifest (task, coverage build, testgen, validity gate, compaction); resumable."""
    from twinbench.collection import (
        BuildSettings,
        TaskBuildResult,
        TaskEntry,
        build_collection,
        load_manifest,
        manifest_path,
    )

    try:
        loaded = load_manifest(manifest)
    except FormatError as exc:
        raise BadInput(str(exc)) from None
    manifest_file = manifest_path(manifest)
    target = output or manifest_file.parent
    chosen = executor_settings(executor, ray_address, shared_dirs, jobs, max_attempts)
    # locally the pool shows each task's phases; another executor ships tasks away and reports them as they end
    on_executor = None if chosen.kind is ExecutorKind.local else chosen
    workers = max(1, _cores() // jobs) if on_executor is None else 2
    settings = BuildSettings(sandbox=sandbox, workers=workers)
    if coverage_cache is not None:
        settings.coverage_cache = coverage_cache
    lock = threading.Lock()
    with Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[phase]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        overall = progress.add_task("collection", total=None, phase="")
        bars: dict[str, TaskID] = {}

        def planned(todo: list[TaskEntry], skipped: list[TaskBuildResult]) -> None:
            progress.update(overall, total=len(todo), phase=f"{len(skipped)} unchanged, skipped")

        def advanced(task_id: str, phase: str, done: int, total: int) -> None:
            with lock:
                if task_id not in bars:
                    bars[task_id] = progress.add_task(task_id, total=None, phase="")
                progress.update(bars[task_id], phase=phase[:70], completed=done, total=total or None)

        def finished(result: TaskBuildResult) -> None:
            with lock:
                if result.id in bars:
                    progress.remove_task(bars.pop(result.id))
                progress.update(overall, advance=1, phase=f"{result.id}: {result.status}")

        try:
            results = build_collection(
                loaded,
                manifest_file,
                target,
                settings,
                jobs,
                _ids(only),
                planned,
                advanced,
                finished,
                executor=on_executor,
                force=force,
            )
        except FormatError as exc:
            raise BadInput(str(exc)) from None
    table = Table(title=f"collection build: {loaded.name} -> {target}")
    for column in ("task", "status", "tests", "coverage", "errors-only", "LOC", "seconds", "reason"):
        table.add_column(column, justify="right" if column in ("tests", "coverage", "LOC", "seconds") else "left")
    for result in results:
        errors_only = result.validity.get("errors_only")
        table.add_row(
            result.id,
            result.status,
            "-" if result.tests is None else str(result.tests),
            _pct(result.line_coverage),
            "-" if errors_only is None else f"{errors_only:.3f}",
            "-" if result.lines_of_code is None else str(result.lines_of_code),
            f"{result.seconds:.0f}",
            result.reason,
        )
    out.print(table)
    counts = {status: sum(r.status == status for r in results) for status in ("ok", "skipped", "failed")}
    say(f"{counts['ok']} built, {counts['skipped']} unchanged, {counts['failed']} failed")
    if counts["failed"]:
        raise typer.Exit(ExitCode.FAILED)


@collection_app.command("check", epilog="Example: twinbench collection check collections/debian12 --json > check.json")
def check_command(
    directory: Annotated[Path, typer.Argument(help="collection directory (holding collection.yaml)")],
    only: OnlyOption = None,
    drift_sample: Annotated[int, typer.Option("--drift-sample", min=0, help="cases re-recorded per task")] = 40,
    wrapper_sample: Annotated[
        int, typer.Option("--wrapper-sample", min=1, help="cases the reference wrapper is graded on")
    ] = 100,
    workers: Annotated[
        int, typer.Option("--workers", "-j", "-w", min=0, help="sandboxes at a time (0: one per core)")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the findings as JSON instead of a table")] = False,
    sandbox: SandboxOption = "bwrap",
) -> None:
    """Validity gate, drift of a re-recorded sample, wrapper score and audit for every task; the size budget."""
    from twinbench.collection import CheckSettings, TaskCheck, check_collection, load_manifest

    try:
        loaded = load_manifest(directory)
    except FormatError as exc:
        raise BadInput(str(exc)) from None
    settings = CheckSettings(
        sandbox=sandbox, workers=workers or _cores(), drift_sample=drift_sample, wrapper_sample=wrapper_sample
    )
    with Progress(
        TextColumn("[bold]check[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("tasks", total=len(_ids(only) or loaded.tasks), last="")

        def done(found: TaskCheck) -> None:
            progress.update(bar, advance=1, last=f"{found.id}: {'ok' if found.ok else 'FAILED'}")

        try:
            found = check_collection(loaded, directory, settings, _ids(only), done)
        except FormatError as exc:
            raise BadInput(str(exc)) from None
    if as_json:
        print(found.model_dump_json(indent=2))
    else:
        table = Table(title=f"collection check: {found.collection}")
        for column in ("task", "tests", "stub", "constant", "errors-only", "drift", "wrapper", "audit", "result"):
            table.add_column(column, justify="left" if column in ("task", "result") else "right")
        for task in found.tasks:
            scores = task.validity
            drift = f"{len(task.drift.drifted)}/{task.drift.sampled}" if task.drift else "-"
            table.add_row(
                task.id,
                str(task.tests),
                *(f"{scores[name]:.3f}" if name in scores else "-" for name in ("stub", "constant", "errors_only")),
                drift,
                "-" if task.wrapper_score is None else f"{task.wrapper_score:.3f}",
                {None: "-", True: "flagged", False: "MISSED"}[task.wrapper_flagged],
                "ok" if task.ok else "; ".join(task.problems),
            )
        out.print(table)
        budget = "within" if found.bytes <= found.max_bytes else "OVER"
        say(f"size: {found.bytes / 2**20:.1f} MiB of {found.max_bytes / 2**20:.1f} MiB ({budget} the budget)")
        failed = [task.id for task in found.tasks if not task.ok]
        say("all tasks pass" if not failed else f"{len(failed)} task(s) fail: {', '.join(failed)}")
    if not found.ok:
        raise typer.Exit(ExitCode.FAILED)


@collection_app.command("info", epilog="Example: twinbench collection info collections/debian12")
def info_command(
    directory: Annotated[Path, typer.Argument(help="collection directory (holding collection.yaml)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the rows as JSON instead of a table")] = False,
) -> None:
    """One row per task: language, tests, line coverage, core share, imitation scores, size."""
    from twinbench.collection import collection_info, load_manifest

    try:
        loaded = load_manifest(directory)
    except FormatError as exc:
        raise BadInput(str(exc)) from None
    rows = collection_info(loaded, directory)
    if as_json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    table = Table(title=f"collection {loaded.name}: {len(rows)} tasks")
    columns = ("task", "language", "tests", "coverage", "core", "stub", "constant", "errors-only", "LOC", "size", "KB")
    for column in columns:
        table.add_column(column, justify="left" if column in ("task", "language", "size") else "right")
    # sizes from source packages count every program of the package: marked apart from coverage-build sizes
    for row in rows:
        scores = row.imitation_scores
        table.add_row(
            row.id + ("" if row.built else f" ({row.problem})"),
            row.language,
            "-" if row.tests is None else str(row.tests),
            _pct(row.line_coverage),
            "-" if row.core_share is None else f"{100 * row.core_share:.0f}%",
            *(f"{scores[name]:.3f}" if name in scores else "-" for name in ("stub", "constant", "errors_only")),
            "-" if row.lines_of_code is None else str(row.lines_of_code),
            _size_cell(row.size_class, row.size_method),
            f"{row.bytes / 1000:.0f}",
        )
    out.print(table)


@collection_app.command("install", epilog="Example: twinbench collection install collections/debian12 --dry-run")
def install_command(
    source: Annotated[Path, typer.Argument(help="collection directory or collection.yaml")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the apt-get command instead of running it")] = False,
) -> None:
    """apt-get install every reference package at its pinned version, or say which cannot be and why."""
    from twinbench.collection import load_manifest, plan_install, run_install

    try:
        loaded = load_manifest(source)
    except FormatError as exc:
        raise BadInput(str(exc)) from None
    plan = plan_install(loaded)
    for package in plan.packages:
        if package.state == "installed":
            say(f"{package.package}={package.version}: installed")
        elif package.state == "to_install":
            was = f" (installed: {package.installed_version})" if package.installed_version else ""
            say(f"{package.package}={package.version}: to install{was}")
        else:
            say(f"{package.package}={package.version}: cannot install: {package.reason}")
    if dry_run:
        say(plan.shell_command() or "nothing to install")
    else:
        status, last = run_install(plan)
        if status != 0:
            raise HarnessFailure(f"apt-get failed (exit {status}): {last}")
        installed = sum(package.state == "to_install" for package in plan.packages)
        if installed:
            say(f"installed {installed} package(s)")
    if plan.unavailable:
        raise typer.Exit(ExitCode.FAILED)
