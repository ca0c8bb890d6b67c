"""A sandbox session: a runner that serves many requests, or a fresh runner per request."""

from __future__ import annotations

import signal
from collections.abc import Callable

from twinbench.sandbox.cgroup import sandbox_memory_bytes
from twinbench.sandbox.runner import RunnerProcess
from twinbench.sandbox.types import ExecRequest, ExecResult


class RunnerSession:
    """Runs requests one at a time; a runner that fails is replaced before the next request."""

    def __init__(self, start_runner: Callable[[], RunnerProcess], persistent: bool, disk_mb: int = 0) -> None:
        self._start_runner = start_runner
        self._persistent = persistent
        self._disk_mb = disk_mb
        self._runner: RunnerProcess | None = None

    def run(self, request: ExecRequest) -> ExecResult:
        """Run one request in a fresh work dir."""
        if not self._persistent:
            runner = self._start_runner()
            try:
                result = self._accounted(runner, request)
            finally:
                runner.close()
            if result.runner_died:
                # this sandbox served only this run and the candidate shares the runner's uid here, so
                # a runner killed mid-run is the candidate's doing: a crash, not a harness failure
                return ExecResult(signal=signal.SIGKILL, runner_died=True, seconds=result.seconds)
            return result
        if self._runner is None or not self._runner.alive:
            self._runner = self._start_runner()
        result = self._accounted(self._runner, request)
        if result.sandbox_error is not None or result.restart:
            self._runner.close()
            self._runner = None
        return result

    def _accounted(self, runner: RunnerProcess, request: ExecRequest) -> ExecResult:
        """Run with the sandbox's cgroup limited for this request; a kill for its memory is the run's crash."""
        if runner.cgroup is None:
            return runner.run(request)
        runner.cgroup.apply(request.limits, self._disk_mb)
        result = runner.run(request)
        killed = runner.cgroup.new_oom_kills()
        if killed and result.sandbox_error is None:
            bound = sandbox_memory_bytes(request.limits, self._disk_mb) >> 20
            reason = (
                f"memory limit: the sandbox held more than {bound} MB (its processes, /tmp and /dev/shm together); "
                f"the kernel killed {killed} process{'es' if killed > 1 else ''}"
            )
            return result.model_copy(update={"crash_reason": reason})
        return result

    def close(self) -> None:
        """Stop the runner; nothing it started survives."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def __enter__(self) -> RunnerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
