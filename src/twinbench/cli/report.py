"""`twinbench report`: the leaderboard and per-task results of runs, as HTML or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from twinbench.cli.output import plural, say
from twinbench.cli.root import app


@app.command("report", epilog="Example: twinbench report runs/model-a runs/model-b -o report.html")
def report_command(
    run_dirs: Annotated[
        list[Path], typer.Argument(metavar="RUN_DIR...", help="run directories holding eval.json files (one run each)")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="the HTML file to write")] = Path(
        "report.html"
    ),
    title: Annotated[str, typer.Option("--title", metavar="TEXT", help="page title")] = "twinbench report",
    as_json: Annotated[
        bool, typer.Option("--json", help="print the aggregate as JSON instead of writing HTML")
    ] = False,
) -> None:
    """Leaderboard and per-task results of one or more runs, as one self-contained HTML file (or JSON)."""
    from twinbench.report import aggregate_json, leaderboard, load_runs, write_report

    if as_json:
        print(json.dumps(aggregate_json(load_runs(run_dirs)), indent=2))
        return
    runs = write_report(run_dirs, output, title)
    for row in leaderboard(runs):
        say(
            f"{row.rank}. {row.run}: {row.resolved} resolved, {row.near_resolved} near-resolved, "
            f"mean score {row.mean_score:.3f} over {plural(row.tasks_total, 'task')}"
        )
    say(f"report: {output}")
