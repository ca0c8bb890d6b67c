"""Units of work and the executor seam: what a command hands an executor, and what comes back.

A unit is a module-level function of plain picklable data (one agent run, one grading, one suite build).
It runs in a scratch directory on whichever worker takes it and writes only there; its outputs come back
to the driver as data (`UnitFiles`), and the driver alone writes the output directory.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from twinbench.sandbox.disk import mark_owner, sweep_stale

# the custom resource marking Ray nodes that can run bwrap sandboxes as root (`ray start --resources=...`)
SANDBOX_RESOURCE = "twinbench_sandbox"
# a unit's scratch directory: inputs/<name> (shipped inputs) and out/ (what comes back to the driver)
SCRATCH_PREFIX = "twinbench-unit-"


class ExecutorUnavailable(Exception):
    """The executor cannot start (Ray missing, no cluster at the address, no sandbox-capable node); one line."""


class UnitResources(BaseModel):
    """What one unit needs of the worker that runs it."""

    cpus: float = Field(default=1.0, gt=0)
    memory_mb: int = Field(default=0, ge=0, description="reserved memory; 0 reserves none")
    sandbox: bool = Field(default=True, description="needs a node able to run bwrap sandboxes as root")


@dataclass(frozen=True)
class UnitWorkspace:
    """Where a unit runs: its inputs (paths on this worker), its output dir, and the batch's stop signal."""

    inputs: dict[str, Path]
    out: Path
    scratch: Path  # holds inputs and out: hide it from anything the unit sandboxes
    stop: threading.Event = field(default_factory=threading.Event)


UnitFunction = Callable[[Any, UnitWorkspace], Any]


@dataclass(frozen=True)
class Unit:
    """One unit of work: `function(payload, workspace)`; both must pickle (a module-level function, plain data).

    `inputs` names the directories or files it reads; an executor makes them reachable on the worker
    (the same path locally or under a shared dir, a copy through Ray's object store otherwise).
    """

    key: str
    function: UnitFunction
    payload: Any
    inputs: dict[str, Path] = field(default_factory=dict)
    resources: UnitResources = field(default_factory=UnitResources)


@dataclass(frozen=True)
class UnitFiles:
    """A unit's output directory on its way back: a directory on the driver's machine, or a tar in memory."""

    directory: Path | None = None
    tar: bytes | None = None
    scratch: Path | None = None  # the worker's scratch dir holding `directory`, removed once it is installed


@dataclass(frozen=True)
class UnitOutcome:
    """One attempt of a unit: its returned value and files, or why it produced none (`error`)."""

    key: str
    attempt: int
    value: Any = None
    files: UnitFiles | None = None
    error: str | None = None  # the worker died, the unit raised, or it was cancelled
    cancelled: bool = False  # never started, or stopped by an interrupt: not a failure, not retried


class Executor(Protocol):
    """Runs units somewhere; the driver (`drive`) submits, gathers and retries through this seam."""

    name: str

    def submit(self, unit: Unit, attempt: int) -> None:
        """Start (or queue) one attempt of a unit."""
        ...

    def gather(self) -> Iterator[UnitOutcome]:
        """Outcomes as attempts finish, in any order, until nothing is in flight (more may be submitted meanwhile)."""
        ...

    def interrupt(self) -> int:
        """Ctrl-C: cancel what has not started, ask running units to stop; gather() then drains them.

        Returns how many units were running."""
        ...

    def close(self) -> None:
        """Release the workers."""
        ...


# scratch dirs of this process to their owner-file descriptors: the lock tells other workers they are in use
_scratch_owners: dict[Path, int] = {}
_scratch_lock = threading.Lock()


def new_scratch() -> Path:
    """A fresh scratch directory for one unit on this worker (in TMPDIR: never the driver's output dir).

    Claimed with a locked owner file, so that the next unit on the worker removes the scratch dirs of units
    whose process was killed (a lost Ray worker, a driver killed with -9), which no `finally` removes."""
    sweep_stale(prefixes=(SCRATCH_PREFIX,))
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    owner = mark_owner(scratch)
    with _scratch_lock:
        _scratch_owners[scratch] = owner
    return scratch


def remove_scratch(scratch: Path) -> None:
    """Delete a scratch dir made by new_scratch, then give up its claim."""
    shutil.rmtree(scratch, ignore_errors=True)
    with _scratch_lock:
        owner = _scratch_owners.pop(scratch, None)
    if owner is not None:
        os.close(owner)


def execute_unit(
    function: UnitFunction, payload: Any, inputs: dict[str, Path], scratch: Path, stop: threading.Event
) -> Any:
    """Run one unit with `scratch`/out as its output dir; returns the unit's value (its files stay in out/)."""
    out = scratch / "out"
    out.mkdir()
    return function(payload, UnitWorkspace(inputs=inputs, out=out, scratch=scratch, stop=stop))


def pack_path(path: Path) -> bytes:
    """A file or a directory (under its own name) as an uncompressed tar in memory; links stay links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(path, arcname=path.name)
    return buffer.getvalue()


def pack_dir(directory: Path) -> bytes:
    """A directory as an uncompressed tar in memory (links kept as links, never followed)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for entry in sorted(directory.iterdir()):
            tar.add(entry, arcname=entry.name)
    return buffer.getvalue()


def unpack_tar(data: bytes, target: Path) -> None:
    """Extract a tar made by `pack_dir` into `target` (members outside it or absolute are refused)."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        tar.extractall(target, filter="tar")


def install_files(files: UnitFiles, target: Path) -> None:
    """Make `target` exactly the unit's output directory: replaced whole, never merged with an earlier attempt.

    The new tree is assembled beside the target and renamed into place, so an interrupted driver leaves
    either the old tree, the new one, or none (and a re-run redoes the unit), never a mix.
    """
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    for leftover in parent.glob(f".{target.name}.*.twinbench-tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    incoming = Path(tempfile.mkdtemp(prefix=f".{target.name}.in-", suffix=".twinbench-tmp", dir=parent))
    if files.directory is not None:
        os.rmdir(incoming)
        shutil.move(str(files.directory), incoming)
        if files.scratch is not None:
            remove_scratch(files.scratch)
    elif files.tar is not None:
        unpack_tar(files.tar, incoming)
    old = parent / f".{target.name}.old-{os.getpid()}.twinbench-tmp"
    if target.exists() or target.is_symlink():
        os.replace(target, old)  # leftovers of this name were removed above
    os.replace(incoming, target)
    shutil.rmtree(old, ignore_errors=True)


def short_reason(exc: BaseException) -> str:
    """An exception as one line: its type and the first 300 characters of its message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
