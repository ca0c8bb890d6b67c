"""Options several commands share, and the defaults they take from the user's settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from twinbench.cli.errors import BadInput
from twinbench.formats import TaskDir, load_task
from twinbench.protocols import Sandbox
from twinbench.sandbox import BACKENDS, get_sandbox

BACKEND_NAMES = ", ".join(BACKENDS)

WorkersOption = Annotated[
    int, typer.Option("--workers", "-j", min=0, metavar="N", help="parallel sandboxes (0: one per core)")
]
SandboxOption = Annotated[str, typer.Option("--sandbox", metavar="BACKEND", help=f"isolation backend: {BACKEND_NAMES}")]


def default_workers(requested: int = 0) -> int:
    """`requested`, or one worker per core for 0."""
    return requested or max(1, os.cpu_count() or 1)


def task_and_sandbox(task: Path, sandbox_name: str) -> tuple[TaskDir, Sandbox]:
    """Load a task and pick a backend: an unknown name is the user's typo (2), an unusable backend the machine's (3)."""
    if sandbox_name not in BACKENDS:
        raise BadInput(f"unknown sandbox backend {sandbox_name!r}; choose one of: {', '.join(BACKENDS)}")
    return load_task(task), get_sandbox(sandbox_name)
