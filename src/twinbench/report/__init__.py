"""Reports over graded runs: load eval.json trees, rank runs, write JSON and a self-contained HTML page."""

from twinbench.report.html import render_html, write_report
from twinbench.report.load import (
    Audit,
    AuditFinding,
    FailingTest,
    Flag,
    GroupRate,
    NoResults,
    Run,
    TaskResult,
    load_runs,
    results_frame,
)
from twinbench.report.rank import LeaderboardRow, RunFlag, aggregate_json, leaderboard

__all__ = [
    "Audit",
    "AuditFinding",
    "FailingTest",
    "Flag",
    "GroupRate",
    "LeaderboardRow",
    "NoResults",
    "Run",
    "RunFlag",
    "TaskResult",
    "aggregate_json",
    "leaderboard",
    "load_runs",
    "render_html",
    "results_frame",
    "write_report",
]
