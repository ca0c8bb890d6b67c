"""ProgramBench's leaderboard over runs, and the machine-readable aggregate of a report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel

from twinbench.report.load import Flag, Run, TaskResult
from twinbench.report.sizes import scores_by_size, task_size_methods, task_sizes

# 2: leaderboard rows carry the audit's flag, `rank` is null for a run kept out of the ranking, and
# results carry `flag`
AGGREGATE_SCHEMA_VERSION = 2


class RunFlag(BaseModel):
    """The most severe audit flag among a run's results, and where it is."""

    task: str
    submission: str
    severity: str
    rule: str
    message: str


class LeaderboardRow(BaseModel):
    """One run's line of the leaderboard."""

    rank: int | None  # None: not ranked, because a high or critical flag makes its scores untrustworthy
    run: str
    tasks: int  # tasks this run has a readable result for
    tasks_total: int  # tasks any of the compared runs has a result for: the denominator of mean_score
    resolved: int
    near_resolved: int  # score >= 0.95, resolved included
    mean_score: float
    errors: int  # eval.json files that could not be read
    flagged: int = 0  # results the audit flagged (any severity above info)
    flag: RunFlag | None = None  # the most severe of them

    @property
    def ranked(self) -> bool:
        """Whether the run has a place in the ranking."""
        return self.rank is not None


def task_ids(runs: list[Run]) -> list[str]:
    """Every task some run has a readable result for, sorted."""
    return sorted({task for run in runs for task in run.best()})


def leaderboard(runs: list[Run], *, rank_flagged: bool = False) -> list[LeaderboardRow]:
    """Rank runs by resolved tasks, then near-resolved tasks, then mean score; equal keys share a rank.

    As in ProgramBench, a task that another run has a result for and this run has not counts as score 0,
    so skipping hard tasks never helps. A run with several results for one task counts its best one.
    A run with a high or critical audit flag on any result is not ranked (rank None, listed after the
    ranked runs) unless `rank_flagged`.
    """
    tasks = task_ids(runs)
    rows: list[LeaderboardRow] = []
    for run in runs:
        best = run.best()
        counted = list(best.values())
        flagged = run.flags()
        excluded = run.unranked_flag()
        worst = excluded or (flagged[0] if flagged else None)
        rows.append(
            LeaderboardRow(
                rank=None if excluded is not None and not rank_flagged else 0,
                run=run.label,
                tasks=len(best),
                tasks_total=len(tasks),
                resolved=sum(result.resolved for result in counted),
                near_resolved=sum(result.near_resolved for result in counted),
                mean_score=sum(result.score for result in counted) / len(tasks) if tasks else 0.0,
                errors=len(run.errors()),
                flagged=len(flagged),
                flag=_run_flag(worst) if worst is not None else None,
            )
        )
    rows.sort(key=lambda row: (not row.ranked, *_key(row), row.run))
    previous: LeaderboardRow | None = None
    for position, row in enumerate(rows):
        if not row.ranked:
            continue
        tied = previous is not None and _key(previous) == _key(row)
        row.rank = previous.rank if tied and previous is not None else position + 1
        previous = row
    return rows


def _run_flag(result: TaskResult) -> RunFlag | None:
    flag = result.flag
    if flag is None:
        return None
    return RunFlag(
        task=result.task, submission=result.submission, severity=flag.severity, rule=flag.rule, message=flag.message
    )


def _key(row: LeaderboardRow) -> tuple[int, int, float]:
    return (-row.resolved, -row.near_resolved, -row.mean_score)


def aggregate_json(runs: list[Run], *, rank_flagged: bool = False) -> dict[str, Any]:
    """The report as JSON (`twinbench report --json`): the leaderboard and one summary row per result."""
    return {
        "schema_version": AGGREGATE_SCHEMA_VERSION,
        "rank_flagged": rank_flagged,
        "tasks": task_ids(runs),
        "leaderboard": [row.model_dump(mode="json") for row in leaderboard(runs, rank_flagged=rank_flagged)],
        "runs": [_run_json(run) for run in runs],
        "by_size": [row.model_dump() for row in scores_by_size(runs, task_sizes(runs), task_size_methods(runs))],
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
        "flag": _flag_json(result.flag),
    }


def _flag_json(flag: Flag | None) -> dict[str, Any] | None:
    if flag is None:
        return None
    return {**flag.model_dump(mode="json"), "excludes_from_ranking": flag.excludes_from_ranking}
