"""The opt-in `unsafe-local` backend: no isolation at all, for debugging a submission by hand."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from twinbench.sandbox.launcher import ensure_launcher
from twinbench.sandbox.runner import RUNNER_SOURCE, RunnerProcess
from twinbench.sandbox.runner_main import RunnerConfig
from twinbench.sandbox.session import RunnerSession
from twinbench.sandbox.types import SessionConfig


class UnsafeLocalSession(RunnerSession):
    """A runner on the host in a private temp dir, removed when the session closes."""

    def __init__(self, command: list[str], scratch: Path) -> None:
        super().__init__(lambda: RunnerProcess(command), persistent=True)
        self._scratch = scratch

    def close(self) -> None:
        """Stop the runner and remove its temp dir."""
        super().close()
        shutil.rmtree(self._scratch, ignore_errors=True)


class UnsafeLocalSandbox:
    """Runs as the current user with limits and process-group cleanup, but no namespaces and nothing hidden."""

    name = "unsafe-local"
    isolated = False

    def problem(self) -> str | None:
        """Always usable."""
        return None

    def open(self, config: SessionConfig) -> UnsafeLocalSession:
        """Start a runner on the host."""
        scratch = Path(tempfile.mkdtemp(prefix="twinbench-local-"))
        tmp = scratch / "tmp"
        tmp.mkdir()
        launcher = ensure_launcher()
        runner_config = RunnerConfig(
            uid=None,
            gid=None,
            tree=str(config.tree) if config.tree is not None else None,
            master=str(scratch / "master"),
            work=str(scratch / "work"),
            home=str(scratch / "home"),
            scratch_dirs=[str(tmp)],
            keep=[],
            export=str(config.export_dir) if config.export_dir is not None else None,
            export_owner=(os.getuid(), os.getgid()),
            disk_bytes=config.disk_mb << 20,
            workdir_mode="copy",
            cleanup="process_group",
            one_shot=False,
            env_overrides={"HOME": str(scratch / "home"), "TMPDIR": str(tmp)},
            launcher=str(launcher) if launcher is not None else None,
            # no namespaces here: the host's IPC objects and mounts are the runs' too (see docs/architecture.md)
            new_ipc=False,
            noatime_mount=None,
            cgroup_fds=[],
        )
        command = [sys.executable, "-I", "-S", "-B", "-c", RUNNER_SOURCE, json.dumps(runner_config)]
        return UnsafeLocalSession(command, scratch)
