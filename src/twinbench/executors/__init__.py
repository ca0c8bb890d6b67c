"""Where units of work run: one small seam (`Executor`), the local pool and Ray, and the driver's loop.

Commands build `Unit`s (a module-level function and plain data), pick an executor with `open_executor`
and hand both to `drive`, which skips finished units, retries lost attempts and counts. This package
imports `formats` only; it knows nothing of gradings or agents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.executors.drive import DEFAULT_MAX_ATTEMPTS, DriveInterrupted, ResultHandler, UnitTally, drive
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


def run_on_executor(
    settings: ExecutorSettings,
    units: Iterable[Unit],
    *,
    on_result: ResultHandler,
    on_failure: ResultHandler,
    on_interrupt: Callable[[int], None] | None = None,
) -> UnitTally:
    """`drive` on the executor the settings name, closed afterwards. Every unit runs: commands leave the
    finished ones out when they plan. DriveInterrupted (Ctrl-C) carries the tally so far."""
    pool = open_executor(settings)
    try:
        return drive(
            pool,
            units,
            is_finished=lambda _unit: False,
            on_result=on_result,
            on_failure=on_failure,
            on_interrupt=on_interrupt,
            max_attempts=settings.max_attempts,
        )
    finally:
        pool.close()


def lost_reason(outcome: UnitOutcome) -> str:
    """What a unit whose every attempt was lost is recorded with."""
    return f"harness error after {outcome.attempt} attempt(s): {outcome.error}"


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
    "lost_reason",
    "open_executor",
    "run_on_executor",
    "short_reason",
]
