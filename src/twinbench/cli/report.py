"""`twinbench report`: the leaderboard and per-task results of runs, as HTML, as JSON, or served live."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from twinbench.cli.errors import BadInput
from twinbench.cli.output import plural, say, warn
from twinbench.cli.root import app

if TYPE_CHECKING:
    from twinbench.report import Run
    from twinbench.report.serve import LiveReport


@app.command("report", epilog="Example: twinbench report runs/model-a runs/model-b -o report.html")
def report_command(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="run directories holding eval.json files (one run each)", metavar="RUN_DIR...")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="the HTML file to write")] = Path("report.html"),
    title: Annotated[str, typer.Option("--title", help="page title")] = "twinbench report",
    as_json: Annotated[
        bool, typer.Option("--json", help="print the aggregate as JSON instead of writing HTML")
    ] = False,
    rank_flagged: Annotated[
        bool,
        typer.Option("--rank-flagged", help="rank runs the audit flagged high or critical (by default listed apart)"),
    ] = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="serve the report on HTTP and refresh it as results change (Ctrl-C stops)")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="port for --serve (0: any free port)", min=0, max=65535)] = 8000,
    host: Annotated[str, typer.Option("--host", help="address for --serve")] = "127.0.0.1",
) -> None:
    """Leaderboard and per-task results of one or more runs, as one self-contained HTML file (or JSON).

    Example: twinbench report runs/model-a runs/model-b -o report.html; or --serve to watch a batch live.
    """
    from twinbench.report import aggregate_json, load_runs, write_report

    if serve:
        _serve(run_dirs, title, rank_flagged=rank_flagged, host=host, port=port)
        return
    # a FormatError (NoResults included: nothing to report is the user's input too) exits 2 at the boundary
    if as_json:
        runs = load_runs(run_dirs)
        _warn_empty(runs)
        print(json.dumps(aggregate_json(runs, rank_flagged=rank_flagged), indent=2))
        return
    runs = write_report(run_dirs, output, title, rank_flagged=rank_flagged)
    _warn_empty(runs)
    _say_leaderboard(runs, rank_flagged=rank_flagged)
    say(f"report: {output}")


def _warn_empty(runs: list[Run]) -> None:
    for run in runs:
        if not run.results:
            warn(f"warning: no eval.json under {run.path}: {run.label} scores 0 on every task")


def _say_leaderboard(runs: list[Run], rank_flagged: bool) -> None:
    from twinbench.report import leaderboard

    for row in leaderboard(runs, rank_flagged=rank_flagged):
        figures = (
            f"{row.resolved} resolved, {row.near_resolved} near-resolved, mean score {row.mean_score:.3f} over "
            f"{plural(row.tasks_total, 'task')}"
        )
        flag = f" [flagged {row.flag.severity}: {row.flag.rule} on {row.flag.task}]" if row.flag else ""
        if row.rank is None:
            say(f"not ranked: {row.run}{flag}: {figures}")
        else:
            say(f"{row.rank}. {row.run}{flag}: {figures}")


def _serve(run_dirs: list[Path], title: str, *, rank_flagged: bool, host: str, port: int) -> None:
    """Serve until Ctrl-C, re-rendering when results change; a missing run dir or a busy port is one line."""
    from twinbench.report.serve import LiveReport, ReportServer

    for path in run_dirs:  # a typo should not start a server that waits forever for nothing
        if not path.exists():
            raise BadInput(f"{path}: no such directory")
    live = LiveReport(run_dirs, title, rank_flagged=rank_flagged)
    try:
        server = ReportServer(live, host, port)
    except OSError as exc:
        raise BadInput(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    stop = threading.Event()
    # `kill` (SIGTERM) stops as cleanly as Ctrl-C: a served report is usually ended by a script or a service
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        with server:
            say(f"serving {server.url} (Ctrl-C stops); watching {', '.join(str(path) for path in run_dirs)}")
            _say_update(live)
            try:
                server.watch(stop, _say_update)
            except KeyboardInterrupt:
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    say("stopped")


def _say_update(live: LiveReport) -> None:
    results = sum(len(run.results) for run in live.runs)
    what = f"error: {live.problem}" if live.problem else plural(results, "result")
    say(f"{time.strftime('%H:%M:%S')} report version {live.version}: {what}")
