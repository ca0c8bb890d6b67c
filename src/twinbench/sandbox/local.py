"""The opt-in `unsafe-local` backend: no isolation at all, for debugging a submission by hand."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

from twinbench.sandbox.cgroup import RLIMIT_ONLY
from twinbench.sandbox.launcher import ensure_launcher
from twinbench.sandbox.machine import pick_cpus
from twinbench.sandbox.runner import RUNNER_SOURCE, RunnerProcess
from twinbench.sandbox.runner_main import CleanupFailed, RunnerConfig, remove_tree
from twinbench.sandbox.session import RunnerSession
from twinbench.sandbox.types import SessionConfig


class UnsafeLocalSession(RunnerSession):
    """Runners on the host, each in a private temp dir of its own, all removed when the session closes."""

    def __init__(self, config: SessionConfig) -> None:
        super().__init__(self._start, persistent=True)
        self._config = config
        self._scratches: list[Path] = []

    def _start(self) -> RunnerProcess:
        # a runner replaced after a run left what it could not remove must not inherit that run's leftovers
        scratch = Path(tempfile.mkdtemp(prefix="twinbench-local-"))
        self._scratches.append(scratch)
        return RunnerProcess(runner_command(self._config, scratch))

    def close(self) -> None:
        """Stop the runner and remove its temp dirs."""
        super().close()
        for scratch in self._scratches:
            # whatever depth a run left there (a runner that died did not clean up): no recursion
            with contextlib.suppress(OSError, CleanupFailed):
                remove_tree(str(scratch))


class UnsafeLocalSandbox:
    """Runs as the current user with limits and process-group cleanup, but no namespaces and nothing hidden."""

    name = "unsafe-local"
    isolated = False
    # for debugging by hand: no cgroup either, only the launcher's rlimits
    memory_accounting = RLIMIT_ONLY

    def problem(self) -> str | None:
        """Always usable."""
        return None

    def open(self, config: SessionConfig) -> UnsafeLocalSession:
        """Start a runner on the host."""
        return UnsafeLocalSession(config)


def runner_command(config: SessionConfig, scratch: Path) -> list[str]:
    """The command that starts a runner keeping its state in `scratch`."""
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
        # pinned like a sandbox, but the host's /sys and /proc still say how many CPUs it has (see machine.py)
        cpus=list(pick_cpus(config.machine_cpus)),
    )
    return [sys.executable, "-I", "-S", "-B", "-c", RUNNER_SOURCE, json.dumps(runner_config)]
