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
