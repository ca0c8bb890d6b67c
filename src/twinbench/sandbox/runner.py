"""The harness's side of the runner protocol: start the runner, send requests, read answers."""

from __future__ import annotations

import base64
import json
import os
import selectors
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from twinbench.sandbox.cgroup import SandboxCgroup
from twinbench.sandbox.types import ExecRequest, ExecResult

RUNNER_SOURCE = (Path(__file__).parent / "runner_main.py").read_text(encoding="utf-8")
# beyond the run's own wall limit: making the work dir, collecting files, exporting a build tree
RESPONSE_GRACE_S = 30.0
STARTUP_TIMEOUT_S = 60.0
EXIT_AFTER_EOF_S = 5.0


class RunnerProcess:
    """One live runner (inside bwrap or not); a wedged or dead runner becomes a sandbox_error."""

    def __init__(self, command: list[str], pass_fds: tuple[int, ...] = (), cgroup: SandboxCgroup | None = None) -> None:
        # the sandbox's cgroup (the runner joined it through one of `pass_fds`); removed when the runner is
        self.cgroup = cgroup
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            start_new_session=True,
            close_fds=True,
            pass_fds=pass_fds,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._stdin = self._process.stdin
        self._stdout = self._process.stdout
        os.set_blocking(self._stdout.fileno(), False)
        self._buffer = bytearray()
        self._stdout_closed = False

    def run(self, request: ExecRequest) -> ExecResult:
        """Send one request and wait for its answer."""
        payload = {
            "argv": request.argv,
            "env": request.env,
            "stdin": base64.b64encode(request.stdin).decode(),
            "files": {name: base64.b64encode(data).decode() for name, data in request.files.items()},
            "collect": request.collect,
            "limits": request.limits.model_dump(),
        }
        try:
            self._stdin.write(json.dumps(payload).encode() + b"\n")
            self._stdin.flush()
        except (BrokenPipeError, OSError):
            return ExecResult(sandbox_error=self._died("sandbox runner is gone"), runner_died=True)
        line = self._read_line(request.limits.wall_s + RESPONSE_GRACE_S)
        if line is None:
            exited = self._exited()  # before _died, which kills whatever is left
            return ExecResult(sandbox_error=self._died("sandbox runner did not answer"), runner_died=exited)
        try:
            return _result_from(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            return ExecResult(sandbox_error=f"sandbox runner sent a malformed answer: {exc}")

    def _read_line(self, timeout_s: float) -> bytes | None:
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(self._stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    return None
                chunk = self._stdout.read(1 << 20)
                if not chunk:
                    self._stdout_closed = True
                    return None
                self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line

    def _exited(self) -> bool:
        """Whether the runner ended on its own. Its stdout reaches end-of-file a moment before the process
        can be reaped, so after an end-of-file give it a short while rather than calling it wedged."""
        if self._stdout_closed:
            try:
                self._process.wait(timeout=EXIT_AFTER_EOF_S)
            except subprocess.TimeoutExpired:
                pass
        return self._process.poll() is not None

    def _died(self, what: str) -> str:
        self.kill()
        self._log.seek(0)
        tail = self._log.read()[-2000:].decode(errors="replace").strip().splitlines()
        detail = tail[-1] if tail else f"exit status {self._process.returncode}"
        return f"{what}: {detail}"

    @property
    def alive(self) -> bool:
        """Still able to take requests."""
        return self._process.poll() is None

    def close(self) -> None:
        """Ask the runner to finish, then make sure it and everything under it is gone."""
        try:
            self._stdin.close()
            self._process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()
        self._stdout.close()
        self._log.close()
        if self.cgroup is not None:
            self.cgroup.remove()

    def kill(self) -> None:
        """Kill the runner's whole session; inside bwrap this ends the pid namespace."""
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._process.wait()


def _result_from(answer: dict[str, Any]) -> ExecResult:
    if answer.get("error"):
        return ExecResult(sandbox_error=str(answer["error"]))
    if "exit_code" not in answer:  # the run never started: its tree was refused
        return ExecResult(crash_reason=str(answer["crash_reason"]))
    files = {name: None if data is None else base64.b64decode(data) for name, data in answer["files"].items()}
    return ExecResult(
        exit_code=answer["exit_code"],
        signal=answer["signal"],
        timed_out=answer["timed_out"],
        left_running=bool(answer.get("left_running")),
        stdout=base64.b64decode(answer["stdout"]),
        stderr=base64.b64decode(answer["stderr"]),
        stdout_truncated=answer["stdout_truncated"],
        stderr_truncated=answer["stderr_truncated"],
        files=files,
        seconds=answer["seconds"],
        exec_error=answer.get("exec_error"),
        crash_reason=answer.get("crash_reason"),
        export_error=answer.get("export_error"),
        restart=bool(answer.get("restart")),
    )
