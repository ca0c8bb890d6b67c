"""Resource limits of one sandboxed run."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """Limits applied to every process of a run; exceeding one ends the run, never the harness."""

    model_config = ConfigDict(extra="forbid")

    wall_s: float = Field(default=10.0, gt=0, description="wall-clock seconds before everything is killed")
    cpu_s: int = Field(default=10, gt=0, description="CPU seconds per process (RLIMIT_CPU)")
    memory_mb: int = Field(default=1024, gt=0, description="address space per process (RLIMIT_AS)")
    file_size_mb: int = Field(default=64, gt=0, description="largest file a process may write (RLIMIT_FSIZE)")
    processes: int = Field(default=128, gt=0, description="processes of the candidate uid (RLIMIT_NPROC)")
    open_files: int = Field(default=256, gt=3, description="open file descriptors (RLIMIT_NOFILE)")
    output_bytes: int = Field(default=1 << 20, gt=0, description="stdout and stderr bytes kept, each")
    disk_mb: int = Field(default=512, gt=0, description="size of the sandbox's private /tmp, work dir included")


class ArchiveLimits(BaseModel):
    """Bounds on unpacking a submission archive on the host; crossing one refuses the archive as bad input."""

    model_config = ConfigDict(extra="forbid")

    max_mb: int = Field(default=2048, gt=0, description="bytes the archive may unpack to, tar headers included")
    max_members: int = Field(default=100_000, gt=0, description="files, directories and links in the archive")
    max_ratio: int = Field(
        default=200, gt=1, description="unpacked bytes per compressed byte, judged once 16 MiB are unpacked"
    )


class GradingLimits(BaseModel):
    """Limits of one grading as a whole, beyond those of each build and test run."""

    model_config = ConfigDict(extra="forbid")

    wall_s: float = Field(
        default=3600.0,
        gt=0,
        le=7 * 24 * 3600,
        description="wall-clock seconds for build and tests; tests not started by then are recorded not_run",
    )
    stop_after_timeouts: int = Field(
        default=10,
        ge=0,
        description="when the first N tests to finish all time out, the rest are recorded not_run (0: never)",
    )
    archive: ArchiveLimits = Field(default_factory=ArchiveLimits)
