"""ProgramBench's leaderboard over runs, and the machine-readable aggregate of a report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel

from twinbench.report.load import Run, TaskResult
from twinbench.report.sizes import scores_by_size, task_sizes

AGGREGATE_SCHEMA_VERSION = 1


class LeaderboardRow(BaseModel):
    """One run's line of the leaderboard."""

    rank: int
    run: str
    tasks: int  # tasks this run has a readable result for
    tasks_total: int  # tasks any of the compared runs has a result for: the denominator of mean_score
    resolved: int
    near_resolved: int  # score >= 0.95, resolved included
    mean_score: float
    errors: int  # eval.json files that could not be read


def task_ids(runs: list[Run]) -> list[str]:
    """Every task some run has a readable result for, sorted."""
    return sorted({task for run in runs for task in run.best()})


def leaderboard(runs: list[Run]) -> list[LeaderboardRow]:
    """Rank runs by resolved tasks, then near-resolved tasks, then mean score; equal keys share a rank.

    As in ProgramBench, a task that another run has a result for and this run has not counts as score 0,
    so skipping hard tasks never helps. A run with several results for one task counts its best one.
    """
    tasks = task_ids(runs)
    rows: list[LeaderboardRow] = []
    for run in runs:
        best = run.best()
        counted = list(best.values())
        rows.append(
            LeaderboardRow(
                rank=0,
                run=run.label,
                tasks=len(best),
                tasks_total=len(tasks),
                resolved=sum(result.resolved for result in counted),
                near_resolved=sum(result.near_resolved for result in counted),
                mean_score=sum(result.score for result in counted) / len(tasks) if tasks else 0.0,
                errors=len(run.errors()),
            )
        )
    rows.sort(key=lambda row: (*_key(row), row.run))
    for position, row in enumerate(rows):
        tied = position > 0 and _key(rows[position - 1]) == _key(row)
        row.rank = rows[position - 1].rank if tied else position + 1
    return rows


def _key(row: LeaderboardRow) -> tuple[int, int, float]:
    return (-row.resolved, -row.near_resolved, -row.mean_score)


def aggregate_json(runs: list[Run]) -> dict[str, Any]:
    """The report as JSON (`twinbench report --json`): the leaderboard and one summary row per result."""
    return {
        "schema_version": AGGREGATE_SCHEMA_VERSION,
        "tasks": task_ids(runs),
        "leaderboard": [row.model_dump(mode="json") for row in leaderboard(runs)],
        "runs": [_run_json(run) for run in runs],
        "by_size": [row.model_dump() for row in scores_by_size(runs, task_sizes(runs))],
    }


def _run_json(run: Run) -> dict[str, Any]:
    best = run.best()
    return {
        "label": run.label,
        "path": str(run.path),
        "summary": run.summary,
        "summary_error": run.summary_error,
        "results": [_result_row(result, result is best.get(result.task)) for result in run.results],
    }


def _result_row(result: TaskResult, counted: bool) -> dict[str, Any]:
    audit = None
    if result.audit is not None:
        audit = {
            "flagged": result.audit.flagged,
            "findings": len(result.audit.findings),
            "by_severity": dict(Counter(finding.severity for finding in result.audit.findings)),
        }
    return {
        "task": result.task,
        "submission": result.submission,
        "path": result.path,
        "error": result.error,
        "counted": counted,  # the result the leaderboard uses for this run and task
        "score": result.score,
        "passed": result.passed,
        "total": result.total,
        "resolved": result.resolved,
        "near_resolved": result.near_resolved,
        "build_ok": result.build_ok,
        "seconds": result.seconds,
        "counts": result.counts,
        "groups": {g.group: {"passed": g.passed, "total": g.total} for g in result.groups},
        "failing": len(result.failing),
        "audit": audit,
        "audit_error": result.audit_error,
    }
