"""The `twinbench` command line: a thin typer layer over the library, with one error boundary.

Each command group lives in a module of its own and this module puts them together. Commands raise; the
root command (root.TwinbenchGroup) turns an exception into one line on stderr and the exit code that
errors.py's table gives its type, the same in every command. A new group: a typer app in its own module,
added below with one `app.add_typer(...)` line.
"""

from __future__ import annotations

from twinbench.cli import agent, audit, collection, grade, programbench, report, task, testgen
from twinbench.cli import config as config_commands
from twinbench.cli.root import app

app.add_typer(task.task_app, name="task")
app.add_typer(testgen.suite_app, name="suite")
app.add_typer(agent.agent_app, name="agent")
app.add_typer(programbench.programbench_app, name="programbench")
app.add_typer(config_commands.config_app, name="config")
app.add_typer(collection.collection_app, name="collection")

__all__ = ["app", "audit", "grade", "main", "report"]


def main() -> None:
    """Entry point of `twinbench`: the root command's boundary (root.py) turns exceptions into exit codes."""
    app()
