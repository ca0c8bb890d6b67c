"""Scores grouped by task size class (small, medium, large by the reference's lines of code), so that a
run's results can be read by difficulty. Sizes come from each task's task.yaml (`size`, written by
`collection build` from the coverage build or else the Debian source package, and `method` says which), found
through the tasks directory an agent batch recorded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.formats import FormatError, TaskSize, load_task
from twinbench.report.load import Run

SIZE_CLASSES = ("small", "medium", "large", "unknown")


class SizeClassRow(BaseModel):
    """One run's results on the tasks of one size class."""

    run: str
    size_class: str
    tasks: int
    resolved: int
    mean_score: float
    measured_by: dict[str, int] = Field(
        default_factory=dict, description="how many of these tasks were sized by each method (coverage-build, ...)"
    )


def task_sizes(runs: list[Run]) -> dict[str, str]:
    """Task id -> size class, for every task whose directory a run's summary.json names (`tasks_dir`)."""
    return {task: size.size_class for task, size in task_size_records(runs).items()}


def task_size_methods(runs: list[Run]) -> dict[str, str]:
    """Task id -> how its size was measured (coverage-build or source-package)."""
    return {task: size.method for task, size in task_size_records(runs).items()}


def task_size_records(runs: list[Run]) -> dict[str, TaskSize]:
    """Task id -> its recorded size, for every task whose directory a run's summary.json names (`tasks_dir`)."""
    sizes: dict[str, TaskSize] = {}
    for run in runs:
        tasks_dir = (run.summary or {}).get("tasks_dir")
        if not isinstance(tasks_dir, str) or not Path(tasks_dir).is_dir():
            continue
        for spec in sorted(Path(tasks_dir).glob("*/task.yaml")):
            try:
                task = load_task(spec.parent).task
            except FormatError:
                continue
            if task.size is not None:
                sizes.setdefault(task.id, task.size)
    return sizes


def scores_by_size(
    runs: list[Run], sizes: dict[str, str], methods: Mapping[str, str] | None = None
) -> list[SizeClassRow]:
    """Per run and size class: how many tasks it has results for, how many it resolved, its mean score, and
    (given `methods`, task id -> method) how the sizes of those tasks were measured."""
    rows: list[SizeClassRow] = []
    for run in runs:
        best = run.best()
        for size_class in SIZE_CLASSES:
            chosen = [task for task in best if sizes.get(task, "unknown") == size_class]
            results = [best[task] for task in chosen]
            measured = Counter(methods[task] for task in chosen if methods and task in methods)
            if results:
                rows.append(
                    SizeClassRow(
                        run=run.label,
                        size_class=size_class,
                        tasks=len(results),
                        resolved=sum(result.resolved for result in results),
                        mean_score=round(sum(result.score for result in results) / len(results), 4),
                        measured_by=dict(sorted(measured.items())),
                    )
                )
    return rows
