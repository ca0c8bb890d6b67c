"""Reports over graded runs: load eval.json trees, rank runs, write JSON and a self-contained HTML page."""

from twinbench.report.html import render_html, write_report
from twinbench.report.load import (
    Audit,
    AuditFinding,
    FailingTest,
    GroupRate,
    Run,
    TaskResult,
    load_runs,
    results_frame,
)
from twinbench.report.rank import LeaderboardRow, aggregate_json, leaderboard

__all__ = [
    "Audit",
    "AuditFinding",
    "FailingTest",
    "GroupRate",
    "LeaderboardRow",
    "Run",
    "TaskResult",
    "aggregate_json",
    "leaderboard",
    "load_runs",
    "render_html",
    "results_frame",
    "write_report",
]
