"""Every progress display of the CLI, on stderr, and only on a terminal.

A display that is not a terminal gets nothing: rich would otherwise leave an empty line behind in a log or a
pipe. Each display hands the library plain callbacks, so no library module knows about rich.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from twinbench.cli.output import console
from twinbench.formats import AgentRunRecord, RunStats, TestResult


def _progress(*columns: TextColumn | BarColumn | MofNCompleteColumn | TimeElapsedColumn) -> Progress:
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


@dataclass
class GradingDisplay:
    """Callbacks of one grading: the number of tests, then each verdict."""

    started: Callable[[int], None]
    advanced: Callable[[TestResult], None]


@contextmanager
def grading(label: str) -> Iterator[GradingDisplay]:
    """A bar of tests graded and passed so far."""
    with _progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[passed]} passed"),
        TimeElapsedColumn(),
    ) as progress:
        bar = progress.add_task("grading", total=None, passed=0)
        passed = 0

        def advanced(test: TestResult) -> None:
            nonlocal passed
            passed += test.status == "passed"
            progress.update(bar, advance=1, passed=passed)

        yield GradingDisplay(started=lambda count: progress.update(bar, total=count), advanced=advanced)


@contextmanager
def phases(first: str, elapsed: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A bar named after the current phase (testgen, suite check): callback(phase, done, total)."""
    columns: list[TextColumn | BarColumn | MofNCompleteColumn | TimeElapsedColumn] = [
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
    ]
    if elapsed:
        columns.append(TimeElapsedColumn())
    with _progress(*columns) as progress:
        bar = progress.add_task(first, total=None)
        yield lambda phase, done, total: progress.update(bar, description=phase, completed=done, total=total)


@dataclass
class AgentDisplay:
    """Callbacks of one agent run: each step's stats and each phase's name."""

    on_step: Callable[[RunStats], None]
    on_phase: Callable[[str], None]


@contextmanager
def agent_run(task_id: str, step_limit: int | None) -> Iterator[AgentDisplay]:
    """One line of an agent run: its phase, steps (of the limit) and cost."""
    with _progress(
        TextColumn("[bold]{task.description}[/]"),
        TextColumn("{task.fields[phase]}"),
        TextColumn("step {task.completed:.0f}{task.fields[of]}"),
        TextColumn("${task.fields[cost]:.4f}"),
        TimeElapsedColumn(),
    ) as progress:
        limit = f"/{step_limit}" if step_limit else ""
        bar = progress.add_task(task_id, total=step_limit or None, phase="starting", of=limit, cost=0.0)
        yield AgentDisplay(
            on_step=lambda stats: progress.update(bar, completed=stats.steps, cost=stats.cost_usd),
            on_phase=lambda phase: progress.update(bar, phase=phase),
        )


@dataclass
class BatchDisplay:
    """Callbacks of an agent batch: the number of tasks, each one done, and an interrupt."""

    started: Callable[[int], None]
    done: Callable[[str, str], None]
    stopping: Callable[[int], None]


@contextmanager
def batch() -> Iterator[BatchDisplay]:
    """A bar of the batch's tasks, with the last one finished."""
    with _progress(
        TextColumn("[bold]batch[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
    ) as progress:
        bar = progress.add_task("tasks", total=None, last="")
        yield BatchDisplay(
            started=lambda count: progress.update(bar, total=count),
            done=lambda task, status: progress.update(bar, advance=1, last=f"{task}: {status}"),
            stopping=lambda running: progress.update(
                bar, last=f"interrupted: stopping {running} running task(s) at their next step"
            ),
        )


@contextmanager
def status(text: str) -> Iterator[Callable[[str], None]]:
    """A spinner with a line of text, on a terminal only; the callback replaces the text."""
    if not console.is_terminal:
        yield lambda line: None
        return
    with console.status(text) as spinner:
        yield lambda line: spinner.update(line[:100])


__all__ = ["AgentDisplay", "AgentRunRecord", "BatchDisplay", "GradingDisplay", "agent_run", "batch", "grading"]
