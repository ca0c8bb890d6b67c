"""`twinbench task new|show|list`: create a task from an installed program, and look at tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinbench.cli.errors import BadInput
from twinbench.cli.output import plural, say
from twinbench.cli.root import group
from twinbench.formats import FormatError, TaskSummary, find_task_dirs, summarize_task

task_app = group(
    "Create and inspect tasks.",
    "Example: twinbench task new figlet --debian figlet && twinbench task show figlet",
)


@task_app.command("new", epilog="Example: twinbench task new figlet --debian figlet -o tasks/figlet")
def task_new_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="task id, e.g. figlet")],
    debian: Annotated[
        str | None, typer.Option("--debian", metavar="PKG", help="installed Debian package of the reference")
    ] = None,
    binary: Annotated[
        str | None, typer.Option("--binary", metavar="CMD", help="command of the package, if not the package name")
    ] = None,
    binary_path: Annotated[
        Path | None, typer.Option("--binary-path", metavar="PATH", help="any local executable, instead of --debian")
    ] = None,
    docs: Annotated[
        Path | None, typer.Option("--docs", metavar="PATH", help="extra documentation files to give the agent")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="DIR", help="task directory (default: ./NAME)")
    ] = None,
) -> None:
    """Create a task directory from an installed program: task.yaml, docs/ and its command-line model."""
    from twinbench.reference.taskgen import create_task

    if (debian is None) == (binary_path is None):
        raise BadInput("give exactly one of --debian PKG or --binary-path PATH")
    task_dir = create_task(name, output or Path(name), debian=debian, binary=binary, binary_path=binary_path, docs=docs)
    spec = task_dir.task
    say(
        f"task {spec.id} in {task_dir.root}: reference {spec.reference.binary}, {plural(len(spec.docs), 'doc')}, "
        f"{plural(len(spec.reference.hidden_paths), 'file')} hidden from candidates"
    )
    say(f"next: twinbench testgen {task_dir.root}")


def _tests(summary: TaskSummary) -> str:
    if summary.suite_problem:
        return f"suite unreadable ({summary.suite_problem})"
    return "no suite yet" if summary.tests is None else plural(summary.tests, "test")


@task_app.command("show", epilog="Example: twinbench task show tasks/figlet")
def task_show_command(
    task: Annotated[Path, typer.Argument(metavar="TASK", help="task directory (holding task.yaml)")],
) -> None:
    """Summarize a task: its reference, docs, hidden tests, their classes and line coverage."""
    summary = summarize_task(task)
    package = f" (Debian package {summary.debian_package})" if summary.debian_package else ""
    say(f"task {summary.id} in {summary.root}")
    say(f"  reference: {summary.reference}{package}")
    say(f"  docs: {summary.docs}")
    say(f"  tests: {_tests(summary)}")
    if summary.classes:
        say("  classes: " + ", ".join(f"{name} {count}" for name, count in summary.classes.items()))
    if summary.coverage_percent is not None:
        say(f"  line coverage: {summary.coverage_percent:.1f}%")
    if summary.validity_passed is not None:
        say(f"  validity gate: {'passed' if summary.validity_passed else 'FAILED'}")
    if summary.tests is None and not summary.suite_problem:
        say(f"next: twinbench testgen {summary.root}")


@task_app.command("list", epilog="Example: twinbench task list tasks/")
def task_list_command(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="directory whose subdirectories are tasks")],
) -> None:
    """One line per task under DIR: id, reference, tests and coverage; a broken task.yaml is listed, not fatal."""
    paths = find_task_dirs(directory)
    for path in paths:
        try:
            summary = summarize_task(path)
        except FormatError as exc:
            say(f"{path.name}: unreadable ({exc})")
            continue
        coverage = f", {summary.coverage_percent:.1f}% line coverage" if summary.coverage_percent is not None else ""
        say(f"{summary.id}: {summary.reference}, {_tests(summary)}{coverage}")
    say(f"{plural(len(paths), 'task')} in {directory}")
