"""Where units of work run: one small seam (`Executor`), the local pool and Ray, and the driver's loop.

Commands build `Unit`s (a module-level function and plain data), pick an executor with `open_executor`
and hand both to `drive`, which skips finished units, retries lost attempts and counts. This package
imports `formats` only; it knows nothing of gradings or agents.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.executors.drive import DEFAULT_MAX_ATTEMPTS, DriveInterrupted, UnitTally, drive
from twinbench.executors.local import LocalExecutor
from twinbench.executors.units import (
    SANDBOX_RESOURCE,
    Executor,
    ExecutorUnavailable,
    Unit,
    UnitFiles,
    UnitOutcome,
    UnitResources,
    UnitWorkspace,
    install_files,
    short_reason,
)


class ExecutorKind(StrEnum):
    """The executors a command can be told to use (`--executor`)."""

    local = "local"
    ray = "ray"


class ExecutorSettings(BaseModel):
    """`--executor`, `--ray-address`, `--shared-dir`, and how many units the local pool runs at once."""

    kind: ExecutorKind = ExecutorKind.local
    ray_address: str | None = None
    shared_dirs: tuple[Path, ...] = ()
    local_workers: int = Field(default=1, ge=1)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)


def open_executor(settings: ExecutorSettings) -> Executor:
    """The executor the settings name; raises ExecutorUnavailable (one line) when Ray cannot be used."""
    if settings.kind is ExecutorKind.ray:
        from twinbench.executors.ray import RayExecutor

        return RayExecutor(settings.ray_address, settings.shared_dirs)
    return LocalExecutor(settings.local_workers)


__all__ = [
    "SANDBOX_RESOURCE",
    "DriveInterrupted",
    "Executor",
    "ExecutorKind",
    "ExecutorSettings",
    "ExecutorUnavailable",
    "LocalExecutor",
    "Unit",
    "UnitFiles",
    "UnitOutcome",
    "UnitResources",
    "UnitTally",
    "UnitWorkspace",
    "drive",
    "install_files",
    "open_executor",
    "short_reason",
]
