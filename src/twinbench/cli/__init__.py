"""The `twinbench` command line: a thin typer layer over the library, with one error boundary in `main()`.

Each command group lives in a module of its own; this module puts them together and owns how the process
ends: commands raise, and `main()` turns an exception into one line on stderr and an exit code (errors.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from typer._click import Command

from twinbench.cli import agent, audit, grade, programbench, report, task, testgen
from twinbench.cli import config as config_commands
from twinbench.cli.conventions import polish
from twinbench.cli.errors import classify
from twinbench.cli.output import error_line
from twinbench.cli.root import app

app.add_typer(task.task_app, name="task")
app.add_typer(testgen.suite_app, name="suite")
app.add_typer(agent.agent_app, name="agent")
app.add_typer(programbench.programbench_app, name="programbench")
app.add_typer(config_commands.config_app, name="config")

__all__ = ["app", "audit", "build_command", "grade", "main", "report"]


def build_command() -> Command:
    """The click command tree of `app`, with the shared conventions applied (metavars, --version everywhere)."""
    command = typer.main.get_command(app)
    polish(command)
    return command


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run a command; the exception table decides the exit code, and no user mistake shows a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = config_commands.load()
        build_command().main(
            args=args, prog_name="twinbench", default_map=config_commands.default_map(settings), standalone_mode=True
        )
    except Exception as exc:  # the one place that decides how the process ends; a bug keeps its traceback
        _exit_for(exc)
        raise
    except KeyboardInterrupt as exc:
        _exit_for(exc)
        raise


def _exit_for(exc: BaseException) -> None:
    """Exit with the table's code and one line for a known exception; return for a bug (it is re-raised)."""
    found = classify(exc)
    if found is None:
        return
    code, message = found
    error_line(message)
    sys.exit(int(code))
