"""Data that crosses the sandbox boundary: what to run, and what happened."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from twinbench.formats import Limits
from twinbench.sandbox.machine import MACHINE_CPUS


class WorkdirMode(StrEnum):
    """How each run's work dir is made from the session's tree."""

    link = "link"  # hard links to a sealed master copy: fast, files of the tree are read-only
    copy = "copy"  # a full writable copy: what a build needs


class SessionConfig(BaseModel):
    """Everything fixed for the life of a sandbox session."""

    model_config = ConfigDict(frozen=True)

    tree: Path | None = Field(default=None, description="directory copied into every run's work dir")
    workdir_mode: WorkdirMode = WorkdirMode.link
    export_dir: Path | None = Field(default=None, description="the work dir is copied to <export_dir>/tree after a run")
    hidden_paths: tuple[Path, ...] = Field(default=(), description="files the candidate must not see (the reference)")
    private_dirs: tuple[Path, ...] = Field(default=(), description="directories hidden entirely (tasks, results)")
    disk_mb: int = 512
    synthetic_etc: bool = Field(
        default=True,
        description="bwrap: fixed /etc/passwd, group, hostname and hosts, so no expectation depends on the host",
    )
    machine_cpus: int = Field(
        default=MACHINE_CPUS,
        ge=1,
        description="the CPUs each run is pinned to and its /sys and /proc report (sandbox/machine.py); the "
        "host-dependence probe asks for another count",
    )


class ExecRequest(BaseModel):
    """One command to run in a fresh work dir."""

    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    stdin: bytes = b""
    files: dict[str, bytes] = Field(default_factory=dict)
    collect: list[str] = Field(
        default_factory=list,
        description="work-dir files to read back after the run; a name ending in / reads every file directly in it",
    )
    limits: Limits = Field(default_factory=Limits)


class ExecResult(BaseModel):
    """What the harness observed; errors are data, never exceptions."""

    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    left_running: bool = Field(
        default=False, description="processes the program started were still running when it exited (then killed)"
    )
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    files: dict[str, bytes | None] = Field(default_factory=dict)
    seconds: float = 0.0
    exec_error: str | None = Field(default=None, description="the program could not be started")
    sandbox_error: str | None = Field(default=None, description="the harness failed; not the candidate's doing")
    runner_died: bool = Field(default=False, description="the sandbox's runner vanished during the run")
    crash_reason: str | None = Field(
        default=None, description="the run ended the sandbox's way, by the candidate's doing (memory limit, say)"
    )
    export_error: str | None = Field(default=None, description="the work dir was not exported, and why")
    restart: bool = Field(default=False, description="the runner cannot serve another run; start a new one")

    @property
    def status(self) -> int | None:
        """Exit code, or minus the signal number for a process killed by a signal (as subprocess does)."""
        if self.exit_code is not None:
            return self.exit_code
        if self.signal is not None:
            return -self.signal
        return None

    @property
    def ok(self) -> bool:
        """Exited by itself with status 0."""
        return self.exit_code == 0 and not self.timed_out and self.sandbox_error is None
